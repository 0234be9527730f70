// The safetensors format: header length, JSON header, raw data.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "lucid/error.h"
#include "lucid/io.h"

namespace lucid {
namespace {

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw ValueError("[load] " + path + ": " + what);
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      o += buf;
      continue;
    }
    o += c;
  }
  return o;
}

// A small JSON reader for the header: objects, arrays, strings, integers.
struct Json {
  enum Kind { Object, Array, String, Number, Other } kind = Other;
  std::vector<std::pair<std::string, Json>> members;
  std::vector<Json> items;
  std::string str;
  long long num = 0;
  const Json* get(const std::string& k) const {
    for (auto& [name, v] : members)
      if (name == k) return &v;
    return nullptr;
  }
};

class Parser {
 public:
  Parser(const std::string& text, const std::string& path) : t_(text), path_(path) {}
  Json parse() {
    Json v = value(0);
    ws();
    if (i_ != t_.size()) fail("trailing characters after the JSON header");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& m) { bad(path_, "malformed header: " + m); }
  void ws() {
    while (i_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[i_]))) ++i_;
  }
  char peek() {
    ws();
    if (i_ >= t_.size()) fail("unexpected end");
    return t_[i_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  Json value(int depth) {
    if (depth > 32) fail("nested too deeply");
    const char c = peek();
    Json v;
    if (c == '{') {
      v.kind = Json::Object;
      ++i_;
      if (peek() == '}') { ++i_; return v; }
      while (true) {
        std::string k = string();
        expect(':');
        v.members.emplace_back(std::move(k), value(depth + 1));
        if (peek() == ',') { ++i_; continue; }
        expect('}');
        return v;
      }
    }
    if (c == '[') {
      v.kind = Json::Array;
      ++i_;
      if (peek() == ']') { ++i_; return v; }
      while (true) {
        v.items.push_back(value(depth + 1));
        if (peek() == ',') { ++i_; continue; }
        expect(']');
        return v;
      }
    }
    if (c == '"') {
      v.kind = Json::String;
      v.str = string();
      return v;
    }
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      v.kind = Json::Number;
      std::size_t end = i_ + 1;
      while (end < t_.size() && std::isdigit(static_cast<unsigned char>(t_[end]))) ++end;
      try {
        v.num = std::stoll(t_.substr(i_, end - i_));
      } catch (const std::exception&) {
        fail("a number is out of range");
      }
      i_ = end;
      return v;
    }
    for (const char* word : {"true", "false", "null"})
      if (t_.compare(i_, std::strlen(word), word) == 0) {
        i_ += std::strlen(word);
        return v;
      }
    fail(std::string("unexpected character '") + c + "'");
  }
  std::string string() {
    expect('"');
    std::string s;
    while (true) {
      if (i_ >= t_.size()) fail("unterminated string");
      const char c = t_[i_++];
      if (c == '"') return s;
      if (c == '\\') {
        if (i_ >= t_.size()) fail("unterminated string");
        const char e = t_[i_++];
        switch (e) {
          case 'n': s += '\n'; break;
          case 't': s += '\t'; break;
          case 'r': s += '\r'; break;
          case 'b': s += '\b'; break;
          case 'f': s += '\f'; break;
          case 'u': {
            if (i_ + 4 > t_.size()) fail("bad \\u escape");
            const unsigned cp = static_cast<unsigned>(std::stoul(t_.substr(i_, 4), nullptr, 16));
            i_ += 4;
            if (cp < 0x80) s += static_cast<char>(cp);
            else if (cp < 0x800) { s += static_cast<char>(0xC0 | (cp >> 6)); s += static_cast<char>(0x80 | (cp & 0x3F)); }
            else { s += static_cast<char>(0xE0 | (cp >> 12)); s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)); s += static_cast<char>(0x80 | (cp & 0x3F)); }
            break;
          }
          default: s += e;
        }
      } else {
        s += c;
      }
    }
  }
  const std::string& t_;
  const std::string& path_;
  std::size_t i_ = 0;
};

}  // namespace

