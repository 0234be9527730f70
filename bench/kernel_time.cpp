// kernel_time: one kernel entry point on one shape, timed in isolation (no
// tensors, no autograd, no peers), for comparing two builds of lucid on a
// noisy machine: run each build in turn, several times, and compare minima.
// The result is checked against the reference kernels first.
//
//   kernel_time N Cin Cout I k s p op d groups float32|float64 fwd|gather|wgrad|bias|bwd REPS
//
// fwd: conv_scatter (with bias); gather: conv_gather (the input gradient);
// wgrad: conv_weight_grad; bias: channel_sum (the bias gradient on its
// own); bwd: conv_transpose_backward (all three gradients). Prints the
// minimum and median wall time of REPS calls in ms.
//
// Timing starts no sooner than 0.3 s after the program started (the kernel
// is called until then): OpenBLAS starts a thread of its own when it loads,
// which spins for about 0.1 s before it sleeps, and on two cores it took
// turns with the kernel's second OpenMP thread, so that every call of a
// small kernel in that time took 8 ms (0.33 ms after).
//
// Its arrays start on 64-byte boundaries, as tensors' memory does (the
// kernels' streaming stores need 32-byte alignment).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "core/system_memory.h"
#include "kernels/conv.h"

namespace k = lucid::kernels;

