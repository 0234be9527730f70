// lucid/shape.h — a tensor's shape: a list of 64-bit sizes.
//
// Printing a Shape gives Python's tuple form: "(1, 2, 16, 16, 16)", "(3,)", "()".
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <vector>

namespace lucid {

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<std::int64_t> dims) : dims_(std::move(dims)) {}

  std::size_t size() const { return dims_.size(); }
  std::int64_t ndim() const { return static_cast<std::int64_t>(dims_.size()); }
  std::int64_t operator[](std::size_t i) const { return dims_[i]; }
  std::int64_t& operator[](std::size_t i) { return dims_[i]; }
  // Python-style index: -1 is the last axis. Throws ValueError when out of range.
  std::int64_t at(std::int64_t i) const;
  auto begin() const { return dims_.begin(); }
  auto end() const { return dims_.end(); }
  const std::vector<std::int64_t>& vec() const { return dims_; }
  void push_back(std::int64_t d) { dims_.push_back(d); }

  // Product of the sizes; throws ValueError when it overflows 64 bits.
  std::int64_t numel() const;
  std::string str() const;

  friend bool operator==(const Shape&, const Shape&) = default;

 private:
  std::vector<std::int64_t> dims_;
};

std::ostream& operator<<(std::ostream& os, const Shape& s);

}  // namespace lucid
