#include <cstring>
#include <ostream>
#include <set>
#include <sstream>

#include "lucid/autograd.h"
#include "lucid/error.h"
#include "lucid/nn/module.h"

namespace lucid::nn {

Parameter::Parameter(const Tensor& data, bool requires_grad) : Tensor(data.detach()) {
  set_requires_grad(requires_grad);
}

Tensor Module::forward(const Tensor&) {
  throw Error("[" + type_name() + ".forward] forward is not implemented; override it in your Module");
}

Tensor& Module::register_parameter(const std::string& name, Tensor& member, bool requires_grad) {
  if (name.empty() || name.find('.') != std::string::npos)
    throw ValueError("[Module.register_parameter] name='" + name + "' must be non-empty and contain no '.'");
  for (auto& [n, p] : params_)
    if (n == name) throw ValueError("[Module.register_parameter] name='" + name + "' is already registered");
  if (member.defined() && member.is_leaf()) member.set_requires_grad(requires_grad);
  params_.emplace_back(name, &member);
  return member;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  if (!module) throw TypeError("[Module.register_module] module '" + name + "' is null");
  if (name.empty() || name.find('.') != std::string::npos)
    throw ValueError("[Module.register_module] name='" + name + "' must be non-empty and contain no '.'");
  for (auto& [n, m] : children_)
    if (n == name) throw ValueError("[Module.register_module] name='" + name + "' is already registered");
  children_.emplace_back(name, std::move(module));
}

StateDict Module::named_parameters(bool recurse) const {
  StateDict out;
  for (auto& [n, p] : params_)
    if (p->defined()) out.emplace_back(n, *p);
  if (recurse)
    for (auto& [cn, c] : children_)
      for (auto& [n, p] : c->named_parameters(true)) out.emplace_back(cn + "." + n, p);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, p] : named_parameters(recurse)) out.push_back(p);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (auto& [n, c] : children_) out.push_back(c);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const { return children_; }

std::vector<std::shared_ptr<Module>> Module::modules() const {
  std::vector<std::shared_ptr<Module>> out;
  for (auto& [n, c] : children_) {
    out.push_back(c);
    for (auto& m : c->modules()) out.push_back(m);
  }
  return out;
}

StateDict Module::state_dict() const { return named_parameters(true); }

void Module::load_state_dict(const StateDict& state, bool strict) {
  const StateDict own = state_dict();
  std::set<std::string> given;
  for (auto& [n, t] : state) given.insert(n);
  std::vector<std::string> missing, unexpected;
  for (auto& [n, t] : own)
    if (!given.count(n)) missing.push_back(n);
  std::set<std::string> owned;
  for (auto& [n, t] : own) owned.insert(n);
  for (auto& [n, t] : state)
    if (!owned.count(n)) unexpected.push_back(n);
  if (strict && (!missing.empty() || !unexpected.empty())) {
    std::string msg = "[Module.load_state_dict] the state does not match the module:";
    auto list = [&](const char* what, const std::vector<std::string>& v) {
      if (v.empty()) return;
      msg += std::string(" ") + what + " keys";
      for (std::size_t i = 0; i < v.size(); ++i) msg += (i ? ", '" : " '") + v[i] + "'";
      msg += ";";
    };
    list("missing", missing);
    list("unexpected", unexpected);
    throw ValueError(msg);
  }
  // Check every shape first so that nothing changes when one is wrong.
  for (auto& [n, t] : state) {
    for (auto& [on, ot] : own) {
      if (on != n) continue;
      if (!t.defined())
        throw TypeError("[Module.load_state_dict] '" + n + "' is undefined (None)");
      if (t.shape() != ot.shape())
        throw ValueError("[Module.load_state_dict] '" + n + "' has shape " + t.shape().str() +
                         " in the state but " + ot.shape().str() + " in the module");
    }
  }
  NoGradGuard ng;
  for (auto& [n, t] : state) {
    for (auto& [on, ot] : own) {
      if (on != n) continue;
      const Tensor src = t.dtype() == ot.dtype() ? t : t.cast(ot.dtype());
      const std::size_t bytes = static_cast<std::size_t>(ot.numel()) * dtype_size(ot.dtype());
      if (src.raw_data() != ot.raw_data()) std::memmove(ot.raw_data(), src.raw_data(), bytes);
    }
  }
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad() {
  for (auto& [n, p] : named_parameters(true)) p.zero_grad();
}

std::string Module::repr() const {
  std::ostringstream os;
  os << type_name() << '(' << extra_repr();
  if (!children_.empty()) {
    os << '\n';
    for (auto& [n, c] : children_) {
      std::string sub = c->repr();
      std::string indented;
      for (char ch : sub) indented += ch == '\n' ? std::string("\n  ") : std::string(1, ch);
      os << "  (" << n << "): " << indented << '\n';
    }
  }
  os << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Module& m) { return os << m.repr(); }

}  // namespace lucid::nn
