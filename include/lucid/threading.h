// lucid/threading.h — how many threads lucid's kernels use.
//
// Results do not depend on the thread count: every output element is
// computed by one thread, in a fixed order.
#pragma once

namespace lucid {

// n >= 1; throws ValueError otherwise. Defaults to the cores available.
void set_num_threads(int n);
int get_num_threads();

}  // namespace lucid