namespace {

const auto started = std::chrono::steady_clock::now();

// Memory from 64-byte boundaries.
template <class T>
struct Aligned {
  using value_type = T;
  Aligned() = default;
  template <class U>
  Aligned(const Aligned<U>&) {}
  T* allocate(std::size_t n) {
    void* p = lucid::system_alloc((n * sizeof(T) + 63) / 64 * 64);  // the pages tensors get
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) { std::free(p); }
  template <class U>
  bool operator==(const Aligned<U>&) const { return true; }
};
template <class T>
using Buf = std::vector<T, Aligned<T>>;

double max_rel_err(const std::vector<double>& got, const std::vector<double>& want) {
  double err = 0, scale = 1e-30;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i])) return INFINITY;
    err = std::max(err, std::abs(got[i] - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return err / scale;
}

template <class T>
std::vector<double> widen(const Buf<T>& v) {
  return {v.begin(), v.end()};
}

// The bias gradient's reference: each y channel summed in double.
template <class T>
Buf<T> bias_grad_reference(const k::ConvGeom& g, const Buf<T>& y) {
  Buf<T> sums(static_cast<std::size_t>(g.Cy));
  k::channel_sum_reference<T>(g.N, g.Cy, g.y_spatial(), y.data(), sums.data());
  return sums;
}

template <class T>
int run(const k::ConvGeom& g, const std::string& op, int reps) {
  const std::size_t nx = static_cast<std::size_t>(g.N * g.Cx * g.x_spatial());
  const std::size_t ny = static_cast<std::size_t>(g.N * g.Cy * g.y_spatial());
  const std::size_t nw = static_cast<std::size_t>(g.Cx * g.cy_per_group() * g.taps());
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(-1, 1);
  auto fill = [&](Buf<T>& v) {
    for (T& e : v) e = static_cast<T>(u(rng));
  };
  Buf<T> x(nx), y(ny), w(nw), b(static_cast<std::size_t>(g.Cy)), gx(nx), gw(nw), gb(b.size());
  fill(x), fill(y), fill(w), fill(b);
  Buf<T> out;  // the result checked: y, x's gradient or w's gradient
  auto call = [&] {
    if (op == "fwd") k::conv_scatter<T>(g, x.data(), w.data(), b.data(), out.data());
    else if (op == "gather") k::conv_gather<T>(g, y.data(), w.data(), nullptr, out.data());
    else if (op == "wgrad") k::conv_weight_grad<T>(g, x.data(), y.data(), out.data());
    else if (op == "bias") k::channel_sum<T>(g.N, g.Cy, g.y_spatial(), y.data(), out.data());
    else k::conv_transpose_backward<T>(g, x.data(), w.data(), y.data(), out.data(), gw.data(), gb.data());
  };
  Buf<T> want;
  if (op == "fwd") {
    out.assign(ny, T(0));
    want.assign(ny, T(0));
    k::conv_scatter_reference<T>(g, x.data(), w.data(), b.data(), want.data());
  } else if (op == "wgrad") {
    out.assign(nw, T(0));
    want.assign(nw, T(0));
    k::conv_weight_grad_reference<T>(g, x.data(), y.data(), want.data());
  } else if (op == "bias") {
    out.assign(b.size(), T(0));
    want = bias_grad_reference(g, y);
  } else if (op == "gather" || op == "bwd") {
    out.assign(nx, T(0));
    want.assign(nx, T(0));
    k::conv_gather_reference<T>(g, y.data(), w.data(), nullptr, want.data());
  } else {
    std::fprintf(stderr, "kernel_time: unknown OP '%s': fwd, gather, wgrad, bias or bwd\n", op.c_str());
    return 2;
  }
  call();
  double err = max_rel_err(widen(out), widen(want));
  if (op == "bwd") {
    Buf<T> want_w(nw);
    k::conv_weight_grad_reference<T>(g, x.data(), y.data(), want_w.data());
    err = std::max(err, max_rel_err(widen(gw), widen(want_w)));
    err = std::max(err, max_rel_err(widen(gb), widen(bias_grad_reference(g, y))));
  }
  const double tol = sizeof(T) == 4 ? 1e-5 : 1e-12;
  if (!(err <= tol)) {
    std::fprintf(stderr, "result differs from the reference: relative error %.3g (tolerance %.0e)\n", err, tol);
    return 1;
  }
  while (std::chrono::steady_clock::now() - started < std::chrono::milliseconds(300)) call();
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    call();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const double flops = op == "bias" ? 0.0 : 2 * g.macs() * (op == "bwd" ? 2 : 1);
  std::printf("%s: min %.4f ms, median %.4f ms (%.1f GFLOP/s at the minimum), checked: relative error %.2g\n",
              op.c_str(), ms.front(), ms[ms.size() / 2], flops / ms.front() * 1e-6, err);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 14) {
    std::fprintf(stderr, "usage: kernel_time N Cin Cout I k s p op d groups float32|float64 fwd|gather|wgrad|bias|bwd REPS\n");
    return 2;
  }
  auto arg = [&](int i) { return std::atoll(argv[i]); };
  k::ConvGeom g;
  g.N = arg(1);
  g.Cx = arg(2);
  g.Cy = arg(3);
  g.groups = arg(10);
  const std::int64_t I = arg(4), kk = arg(5), s = arg(6), p = arg(7), op = arg(8), d = arg(9);
  const int reps = static_cast<int>(arg(13));
  if (g.N < 1 || g.Cx < 1 || g.Cy < 1 || g.groups < 1 || g.Cx % g.groups || g.Cy % g.groups || I < 1 || kk < 1 ||
      s < 1 || d < 1 || p < 0 || op < 0 || reps < 1) {
    std::fprintf(stderr, "kernel_time: sizes, kernel, stride, dilation, groups and REPS must be at least 1, padding "
                         "and output padding at least 0, channels a multiple of groups\n");
    return 2;
  }
  for (int a = 0; a < 3; ++a) {
    g.x[a] = I;
    g.k[a] = kk;
    g.s[a] = s;
    g.d[a] = d;
    g.pad[a] = p;
    g.y[a] = (I - 1) * s - 2 * p + d * (kk - 1) + op + 1;
    if (g.y[a] < 1) {
      std::fprintf(stderr, "kernel_time: output length %lld < 1\n", static_cast<long long>(g.y[a]));
      return 2;
    }
  }
  const std::string dtype = argv[11];
  if (dtype == "float32") return run<float>(g, argv[12], reps);
  if (dtype == "float64") return run<double>(g, argv[12], reps);
  std::fprintf(stderr, "kernel_time: dtype '%s': float32 or float64\n", dtype.c_str());
  return 2;
}
