// A tiny RGB canvas and PNG writer for the demos (no dependencies: the image
// data is stored uncompressed inside a valid zlib stream).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace demo {

struct Canvas {
  int width, height;
  std::vector<std::uint8_t> rgb;
  Canvas(int w, int h) : width(w), height(h), rgb(static_cast<std::size_t>(w) * h * 3, 255) {}

  void set(int x, int y, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    std::uint8_t* p = &rgb[(static_cast<std::size_t>(y) * width + x) * 3];
    p[0] = r, p[1] = g, p[2] = b;
  }
  // A grayscale image (values in [0, 1], row-major h x w), scaled up by `zoom`.
  void gray(int x0, int y0, const float* v, int w, int h, int zoom) {
    for (int y = 0; y < h * zoom; ++y)
      for (int x = 0; x < w * zoom; ++x) {
        const float f = std::clamp(v[(y / zoom) * w + x / zoom], 0.0f, 1.0f);
        const auto c = static_cast<std::uint8_t>(std::lround(f * 255));
        set(x0 + x, y0 + y, c, c, c);
      }
  }
  void line(double x0, double y0, double x1, double y1, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    const int n = static_cast<int>(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
    for (int i = 0; i <= n; ++i) {
      const double t = static_cast<double>(i) / n;
      set(static_cast<int>(std::lround(x0 + t * (x1 - x0))), static_cast<int>(std::lround(y0 + t * (y1 - y0))), r, g, b);
    }
  }
  // A line plot of log10(values) in the box (x0, y0, w, h), with a frame.
  void log_curve(int x0, int y0, int w, int h, const std::vector<double>& values) {
    line(x0, y0, x0 + w, y0, 0, 0, 0);
    line(x0, y0 + h, x0 + w, y0 + h, 0, 0, 0);
    line(x0, y0, x0, y0 + h, 0, 0, 0);
    line(x0 + w, y0, x0 + w, y0 + h, 0, 0, 0);
    if (values.size() < 2) return;
    double lo = 1e300, hi = -1e300;
    for (double v : values) {
      const double l = std::log10(std::max(v, 1e-12));
      lo = std::min(lo, l), hi = std::max(hi, l);
    }
    if (hi - lo < 1e-9) hi = lo + 1;
    auto px = [&](std::size_t i) { return x0 + 2 + (w - 4) * static_cast<double>(i) / (values.size() - 1); };
    auto py = [&](double v) { return y0 + 2 + (h - 4) * (hi - std::log10(std::max(v, 1e-12))) / (hi - lo); };
    for (std::size_t i = 1; i < values.size(); ++i) line(px(i - 1), py(values[i - 1]), px(i), py(values[i]), 200, 30, 30);
  }
};

namespace png_detail {
inline std::uint32_t crc32(const std::uint8_t* d, std::size_t n, std::uint32_t c = 0xFFFFFFFFu) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t v = i;
      for (int k = 0; k < 8; ++k) v = (v & 1) ? 0xEDB88320u ^ (v >> 1) : v >> 1;
      t[i] = v;
    }
    return t;
  }();
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ d[i]) & 0xFF] ^ (c >> 8);
  return c;
}
inline void be32(std::vector<std::uint8_t>& o, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) o.push_back(static_cast<std::uint8_t>(v >> s));
}
inline void chunk(std::vector<std::uint8_t>& out, const char* type, const std::vector<std::uint8_t>& data) {
  be32(out, static_cast<std::uint32_t>(data.size()));
  std::vector<std::uint8_t> body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  out.insert(out.end(), body.begin(), body.end());
  be32(out, crc32(body.data(), body.size()) ^ 0xFFFFFFFFu);
}
}  // namespace png_detail

// Writes the canvas as an 8-bit RGB PNG.
inline void write_png(const Canvas& c, const std::string& path) {
  using namespace png_detail;
  std::vector<std::uint8_t> raw;  // each row: filter byte 0, then RGB
  for (int y = 0; y < c.height; ++y) {
    raw.push_back(0);
    raw.insert(raw.end(), c.rgb.begin() + static_cast<std::ptrdiff_t>(y) * c.width * 3,
               c.rgb.begin() + static_cast<std::ptrdiff_t>(y + 1) * c.width * 3);
  }
  std::vector<std::uint8_t> z{0x78, 0x01};  // zlib header, then stored deflate blocks
  std::uint32_t a = 1, b = 0;
  for (std::uint8_t v : raw) a = (a + v) % 65521, b = (b + a) % 65521;
  for (std::size_t pos = 0; pos < raw.size() || pos == 0;) {
    const std::size_t n = std::min<std::size_t>(65535, raw.size() - pos);
    const bool last = pos + n == raw.size();
    z.push_back(last ? 1 : 0);
    z.push_back(static_cast<std::uint8_t>(n & 0xFF));
    z.push_back(static_cast<std::uint8_t>(n >> 8));
    z.push_back(static_cast<std::uint8_t>(~n & 0xFF));
    z.push_back(static_cast<std::uint8_t>((~n >> 8) & 0xFF));
    z.insert(z.end(), raw.begin() + static_cast<std::ptrdiff_t>(pos), raw.begin() + static_cast<std::ptrdiff_t>(pos + n));
    pos += n;
    if (last) break;
  }
  be32(z, (b << 16) | a);
  std::vector<std::uint8_t> out{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<std::uint8_t> ihdr;
  be32(ihdr, static_cast<std::uint32_t>(c.width));
  be32(ihdr, static_cast<std::uint32_t>(c.height));
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // 8-bit, RGB
  chunk(out, "IHDR", ihdr);
  chunk(out, "IDAT", z);
  chunk(out, "IEND", {});
  std::ofstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot write " + path);
  f.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
}

}  // namespace demo
