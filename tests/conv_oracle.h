// An independent float64 transcription of the transposed-convolution
// definition (spec section 4), used as the oracle for lucid's ops. It shares
// no code with the library: output lengths, 'same' cropping and every sum are
// written here from the contract.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace oracle {

struct Case {
  int nd = 3;
  std::int64_t N = 1, Cin = 1, Cout = 1, groups = 1;
  std::vector<std::int64_t> L, k, s, p, op, d;  // per spatial axis
  std::string mode;                             // "", "same" or "valid"
  bool bias = true;
  bool unbatched = false;
};

// Low crop and output length per axis, from the contract.
inline void axis_geometry(const Case& c, std::size_t a, std::int64_t& lo, std::int64_t& len) {
  const std::int64_t L = c.L[a], k = c.k[a], s = c.s[a], d = c.d[a];
  if (c.mode == "same") {
    const std::int64_t t = d * (k - 1) + 1 - s;
    lo = t >= 0 ? t / 2 : 0;
    len = L * s;
  } else {
    const std::int64_t p = c.mode == "valid" ? 0 : c.p[a];
    lo = p;
    len = (L - 1) * s - 2 * p + d * (k - 1) + c.op[a] + 1;
  }
}

struct Dims {
  std::int64_t X[3] = {1, 1, 1}, Y[3] = {1, 1, 1}, K[3] = {1, 1, 1}, S[3] = {1, 1, 1}, D[3] = {1, 1, 1},
               P[3] = {0, 0, 0};
  std::int64_t xs() const { return X[0] * X[1] * X[2]; }
  std::int64_t ys() const { return Y[0] * Y[1] * Y[2]; }
  std::int64_t ks() const { return K[0] * K[1] * K[2]; }
};

inline Dims dims(const Case& c) {
  Dims m;
  for (int a = 0; a < c.nd; ++a) {
    const int t = 3 - c.nd + a;
    std::int64_t lo, len;
    axis_geometry(c, static_cast<std::size_t>(a), lo, len);
    m.X[t] = c.L[static_cast<std::size_t>(a)];
    m.Y[t] = len;
    m.K[t] = c.k[static_cast<std::size_t>(a)];
    m.S[t] = c.s[static_cast<std::size_t>(a)];
    m.D[t] = c.d[static_cast<std::size_t>(a)];
    m.P[t] = lo;
  }
  return m;
}

// Visits every (n, ci, co, x index, tap, y index) term of the definition.
template <class F>
void for_each_term(const Case& c, const Dims& m, F&& f) {
  const std::int64_t cig = c.Cin / c.groups, cog = c.Cout / c.groups;
  for (std::int64_t n = 0; n < c.N; ++n)
    for (std::int64_t ci = 0; ci < c.Cin; ++ci)
      for (std::int64_t col = 0; col < cog; ++col) {
        const std::int64_t co = (ci / cig) * cog + col;
        for (std::int64_t i0 = 0; i0 < m.X[0]; ++i0)
          for (std::int64_t i1 = 0; i1 < m.X[1]; ++i1)
            for (std::int64_t i2 = 0; i2 < m.X[2]; ++i2)
              for (std::int64_t k0 = 0; k0 < m.K[0]; ++k0)
                for (std::int64_t k1 = 0; k1 < m.K[1]; ++k1)
                  for (std::int64_t k2 = 0; k2 < m.K[2]; ++k2) {
                    const std::int64_t o0 = i0 * m.S[0] - m.P[0] + k0 * m.D[0];
                    const std::int64_t o1 = i1 * m.S[1] - m.P[1] + k1 * m.D[1];
                    const std::int64_t o2 = i2 * m.S[2] - m.P[2] + k2 * m.D[2];
                    if (o0 < 0 || o1 < 0 || o2 < 0 || o0 >= m.Y[0] || o1 >= m.Y[1] || o2 >= m.Y[2]) continue;
                    const std::int64_t xi = ((n * c.Cin + ci) * m.X[0] + i0) * m.X[1] * m.X[2] + i1 * m.X[2] + i2;
                    const std::int64_t wi = ((ci * cog + col) * m.K[0] + k0) * m.K[1] * m.K[2] + k1 * m.K[2] + k2;
                    const std::int64_t yi = ((n * c.Cout + co) * m.Y[0] + o0) * m.Y[1] * m.Y[2] + o1 * m.Y[2] + o2;
                    f(xi, wi, yi);
                  }
      }
}

struct Result {
  std::vector<double> y, gx, gw, gb;
};

// Forward and, given the upstream gradient gy, the three gradients.
inline Result evaluate(const Case& c, const std::vector<double>& x, const std::vector<double>& w,
                       const std::vector<double>& b, const std::vector<double>& gy) {
  const Dims m = dims(c);
  Result r;
  r.y.assign(static_cast<std::size_t>(c.N * c.Cout * m.ys()), 0.0);
  r.gx.assign(x.size(), 0.0);
  r.gw.assign(w.size(), 0.0);
  r.gb.assign(static_cast<std::size_t>(c.Cout), 0.0);
  for (std::int64_t n = 0; n < c.N; ++n)
    for (std::int64_t co = 0; co < c.Cout; ++co)
      for (std::int64_t o = 0; o < m.ys(); ++o) {
        const std::size_t yi = static_cast<std::size_t>((n * c.Cout + co) * m.ys() + o);
        if (c.bias) r.y[yi] = b[static_cast<std::size_t>(co)];
        r.gb[static_cast<std::size_t>(co)] += gy[yi];
      }
  for_each_term(c, m, [&](std::int64_t xi, std::int64_t wi, std::int64_t yi) {
    const auto X = static_cast<std::size_t>(xi), W = static_cast<std::size_t>(wi), Y = static_cast<std::size_t>(yi);
    r.y[Y] += x[X] * w[W];
    r.gx[X] += gy[Y] * w[W];
    r.gw[W] += x[X] * gy[Y];
  });
  return r;
}

}  // namespace oracle
