// lucid/lucid.h — everything: tensors, autograd, ops, convolutions, nn.
#pragma once

#include "lucid/autograd.h"
#include "lucid/conv.h"
#include "lucid/dtype.h"
#include "lucid/error.h"
#include "lucid/io.h"
#include "lucid/loss.h"
#include "lucid/nn.h"
#include "lucid/ops.h"
#include "lucid/optim.h"
#include "lucid/random.h"
#include "lucid/shape.h"
#include "lucid/tensor.h"
#include "lucid/threading.h"
