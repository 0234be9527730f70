// Stride-phase decomposition of a transposed convolution along one axis.
//
// Output o receives input i through tap k when o = i*s - pad + k*d. Writing
// o + pad = q*s + r (0 <= r < s), the taps that reach phase r are those with
// k*d = r (mod s), and each reads input i = q - off with off = (k*d - r)/s.
// So every phase is a dense stride-1 correlation over q: no multiplication by
// an inserted zero.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "conv_geometry.h"

namespace lucid::kernels {

inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return -floor_div(-a, b); }

// The gradients' y rows split by phase along the last axis (YRows, and the
// depthwise kernels' sizes): element j of phase r holds y[(j - B) * s2 + r],
// B = y_phase_lead rows of lead so that every tap k2 reads element i + c of
// some phase for x position i, with c >= 0 at most y_phase_reach.
inline std::int64_t y_phase_lead(const ConvGeom& g) { return std::max<std::int64_t>(0, ceil_div(g.pad[2], g.s[2])); }
inline std::int64_t y_phase_reach(const ConvGeom& g) {
  const std::int64_t B = y_phase_lead(g), s2 = g.s[2];
  std::int64_t cmax = 0;
  for (std::int64_t k2 = 0; k2 < g.k[2]; ++k2) cmax = std::max(cmax, (k2 * g.d[2] - g.pad[2] + B * s2) / s2);
  return cmax;
}

struct AxisPhase {
  std::int64_t r = 0;   // the phase
  std::int64_t q0 = 0;  // first q whose output lies in [0, Y)
  std::int64_t Q = 0;   // number of such q
  std::vector<std::int64_t> k, off;  // the taps of this phase and their input offsets
  std::int64_t o(std::int64_t q, std::int64_t s, std::int64_t pad) const { return q * s + r - pad; }
};

inline std::vector<AxisPhase> axis_phases(const ConvGeom& g, int a) {
  std::vector<AxisPhase> out;
  const std::int64_t s = g.s[a], pad = g.pad[a];
  for (std::int64_t r = 0; r < s; ++r) {
    AxisPhase p;
    p.r = r;
    p.q0 = ceil_div(pad - r, s);
    p.Q = std::max<std::int64_t>(0, ceil_div(g.y[a] + pad - r, s) - p.q0);
    for (std::int64_t k = 0; k < g.k[a]; ++k)
      if ((k * g.d[a]) % s == r) {
        p.k.push_back(k);
        p.off.push_back((k * g.d[a] - r) / s);
      }
    out.push_back(std::move(p));
  }
  return out;
}

// The range of i in [0, X) for which i*s - pad + k*d lands in [0, Y).
inline void valid_inputs(std::int64_t X, std::int64_t Y, std::int64_t s, std::int64_t pad, std::int64_t kd,
                         std::int64_t& lo, std::int64_t& hi) {
  lo = std::max<std::int64_t>(0, ceil_div(pad - kd, s));
  hi = std::min<std::int64_t>(X, ceil_div(Y + pad - kd, s));
  if (hi < lo) hi = lo;
}

// A growing per-thread scratch buffer: kept between calls so that a steady
// state allocates (and page-faults) nothing.
template <class T>
T* thread_scratch(std::size_t count, int slot);


}  // namespace lucid::kernels
