// lucid/io.h — saving and loading named tensors (a Module's state_dict) in
// the safetensors format: an 8-byte little-endian header length, a JSON
// header {"name": {"dtype": "F32"|"F64", "shape": [...], "data_offsets": [begin, end]}, ...},
// then the raw little-endian data. Other tools (the safetensors package,
// PyTorch's loaders) read these files.
//
//   lucid::save(model->state_dict(), "model.safetensors");
//   model->load_state_dict(lucid::load("model.safetensors"));
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "lucid/tensor.h"

namespace lucid {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Writes to a temporary file beside `path`, flushes it, then renames it over
// `path`: a crash mid-save leaves any previous file intact. Throws lucid::Error
// (with the path and the system's reason) when the file cannot be written.
void save(const NamedTensors& tensors, const std::string& path);
// Reads a file written by save (or any float32/float64 safetensors file), in
// the order of the data. Throws ValueError for a missing, truncated or
// malformed file and TypeError for a dtype lucid does not support, naming the
// path and what is wrong.
NamedTensors load(const std::string& path);

}  // namespace lucid
