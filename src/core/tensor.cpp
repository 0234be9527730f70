#include <cmath>
#include <cstring>

#include "lucid/error.h"
#include "lucid/random.h"
#include "tensor_impl.h"

namespace lucid {
namespace {

const TensorImpl& need(const std::shared_ptr<TensorImpl>& impl, const char* what) {
  if (!impl) throw TypeError(std::string("[Tensor.") + what + "] the tensor is undefined");
  return *impl;
}

std::shared_ptr<TensorImpl> new_impl(const Shape& shape, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->numel = shape.numel();  // throws on overflow, before allocating
  impl->dtype = dtype;
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<std::size_t>(impl->numel), dtype_size(dtype), &bytes))
    throw ValueError("[Tensor] the byte count of shape " + shape.str() + " overflows 64 bits");
  impl->storage = allocate(bytes);
  impl->data = impl->storage.get();
  return impl;
}

template <class T>
void fill(void* p, std::int64_t n, double v) {
  T* d = static_cast<T*>(p);
  const T x = static_cast<T>(v);
  for (std::int64_t i = 0; i < n; ++i) d[i] = x;
}

}  // namespace

Tensor::Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

Tensor Tensor::empty(const Shape& shape, TensorOptions opts) {
  Tensor t(new_impl(shape, opts.dtype));
  t.impl_->requires_grad = opts.requires_grad;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, TensorOptions opts) {
  Tensor t = empty(shape, opts);
  std::memset(t.raw_data(), 0, static_cast<std::size_t>(t.numel()) * dtype_size(opts.dtype));
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, TensorOptions opts) {
  Tensor t = empty(shape, opts);
  if (opts.dtype == DType::Float32)
    fill<float>(t.raw_data(), t.numel(), value);
  else
    fill<double>(t.raw_data(), t.numel(), value);
  return t;
}

Tensor Tensor::ones(const Shape& shape, TensorOptions opts) { return full(shape, 1.0, opts); }
Tensor Tensor::randn(const Shape& shape, TensorOptions opts) { return random::randn(shape, opts); }
Tensor Tensor::rand(const Shape& shape, TensorOptions opts) { return random::rand(shape, opts); }
Tensor Tensor::scalar(double value, TensorOptions opts) { return full(Shape{}, value, opts); }

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape,
                           TensorOptions opts) {
  if (static_cast<std::int64_t>(values.size()) != shape.numel())
    throw ValueError("[Tensor.from_vector] " + std::to_string(values.size()) +
                     " values do not fill shape " + shape.str());
  Tensor t = empty(shape, opts);
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (opts.dtype == DType::Float32)
      t.data<float>()[i] = static_cast<float>(values[i]);
    else
      t.data<double>()[i] = values[i];
  }
  return t;
}

Tensor Tensor::from_blob(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> owner) {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->numel = shape.numel();
  impl->dtype = dtype;
  impl->storage = std::move(owner);
  impl->data = data;
  return Tensor(std::move(impl));
}

const Shape& Tensor::shape() const { return need(impl_, "shape").shape; }
std::int64_t Tensor::ndim() const { return need(impl_, "ndim").shape.ndim(); }
std::int64_t Tensor::numel() const { return need(impl_, "numel").numel; }
std::int64_t Tensor::size(std::int64_t axis) const { return shape().at(axis); }
DType Tensor::dtype() const { return need(impl_, "dtype").dtype; }
void* Tensor::raw_data() const { return need(impl_, "data").data; }
std::shared_ptr<void> Tensor::storage() const { return need(impl_, "storage").storage; }

template <class T>
T* Tensor::data() {
  const TensorImpl& i = need(impl_, "data");
  constexpr DType want = std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
  if (i.dtype != want)
    throw TypeError(std::string("[Tensor.data] the tensor is ") + dtype_name(i.dtype) +
                    ", not " + dtype_name(want));
  return static_cast<T*>(i.data);
}
template <class T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}
template float* Tensor::data<float>();
template double* Tensor::data<double>();
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;

double Tensor::flat(std::int64_t index) const {
  const TensorImpl& i = need(impl_, "flat");
  if (index < 0 || index >= i.numel)
    throw ValueError("[Tensor.flat] index " + std::to_string(index) + " is out of range for " +
                     std::to_string(i.numel) + " elements");
  return i.dtype == DType::Float32 ? static_cast<const float*>(i.data)[index]
                                   : static_cast<const double*>(i.data)[index];
}

double Tensor::item() const {
  const TensorImpl& i = need(impl_, "item");
  if (i.numel != 1)
    throw ValueError("[Tensor.item] only a one-element tensor has an item; this one has shape " +
                     i.shape.str());
  return flat(0);
}

std::vector<double> Tensor::to_vector() const {
  const TensorImpl& i = need(impl_, "to_vector");
  std::vector<double> v(static_cast<std::size_t>(i.numel));
  for (std::int64_t k = 0; k < i.numel; ++k) v[static_cast<std::size_t>(k)] = flat(k);
  return v;
}

bool Tensor::requires_grad() const { return need(impl_, "requires_grad").requires_grad; }

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  need(impl_, "requires_grad");
  if (impl_->grad_fn && !requires_grad)
    throw AutogradError(
        "[Tensor.requires_grad] only leaf tensors can change requires_grad; use detach()");
  impl_->requires_grad = requires_grad || impl_->grad_fn != nullptr;
  return *this;
}

bool Tensor::is_leaf() const { return need(impl_, "is_leaf").grad_fn == nullptr; }

Tensor Tensor::grad() const { return Tensor(need(impl_, "grad").grad); }

void Tensor::set_grad(const Tensor& grad) {
  need(impl_, "grad");
  if (grad.defined() && grad.shape() != shape())
    throw ValueError("[Tensor.grad] a gradient of shape " + grad.shape().str() +
                     " does not match the tensor's shape " + shape().str());
  impl_->grad = grad.impl_ptr();
}

void Tensor::zero_grad() { need(impl_, "zero_grad"), impl_->grad.reset(); }

std::shared_ptr<Node> Tensor::grad_fn() const { return need(impl_, "grad_fn").grad_fn; }

void Tensor::set_grad_fn(std::shared_ptr<Node> fn) {
  need(impl_, "grad_fn");
  impl_->grad_fn = std::move(fn);
  if (impl_->grad_fn) impl_->requires_grad = true;
}

Tensor Tensor::detach() const {
  const TensorImpl& i = need(impl_, "detach");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = i.storage;
  impl->data = i.data;
  impl->shape = i.shape;
  impl->numel = i.numel;
  impl->dtype = i.dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::clone() const { return cast(dtype()); }

Tensor Tensor::cast(DType dt) const {
  const TensorImpl& i = need(impl_, "cast");
  Tensor out = empty(i.shape, {.dtype = dt});
  const std::int64_t n = i.numel;
  if (i.dtype == dt) {
    std::memcpy(out.raw_data(), i.data, static_cast<std::size_t>(n) * dtype_size(dt));
  } else if (dt == DType::Float64) {
    const float* s = static_cast<const float*>(i.data);
    double* d = out.data<double>();
    for (std::int64_t k = 0; k < n; ++k) d[k] = s[k];
  } else {
    const double* s = static_cast<const double*>(i.data);
    float* d = out.data<float>();
    for (std::int64_t k = 0; k < n; ++k) d[k] = static_cast<float>(s[k]);
  }
  return out;
}

}  // namespace lucid
