// The backward engine: reverse topological order over the recorded nodes,
// summing the gradients that reach each node before it runs.
#include <algorithm>
#include <functional>
#include <unordered_map>
#include <unordered_set>

#include "lucid/error.h"
#include "tensor_impl.h"

namespace lucid {
namespace {

thread_local bool g_grad_enabled = true;

// dst += src, elementwise; both the same shape. The engine's only arithmetic.
void accumulate_into(Tensor& dst, const Tensor& src) {
  const std::int64_t n = dst.numel();
  if (dst.dtype() == DType::Float32) {
    float* d = dst.data<float>();
    const float* s = src.data<float>();
    for (std::int64_t i = 0; i < n; ++i) d[i] += s[i];
  } else {
    double* d = dst.data<double>();
    const double* s = src.data<double>();
    for (std::int64_t i = 0; i < n; ++i) d[i] += s[i];
  }
}

// Conforms a gradient to what an edge expects (dtype and shape).
Tensor conform(Tensor g, const Edge& e, const Node& from) {
  if (g.shape() != e.shape)
    throw AutogradError("[backward] " + from.name() + " produced a gradient of shape " +
                        g.shape().str() + " for an input of shape " + e.shape.str());
  return g.dtype() == e.dtype ? g : g.cast(e.dtype);
}

// True when nothing else refers to g or its memory, so a slot may keep it.
bool exclusive(const Tensor& g) { return g.impl_ptr().use_count() == 1 && g.impl()->storage.use_count() == 1; }

// Adds g into the slot; the slot owns its memory (never aliases anything
// else), so later contributions can be added in place.
void add_to_slot(Tensor& slot, Tensor&& g) {
  if (!slot.defined())
    slot = exclusive(g) ? std::move(g) : g.clone();
  else
    accumulate_into(slot, g);
}

void add_to_leaf(TensorImpl& leaf, Tensor&& g) {
  Tensor current(leaf.grad);
  leaf.grad.reset();
  add_to_slot(current, std::move(g));
  leaf.grad = current.impl_ptr();
}

}  // namespace

bool is_grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool enabled) { g_grad_enabled = enabled; }

bool Node::connect(const std::vector<Tensor>& inputs) {
  edges_.clear();
  bool any = false;
  for (const Tensor& t : inputs) {
    Edge e;
    if (t.defined()) {
      e.dtype = t.dtype();
      e.shape = t.shape();
      if (g_grad_enabled && t.requires_grad()) {
        if (t.grad_fn())
          e.fn = t.grad_fn();
        else
          e.leaf = t.impl_ptr();
        any = true;
      }
    }
    edges_.push_back(std::move(e));
  }
  return any;
}

Tensor record(Tensor output, std::shared_ptr<Node> node, const std::vector<Tensor>& inputs) {
  if (node->connect(inputs)) output.set_grad_fn(std::move(node));
  return output;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  if (!impl_) throw TypeError("[backward] the tensor is undefined");
  if (!impl_->requires_grad)
    throw AutogradError(
        "[backward] the tensor does not require grad and has no grad_fn; set requires_grad on "
        "an input first");
  Tensor seed;
  if (gradient.defined()) {
    if (gradient.shape() != shape())
      throw ValueError("[backward] gradient has shape " + gradient.shape().str() +
                       " but the tensor has shape " + shape().str());
    seed = gradient.dtype() == dtype() ? gradient : gradient.cast(dtype());
  } else {
    seed = Tensor::ones(shape(), {.dtype = dtype()});
  }

  NoGradGuard no_grad;
  if (!impl_->grad_fn) {  // a leaf: its gradient is the seed
    add_to_leaf(*impl_, std::move(seed));
    return;
  }

  // Topological order (iterative DFS, post-order), then reverse it.
  std::vector<Node*> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<Node*, std::size_t>> stack{{impl_->grad_fn.get(), 0}};
  seen.insert(impl_->grad_fn.get());
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (node->released())
      throw AutogradError(
          "[backward] trying to backward through the graph a second time (through " +
          node->name() +
          "); its saved tensors were freed by the first backward. Pass retain_graph=true to the "
          "first backward if you need a second one");
    const auto& edges = node->edges();
    if (next < edges.size()) {
      Node* child = edges[next].fn.get();
      ++next;
      if (child && seen.insert(child).second) stack.push_back({child, 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  std::reverse(order.begin(), order.end());

  std::unordered_map<Node*, Tensor> pending;
  pending[impl_->grad_fn.get()] = std::move(seed);
  for (Node* node : order) {
    auto it = pending.find(node);
    if (it == pending.end()) continue;  // no gradient reached it
    Tensor g = std::move(it->second);
    pending.erase(it);
    std::vector<Tensor> grads = node->apply(g);
    const auto& edges = node->edges();
    for (std::size_t i = 0; i < edges.size() && i < grads.size(); ++i) {
      const Edge& e = edges[i];
      if (!e.needed() || !grads[i].defined()) continue;
      Tensor gi = conform(std::move(grads[i]), e, *node);
      if (e.fn)
        add_to_slot(pending[e.fn.get()], std::move(gi));
      else
        add_to_leaf(*e.leaf, std::move(gi));
    }
    if (!retain_graph) node->mark_released();
  }
}

}  // namespace lucid
