#include <omp.h>

#include <string>

#include "lucid/error.h"
#include "lucid/threading.h"

namespace lucid {

void set_num_threads(int n) {
  if (n < 1)
    throw ValueError("[set_num_threads] n=" + std::to_string(n) + " must be at least 1");
  omp_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

}  // namespace lucid
