// bench_conv: every case of the shared suite, forward and backward. Each
// result is checked against the plain-loop reference kernels before it is
// timed; then lucid and oneDNN 2.6 (plain and blocked layouts) are timed in
// the same process. Prints one JSON object per case (bench/run.py reads them).
//
//   bench_conv CASES_JSON [--reps N] [--only NAME,...]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/conv.h"
#include "lucid/lucid.h"
#include "onednn_deconv.h"

using lucid::Tensor;

namespace {

struct Case {
  std::string name, label, dtype;
  std::int64_t N, Cin, Cout, I, k, s, p, op, d, g;
};

// Reads the "cases" array of cases.json: [name, label, N, Cin, Cout, I, k, s, p, op, d, g, dtype].
std::vector<Case> read_cases(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  std::size_t pos = text.find("\"cases\"");
  pos = text.find('[', pos) + 1;
  std::vector<Case> out;
  while (true) {
    const std::size_t open = text.find('[', pos), end = text.find(']', pos);
    if (open == std::string::npos || end < open) break;
    const std::size_t close = text.find(']', open);
    std::vector<std::string> fields;
    std::string cur;
    bool quoted = false;
    for (std::size_t i = open + 1; i < close; ++i) {
      const char c = text[i];
      if (c == '"') quoted = !quoted;
      else if (c == ',' && !quoted) { fields.push_back(cur); cur.clear(); }
      else if (quoted || !std::isspace(static_cast<unsigned char>(c))) cur += c;
    }
    fields.push_back(cur);
    auto I = [&](int i) { return std::stoll(fields[static_cast<std::size_t>(i)]); };
    out.push_back({fields[0], fields[1], fields[12], I(2), I(3), I(4), I(5), I(6), I(7), I(8), I(9), I(10), I(11)});
    pos = close + 1;
  }
  return out;
}

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

// Median of timed runs after two warm-up runs: `reps` of them, or more
// where those would take under kMinTimedMs (up to 2000), so that a call of
// a few microseconds is not judged on a few noisy samples; also the page
// faults per run.
struct Timing {
  double ms, faults;
};
constexpr double kMinTimedMs = 200;
Timing time_it(int reps, const std::function<void()>& f) {
  f();
  const double a0 = now_ms();
  f();
  const double once = std::max(now_ms() - a0, 1e-4);
  reps = std::max(reps, static_cast<int>(std::min(2000.0, std::ceil(kMinTimedMs / once))));
  std::vector<double> t;
  const long f0 = minor_faults();
  for (int i = 0; i < reps; ++i) {
    const double a = now_ms();
    f();
    t.push_back(now_ms() - a);
  }
  const long f1 = minor_faults();
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], static_cast<double>(f1 - f0) / reps};
}

double normwise(const Tensor& got, const Tensor& want) {
  double scale = 1e-300, err = 0;
  for (std::int64_t i = 0; i < want.numel(); ++i) {
    scale = std::max(scale, std::abs(want.flat(i)));
    err = std::max(err, std::abs(got.flat(i) - want.flat(i)));
  }
  return err / scale;
}

