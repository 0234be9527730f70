// lucid/nn.h — modules, parameters and initialisers.
#pragma once

#include "lucid/nn/init.h"
#include "lucid/nn/module.h"
#include "lucid/nn/modules.h"
