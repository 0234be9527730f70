// lucid/nn/module.h — Module and Parameter.
//
// A Module owns named parameters and named submodules, registered in the
// order they are added. Subclass it, register what you own, and override
// forward:
//
//   struct Decoder3D : lucid::nn::Module {
//     std::shared_ptr<lucid::nn::ConvTranspose3d> deconv;
//     Decoder3D() {
//       deconv = register_module("deconv", std::make_shared<lucid::nn::ConvTranspose3d>(8, 4, 4, 2, 1));
//     }
//     lucid::Tensor forward(const lucid::Tensor& x) override { return (*deconv)(x); }
//   };
//
// Parameter names are dotted paths ("deconv.weight"). Modules are neither
// copyable nor movable (the registry points at their members); hold them by
// std::shared_ptr.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lucid/tensor.h"

namespace lucid::nn {

// A tensor that a Module trains: a leaf with requires_grad = true that shares
// the data it was made from.
class Parameter : public Tensor {
 public:
  Parameter() = default;
  explicit Parameter(const Tensor& data, bool requires_grad = true);
};

// Ordered name -> tensor pairs.
using StateDict = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  // The computation. The default throws lucid::Error.
  virtual Tensor forward(const Tensor& input);
  Tensor operator()(const Tensor& input) { return forward(input); }

  // The module's type name ("ConvTranspose3d", "Sequential", ...).
  virtual std::string type_name() const { return "Module"; }
  // One line describing this module's configuration, e.g. "4, 2, kernel_size=(3, 3, 3)".
  virtual std::string extra_repr() const { return ""; }
  // The module tree, PyTorch style.
  std::string repr() const;

  std::vector<Tensor> parameters(bool recurse = true) const;
  StateDict named_parameters(bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  // This module's descendants, depth first (this module itself is not included
  // since it is not held by a shared_ptr here).
  std::vector<std::shared_ptr<Module>> modules() const;

  // Every parameter by dotted name, sharing memory with the module.
  StateDict state_dict() const;
  // Copies values into the module's parameters (converting dtype). With
  // strict, missing or unexpected names throw ValueError listing them; a
  // shape mismatch always throws. Nothing is changed when it throws.
  void load_state_dict(const StateDict& state, bool strict = true);

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Drops every parameter's gradient.
  void zero_grad();

  // Registers a parameter member under `name`; returns it. The module keeps a
  // pointer to the member, so assigning a new tensor to it later is seen.
  Tensor& register_parameter(const std::string& name, Tensor& member, bool requires_grad = true);
  // Registers a submodule under `name`; returns it.
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 protected:
  void add_child(const std::string& name, std::shared_ptr<Module> module);

 private:
  std::vector<std::pair<std::string, Tensor*>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

std::ostream& operator<<(std::ostream& os, const Module& m);

}  // namespace lucid::nn
