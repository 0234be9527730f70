// fuzz_kernels: random geometries through the dispatched kernel entry points
// (conv_scatter with and without bias, conv_gather, conv_weight_grad and
// conv_transpose_backward with all three gradients), float32 and float64,
// against the plain-loop references, each result bitwise the same on 1 and
// on P threads (2 unless --threads says; more threads than cores is fine,
// and stands in for a larger machine). A test that can run for as long as
// one likes:
//
//   fuzz_kernels [--seed S] [--cases N] [--seconds T] [--large] [--threads P]
//
// stops after N cases or T seconds, whichever comes first (N defaults to 200
// without --seconds, and to no limit with it).
// Without --large the problems are small and varied: 1-D, 2-D and 3-D,
// groups, depthwise, k < s, k = s, dilation, padding past the taps, y cut
// short or long. With --large they are big enough for the blocked, one-pass
// and channels kernels (8 to 64 channels, rows of 2 to 48): k = s
// partitions along every axis, short rows of many channels, and axes drawn
// one by one from k = s, stride 1 with dilation 1 or 2, stride 2 with k = 4
// and any.
// LUCID_ISA=avx2 or base narrows the kernels as for the other tests. Prints
// each failing geometry and exits 1 if any failed.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/conv.h"

namespace k = lucid::kernels;
using k::ConvGeom;
using k::testing::bias_grad_reference;
using k::testing::rand_vec;
using k::testing::rel_err;
using k::testing::sizes;

namespace {

std::mt19937 rng;
int r(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
long long ll(std::int64_t v) { return static_cast<long long>(v); }

std::string describe(const ConvGeom& g) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "N=%lld Cx=%lld Cy=%lld groups=%lld x=(%lld,%lld,%lld) y=(%lld,%lld,%lld) k=(%lld,%lld,%lld) "
                "s=(%lld,%lld,%lld) d=(%lld,%lld,%lld) pad=(%lld,%lld,%lld)",
                ll(g.N), ll(g.Cx), ll(g.Cy), ll(g.groups), ll(g.x[0]), ll(g.x[1]), ll(g.x[2]), ll(g.y[0]), ll(g.y[1]),
                ll(g.y[2]), ll(g.k[0]), ll(g.k[1]), ll(g.k[2]), ll(g.s[0]), ll(g.s[1]), ll(g.s[2]), ll(g.d[0]),
                ll(g.d[1]), ll(g.d[2]), ll(g.pad[0]), ll(g.pad[1]), ll(g.pad[2]));
  return buf;
}

// Small and varied: the last 1 to 3 axes set, the others 1.
ConvGeom small_geom() {
  ConvGeom g;
  g.groups = r(0, 4) == 0 ? r(2, 4) : 1;
  const int cmax = r(0, 2) == 0 ? 8 : 48;
  g.Cx = g.groups * r(1, cmax / static_cast<int>(g.groups) + 1);
  g.Cy = g.groups * (r(0, 3) == 0 ? 16 * r(1, 3) : r(1, cmax / static_cast<int>(g.groups) + 1));
  if (r(0, 5) == 0) g.Cx = g.Cy = g.groups = g.groups * r(2, 16);  // depthwise
  g.N = r(1, 3);
  const int dims = r(0, 3) == 0 ? r(1, 2) : 3;
  for (int a = 3 - dims; a < 3; ++a) {
    g.k[a] = r(1, 5);
    g.s[a] = r(0, 2) == 0 ? g.k[a] : r(1, 4);
    g.d[a] = r(0, 3) == 0 ? r(2, 3) : 1;
    g.x[a] = a == 2 ? r(1, 40) : r(1, 14);
    const int span = static_cast<int>(g.d[a] * (g.k[a] - 1));
    g.pad[a] = r(0, 3) == 0 ? r(0, span + 2) : std::min(r(0, 2), span);
    const std::int64_t full = (g.x[a] - 1) * g.s[a] + span + 1;
    g.y[a] = full - 2 * g.pad[a] + r(0, static_cast<int>(std::max(g.s[a], g.d[a])) - 1);
    if (r(0, 6) == 0) g.y[a] = full - g.pad[a] + r(-3, 3);  // y cut short or long
  }
  return g;
}

// Large enough for the blocked, one-pass and channels kernels, in three
// families:
// - one case in four partitions y along every axis (k = s, no padding, y
//   exactly x * s: the U-Net up-convolutions), which shapes drawn axis by
//   axis meet one time in 64; with few y channels and long rows of x, so
//   that the one-pass backward's copies of the weight gradient fit its
//   bound and it takes them;
// - one in four has short rows of x (2 to 5) and 48 to 128 channels in
//   whole vectors of 8, the GAN decoders' shape, whose weights are large
//   enough against x for the channels backward's chunks to fit its bound
//   (it and the channels forward take them);
// - the rest draw each axis's shape on its own.
ConvGeom large_geom() {
  ConvGeom g;
  g.groups = r(0, 5) == 0 ? 2 : 1;
  const int family = r(0, 3);
  const bool partition = family == 0, channels = family == 1;
  g.Cx = g.groups * (channels ? 8 * r(6, 16) : r(8, 64));
  g.Cy = g.groups * (partition ? r(4, 16) : channels ? 8 * r(6, 16) : r(0, 1) ? 16 * r(1, 4) : r(8, 64));
  g.N = r(1, 2);
  for (int a = 0; a < 3; ++a) {
    const int shape = partition ? 0 : r(0, 3);  // k = s; stride 1, dilation 1 or 2; stride 2, k = 4; any
    g.k[a] = shape == 0 ? r(1, partition ? 2 : 3) : shape == 1 ? 3 : shape == 2 ? 4 : r(1, 5);
    g.s[a] = shape == 0 ? g.k[a] : shape == 1 ? 1 : shape == 2 ? 2 : r(1, 3);
    g.d[a] = shape == 1 ? r(1, 2) : (shape == 3 && r(0, 3) == 0 ? 2 : 1);
    g.x[a] = partition ? (a == 2 ? r(8, 48) : r(4, 16)) : channels ? r(2, 5) : a == 2 ? r(4, 40) : r(2, 12);
    const int span = static_cast<int>(g.d[a] * (g.k[a] - 1));
    g.pad[a] = shape == 0 ? 0 : r(0, span);
    const std::int64_t full = (g.x[a] - 1) * g.s[a] + span + 1;
    g.y[a] = full - 2 * g.pad[a] + (!partition && r(0, 4) == 0 ? r(0, static_cast<int>(std::max(g.s[a], g.d[a])) - 1) : 0);
  }
  return g;
}