template <class T>
void reference(const lucid::kernels::ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& gy,
               Tensor& y, Tensor& gx, Tensor& gw, Tensor& gb) {
  namespace k = lucid::kernels;
  k::conv_scatter_reference<T>(g, x.data<T>(), w.data<T>(), b.data<T>(), y.data<T>());
  k::conv_gather_reference<T>(g, gy.data<T>(), w.data<T>(), nullptr, gx.data<T>());
  k::conv_weight_grad_reference<T>(g, x.data<T>(), gy.data<T>(), gw.data<T>());
  k::channel_sum<T>(g.N, g.Cy, g.y_spatial(), gy.data<T>(), gb.data<T>());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_conv CASES_JSON [--reps N] [--only NAME,...]\n");
    return 2;
  }
  int reps = 10;
  std::string only;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--reps") reps = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--only") only = "," + std::string(argv[i + 1]) + ",";
  }
  // Fixed cost of one call: a one-element transposed convolution, forward and backward.
  {
    Tensor x1 = Tensor::randn({1, 1, 1, 1, 1}, {.requires_grad = true});
    Tensor w1 = Tensor::randn({1, 1, 1, 1, 1}, {.requires_grad = true});
    Tensor g1 = Tensor::ones({1, 1, 1, 1, 1});
    Tensor y1 = lucid::conv_transpose3d(x1, w1);
    const Timing f = time_it(2001, [&] { Tensor t = lucid::conv_transpose3d(x1, w1); });
    const Timing b = time_it(2001, [&] { x1.zero_grad(); w1.zero_grad(); y1.backward(g1, true); });
    std::printf("{\"fixed_cost_us_fwd\": %.2f, \"fixed_cost_us_bwd\": %.2f}\n", f.ms * 1e3, b.ms * 1e3);
  }
  bool all_correct = true;
  for (const Case& c : read_cases(argv[1])) {
    if (!only.empty() && only.find("," + c.name + ",") == std::string::npos) continue;
    const auto dt = c.dtype == "float64" ? lucid::DType::Float64 : lucid::DType::Float32;
    lucid::random::seed(1);
    Tensor x = Tensor::randn({c.N, c.Cin, c.I, c.I, c.I}, {.dtype = dt, .requires_grad = true});
    Tensor w = Tensor::randn({c.Cin, c.Cout / c.g, c.k, c.k, c.k}, {.dtype = dt, .requires_grad = true});
    Tensor b = Tensor::randn({c.Cout}, {.dtype = dt, .requires_grad = true});
    auto op = [&] { return lucid::conv_transpose3d(x, w, b, c.s, c.p, c.op, c.d, c.g); };
    Tensor y = op();
    Tensor gy = Tensor::randn(y.shape(), {.dtype = dt});
    const std::int64_t O = y.shape()[2];

    // 1. Check against the reference kernels.
    lucid::kernels::ConvGeom g;
    g.N = c.N; g.Cx = c.Cin; g.Cy = c.Cout; g.groups = c.g;
    for (int a = 0; a < 3; ++a) {
      g.x[a] = c.I; g.y[a] = O; g.k[a] = c.k; g.s[a] = c.s; g.d[a] = c.d; g.pad[a] = c.p;
    }
    Tensor ry = Tensor::empty(y.shape(), {.dtype = dt}), rgx = Tensor::empty(x.shape(), {.dtype = dt});
    Tensor rgw = Tensor::empty(w.shape(), {.dtype = dt}), rgb = Tensor::empty(b.shape(), {.dtype = dt});
    if (dt == lucid::DType::Float32) reference<float>(g, x, w, b, gy, ry, rgx, rgw, rgb);
    else reference<double>(g, x, w, b, gy, ry, rgx, rgw, rgb);
    y.backward(gy, true);
    const double err = std::max({normwise(y, ry), normwise(x.grad(), rgx), normwise(w.grad(), rgw),
                                 normwise(b.grad(), rgb)});
    const double tol = dt == lucid::DType::Float32 ? 1e-5 : 1e-12;
    const bool correct = err <= tol;
    all_correct = all_correct && correct;

    // Bitwise the same with one thread.
    bool deterministic = true;
    {
      const int threads = lucid::get_num_threads();
      lucid::set_num_threads(1);
      x.zero_grad(); w.zero_grad(); b.zero_grad();
      Tensor y1 = op();
      y1.backward(gy);
      lucid::set_num_threads(threads);
      Tensor gx1 = x.grad(), gw1 = w.grad(), gb1 = b.grad();
      x.zero_grad(); w.zero_grad(); b.zero_grad();
      Tensor y2 = op();
      y2.backward(gy);
      auto same = [](const Tensor& a, const Tensor& c2) {
        return std::memcmp(a.raw_data(), c2.raw_data(), static_cast<std::size_t>(a.numel()) * lucid::dtype_size(a.dtype())) == 0;
      };
      deterministic = same(y1, y2) && same(gx1, x.grad()) && same(gw1, w.grad()) && same(gb1, b.grad());
    }
    all_correct = all_correct && deterministic;

    // 2. Extra memory of one call: the kernels' scratch, against the result's size.
    auto zero = [&] { x.zero_grad(); w.zero_grad(); b.zero_grad(); };
    const std::size_t es = lucid::dtype_size(dt);
    lucid::kernels::release_scratch();
    { Tensor t = op(); }
    const double extra_fwd = static_cast<double>(lucid::kernels::scratch_bytes()) / static_cast<double>(y.numel() * es);
    lucid::kernels::release_scratch();
    zero();
    y.backward(gy, true);
    const double extra_bwd = static_cast<double>(lucid::kernels::scratch_bytes()) /
                             static_cast<double>((x.numel() + w.numel() + b.numel()) * es);

    // 3. Time lucid (through the public API, as users call it).
    const Timing lf = time_it(reps, [&] { Tensor t = op(); });
    Tensor yb = op();
    const Timing lb = time_it(reps, [&] { zero(); yb.backward(gy, true); });

    // 4. Time oneDNN (float32 only: it has no float64 deconvolution).
    double dn[2][2] = {{NAN, NAN}, {NAN, NAN}};
    if (dt == lucid::DType::Float32) {
      const DeconvShape sh{c.N, c.Cin, c.Cout, c.g, c.I, O, c.k, c.s, c.p, c.op, c.d};
      Tensor ox = x.detach(), ow = w.detach(), ob = b.detach();
      Tensor oy = Tensor::empty(y.shape()), ogx = Tensor::empty(x.shape()), ogw = Tensor::empty(w.shape()),
             ogb = Tensor::empty(b.shape());
      for (int blocked = 0; blocked < 2; ++blocked) {
        OneDnnDeconv dnnl(sh, blocked == 1);
        dnnl.forward(ox.data<float>(), ow.data<float>(), ob.data<float>(), oy.data<float>());
        dnnl.backward(ox.data<float>(), ow.data<float>(), gy.data<float>(), ogx.data<float>(), ogw.data<float>(),
                      ogb.data<float>());
        const double derr = std::max({normwise(oy, ry), normwise(ogx, rgx), normwise(ogw, rgw), normwise(ogb, rgb)});
        if (derr > 1e-4) {
          std::fprintf(stderr, "oneDNN %s result differs on %s (%g); not timed\n", blocked ? "blocked" : "plain",
                       c.name.c_str(), derr);
          continue;
        }
        dn[blocked][0] = time_it(reps, [&] {
          dnnl.forward(ox.data<float>(), ow.data<float>(), ob.data<float>(), oy.data<float>());
        }).ms;
        dn[blocked][1] = time_it(reps, [&] {
          dnnl.backward(ox.data<float>(), ow.data<float>(), gy.data<float>(), ogx.data<float>(), ogw.data<float>(),
                        ogb.data<float>());
        }).ms;
      }
    }
    auto num = [](double v) { return std::isnan(v) ? std::string("null") : std::to_string(v); };
    std::printf(
        "{\"name\": \"%s\", \"dtype\": \"%s\", \"out\": %lld, \"correct\": %s, \"deterministic\": %s, \"max_err\": %.3g, "
        "\"lucid_fwd_ms\": %s, \"lucid_bwd_ms\": %s, \"faults_fwd\": %.1f, \"faults_bwd\": %.1f, "
        "\"extra_fwd\": %.4f, \"extra_bwd\": %.4f, \"onednn_plain_fwd_ms\": %s, \"onednn_plain_bwd_ms\": %s, "
        "\"onednn_blocked_fwd_ms\": %s, \"onednn_blocked_bwd_ms\": %s, \"threads\": %d, \"isa\": \"%s\", "
        "\"blas\": \"%s\"}\n",
        c.name.c_str(), c.dtype.c_str(), static_cast<long long>(O), correct ? "true" : "false",
        deterministic ? "true" : "false", err,
        num(lf.ms).c_str(), num(lb.ms).c_str(), lf.faults, lb.faults, extra_fwd, extra_bwd, num(dn[0][0]).c_str(),
        num(dn[0][1]).c_str(), num(dn[1][0]).c_str(), num(dn[1][1]).c_str(), lucid::get_num_threads(),
        lucid::kernels::kernel_isa(), "openblas");
    std::fflush(stdout);
  }
  return all_correct ? 0 : 1;
}
