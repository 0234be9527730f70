#include "lucid/error.h"
#include "lucid/nn/modules.h"

namespace lucid::nn {

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) {
  for (auto& m : modules) append(m);
}

void Sequential::append(std::shared_ptr<Module> module) { add_child(std::to_string(size()), std::move(module)); }

std::shared_ptr<Module> Sequential::operator[](std::size_t i) const {
  const auto c = children();
  if (i >= c.size())
    throw ValueError("[Sequential] index " + std::to_string(i) + " is out of range for " +
                     std::to_string(c.size()) + " modules");
  return c[i];
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (auto& m : children()) x = m->forward(x);
  return x;
}

}  // namespace lucid::nn
