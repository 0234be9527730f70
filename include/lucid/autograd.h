// lucid/autograd.h — the reverse-mode graph.
//
// An op that is differentiable creates a Node, records the inputs it needs
// gradients for (Node::connect), and sets the node as the output's grad_fn.
// Tensor::backward walks the graph in reverse topological order, calling
// Node::apply once per node with the summed upstream gradient. Backward runs
// with gradient recording disabled.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lucid/tensor.h"

namespace lucid {

// Where a node sends the gradient for one of its inputs: into another node,
// or into a leaf tensor's .grad. Both empty: that input needs no gradient.
struct Edge {
  std::shared_ptr<Node> fn;
  std::shared_ptr<TensorImpl> leaf;
  DType dtype = DType::Float32;  // the input's dtype; gradients are cast to it
  Shape shape;                   // the input's shape; gradients must match it
  bool needed() const { return fn != nullptr || leaf != nullptr; }
};

class Node {
 public:
  virtual ~Node() = default;
  // The op's name, for error messages ("conv_transpose3d", "mul", ...).
  virtual std::string name() const = 0;
  // Gradients for each input, in connect() order, given the gradient of the
  // output. An undefined Tensor means "no gradient for this input".
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  // Frees what the node saved for backward.
  virtual void release_saved() {}

  // Records the inputs; returns true when any input needs a gradient (and
  // recording is enabled), i.e. when the output should get this node.
  bool connect(const std::vector<Tensor>& inputs);
  const std::vector<Edge>& edges() const { return edges_; }
  bool needs_grad(std::size_t input) const { return edges_[input].needed(); }
  bool released() const { return released_; }
  void mark_released() { release_saved(); released_ = true; }

 private:
  std::vector<Edge> edges_;
  bool released_ = false;
};

// Attaches `node` to `output` when any of `inputs` requires grad and grad
// mode is on. Returns output for chaining.
Tensor record(Tensor output, std::shared_ptr<Node> node, const std::vector<Tensor>& inputs);

bool is_grad_enabled();
void set_grad_enabled(bool enabled);

// RAII: disables gradient recording in its scope (like `with lucid.no_grad():`).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace lucid