// Within the references' reach (and, large, past the kernels' thresholds).
bool wanted(const ConvGeom& g, bool large) {
  for (int a = 0; a < 3; ++a)
    if (g.y[a] < 1) return false;
  const double work = g.macs();
  if (large) return work > 2e6 && work < 1.5e8;
  return work > 1e3 && work < 3e7 && static_cast<double>(g.N * g.Cy * g.y_spatial()) < 4e6;
}

template <class T>
bool check(const ConvGeom& g, bool with_bias, int many) {
  const auto [nx, ny, nw] = sizes(g);
  auto x = rand_vec<T>(nx, rng), y = rand_vec<T>(ny, rng), w = rand_vec<T>(nw, rng);
  auto bias = rand_vec<T>(static_cast<std::size_t>(g.Cy), rng);
  const T* b = with_bias ? bias.data() : nullptr;
  std::vector<T> want_y(ny), want_x(nx), want_w(nw);
  const std::vector<T> want_b = bias_grad_reference(g, y);
  k::conv_scatter_reference<T>(g, x.data(), w.data(), b, want_y.data());
  k::conv_gather_reference<T>(g, y.data(), w.data(), nullptr, want_x.data());
  k::conv_weight_grad_reference<T>(g, x.data(), y.data(), want_w.data());
  const double tol = sizeof(T) == 4 ? 1e-5 : 1e-12;
  const char* dtype = sizeof(T) == 4 ? "float32" : "float64";
  const char* names[6] = {"forward", "backward gx", "backward gw", "backward gb", "gather", "weight grad"};
  const std::vector<T>* wants[6] = {&want_y, &want_x, &want_w, &want_b, &want_x, &want_w};
  std::vector<T> got[2][6];
  bool ok = true;
  for (int run = 0; run < 2; ++run) {
    const int threads = run == 0 ? 1 : many;
    omp_set_num_threads(threads);
    std::vector<T>(&o)[6] = got[run];
    for (int i = 0; i < 6; ++i) o[i].assign(wants[i]->size(), T(7));  // every element must be written
    k::conv_scatter<T>(g, x.data(), w.data(), b, o[0].data());
    k::conv_transpose_backward<T>(g, x.data(), w.data(), y.data(), o[1].data(), o[2].data(), o[3].data());
    k::conv_gather<T>(g, y.data(), w.data(), nullptr, o[4].data());
    k::conv_weight_grad<T>(g, x.data(), y.data(), o[5].data());
    for (int i = 0; i < 6; ++i) {
      const double err = rel_err(o[i], *wants[i]);
      if (!(err <= tol)) {
        std::printf("FAIL %s %s%s on %d thread(s): relative error %.3g; %s\n", dtype, names[i],
                    i == 0 && with_bias ? " with bias" : "", threads, err, describe(g).c_str());
        ok = false;
      }
    }
  }
  for (int i = 0; i < 6; ++i)
    if (std::memcmp(got[0][i].data(), got[1][i].data(), got[0][i].size() * sizeof(T)) != 0) {
      std::printf("FAIL %s %s differs between 1 and %d threads; %s\n", dtype, names[i], many, describe(g).c_str());
      ok = false;
    }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned seed = 1;
  std::optional<long> cases;
  std::optional<double> seconds;
  bool large = false;
  int threads = 2;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--large") large = true;
    else if (i + 1 < argc && a == "--seed") seed = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    else if (i + 1 < argc && a == "--cases") cases = std::strtol(argv[++i], nullptr, 10);
    else if (i + 1 < argc && a == "--seconds") seconds = std::strtod(argv[++i], nullptr);
    else if (i + 1 < argc && a == "--threads" && std::atoi(argv[i + 1]) >= 2) threads = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr,
                   "usage: fuzz_kernels [--seed S] [--cases N] [--seconds T] [--large] [--threads P >= 2] (got '%s')\n",
                   a.c_str());
      return 2;
    }
  }
  const long max_cases = cases ? *cases : seconds ? std::numeric_limits<long>::max() : 200;
  const double max_seconds = seconds.value_or(std::numeric_limits<double>::infinity());
  rng.seed(seed);
  const auto t0 = std::chrono::steady_clock::now();
  long done = 0, failed = 0;
  while (done < max_cases &&
         std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < max_seconds) {
    const ConvGeom g = large ? large_geom() : small_geom();
    if (!wanted(g, large)) continue;
    const bool with_bias = r(0, 1) == 1;
    const bool ok = r(0, 2) == 0 ? check<double>(g, with_bias, threads) : check<float>(g, with_bias, threads);
    ++done;
    failed += ok ? 0 : 1;
  }
  std::printf("fuzz_kernels: %ld %s cases, seed %u, kernels %s, 1 and %d threads: %ld failed\n", done,
              large ? "large" : "small", seed, k::kernel_isa(), threads, failed);
  return failed ? 1 : 0;
}
