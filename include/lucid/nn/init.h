// lucid/nn/init.h — in-place initialisers (not recorded by autograd).
#pragma once

#include "lucid/tensor.h"

namespace lucid::nn::init {

// Fills t with U(low, high) samples from the global generator.
void uniform_(Tensor& t, double low, double high);
void zeros_(Tensor& t);
void constant_(Tensor& t, double value);

}  // namespace lucid::nn::init