void save(const NamedTensors& tensors, const std::string& path) {
  std::ostringstream header;
  header << "{\"__metadata__\":{\"format\":\"pt\",\"writer\":\"lucid\"}";
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (!t.defined()) throw TypeError("[save] tensor '" + name + "' is undefined (None)");
    const std::uint64_t bytes = static_cast<std::uint64_t>(t.numel()) * dtype_size(t.dtype());
    header << ",\"" << json_escape(name) << "\":{\"dtype\":\"" << (t.dtype() == DType::Float32 ? "F32" : "F64")
           << "\",\"shape\":[";
    for (std::size_t i = 0; i < t.shape().size(); ++i) header << (i ? "," : "") << t.shape()[i];
    header << "],\"data_offsets\":[" << offset << "," << offset + bytes << "]}";
    offset += bytes;
  }
  header << "}";
  std::string h = header.str();
  while (h.size() % 8 != 0) h += ' ';  // data starts 8-byte aligned

  std::random_device rd;
  const std::string tmp = path + ".tmp-" + std::to_string(rd());
  auto fail = [&](const std::string& what) {
    const std::string reason = std::strerror(errno);
    std::remove(tmp.c_str());
    throw Error("[save] cannot write " + path + ": " + what + " (" + reason + ")");
  };
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail("cannot create " + tmp);
  unsigned char len[8];
  const std::uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(h.data(), 1, h.size(), f) == h.size();
  for (const auto& [name, t] : tensors) {
    const std::size_t bytes = static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype());
    ok = ok && std::fwrite(t.raw_data(), 1, bytes, f) == bytes;
  }
  ok = ok && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  if (std::fclose(f) != 0) ok = false;
  if (!ok) fail("write failed");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename " + tmp);
}

NamedTensors load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) bad(path, std::string("cannot open the file (") + std::strerror(errno) + ")");
  f.seekg(0, std::ios::end);
  const std::uint64_t size = static_cast<std::uint64_t>(f.tellg());
  f.seekg(0);
  if (size < 8) bad(path, "the file is truncated: " + std::to_string(size) + " bytes, less than the 8-byte header length");
  unsigned char len[8];
  f.read(reinterpret_cast<char*>(len), 8);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(len[i]) << (8 * i);
  if (n > size - 8)
    bad(path, "the file is truncated: the header claims " + std::to_string(n) + " bytes but only " +
                  std::to_string(size - 8) + " follow");
  if (n > (std::uint64_t{100} << 20)) bad(path, "the header length " + std::to_string(n) + " is implausibly large");
  std::string text(static_cast<std::size_t>(n), '\0');
  f.read(text.data(), static_cast<std::streamsize>(n));
  const Json root = Parser(text, path).parse();
  if (root.kind != Json::Object) bad(path, "malformed header: not a JSON object");
  const std::uint64_t data_size = size - 8 - n;

  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    std::uint64_t begin, end;
  };
  std::vector<Entry> entries;
  for (const auto& [name, v] : root.members) {
    if (name == "__metadata__") continue;
    const Json* dt = v.get("dtype");
    const Json* shape = v.get("shape");
    const Json* offs = v.get("data_offsets");
    if (v.kind != Json::Object || !dt || dt->kind != Json::String || !shape || shape->kind != Json::Array || !offs ||
        offs->kind != Json::Array || offs->items.size() != 2)
      bad(path, "malformed header entry for '" + name + "'");
    Entry e{name, DType::Float32, {}, 0, 0};
    if (dt->str == "F64")
      e.dtype = DType::Float64;
    else if (dt->str != "F32")
      throw TypeError("[load] " + path + ": tensor '" + name + "' has dtype " + dt->str +
                      "; lucid reads F32 and F64");
    std::uint64_t count = 1;
    for (const Json& d : shape->items) {
      if (d.kind != Json::Number || d.num < 0) bad(path, "tensor '" + name + "' has a bad shape");
      e.shape.push_back(d.num);
      if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(d.num), &count))
        bad(path, "tensor '" + name + "' has a shape whose size overflows");
    }
    if (offs->items[0].kind != Json::Number || offs->items[1].kind != Json::Number || offs->items[0].num < 0 ||
        offs->items[1].num < offs->items[0].num)
      bad(path, "tensor '" + name + "' has bad data_offsets");
    e.begin = static_cast<std::uint64_t>(offs->items[0].num);
    e.end = static_cast<std::uint64_t>(offs->items[1].num);
    if (e.end - e.begin != count * dtype_size(e.dtype))
      bad(path, "tensor '" + name + "' has " + std::to_string(e.end - e.begin) + " bytes of data for shape " +
                    e.shape.str());
    if (e.end > data_size)
      bad(path, "the file is truncated: tensor '" + name + "' ends at byte " + std::to_string(e.end) +
                    " of the data but the data has " + std::to_string(data_size));
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  NamedTensors out;
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, {.dtype = e.dtype});
    f.seekg(static_cast<std::streamoff>(8 + n + e.begin));
    f.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(e.end - e.begin));
    if (!f) bad(path, "reading tensor '" + e.name + "' failed");
    out.emplace_back(e.name, t);
  }
  return out;
}

}  // namespace lucid
