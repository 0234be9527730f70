#include <cstring>

#include "lucid/error.h"
#include "lucid/nn/init.h"
#include "lucid/random.h"

namespace lucid::nn::init {

namespace {
void copy_into(Tensor& t, const Tensor& src) {
  std::memcpy(t.raw_data(), src.raw_data(), static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype()));
}
void require(const Tensor& t, const char* fn) {
  if (!t.defined()) throw TypeError(std::string("[init.") + fn + "] tensor is undefined (None)");
}
}  // namespace

void uniform_(Tensor& t, double low, double high) {
  require(t, "uniform_");
  copy_into(t, random::uniform(t.shape(), low, high, {.dtype = t.dtype()}));
}

void zeros_(Tensor& t) { constant_(t, 0.0); }

void constant_(Tensor& t, double value) {
  require(t, "constant_");
  copy_into(t, Tensor::full(t.shape(), value, {.dtype = t.dtype()}));
}

}  // namespace lucid::nn::init
