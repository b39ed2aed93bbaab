// common.hpp: what every extension module of cnnkernels shares (the CPU module now, the CUDA modules
// later): the element types and the one dtype dispatch, the argument conversions from Python, and the
// mapping of C++ errors to Python exceptions.
//
// Errors map to Python as: a wrong dtype -> TypeError (py::type_error), ck::ArgumentError -> ValueError
// (pybind11's translation of std::invalid_argument), ck::AllocationError -> MemoryError.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <string>

#include "cnnkernels/checks.hpp"
#include "cnnkernels/kernels.hpp"
#include "cnnkernels/shapes.hpp"

namespace ck {
namespace bind {

namespace py = pybind11;

// The element types of every kernel.
enum class DType { f32, f64 };

inline int64_t elem_bytes(DType dt) { return dt == DType::f32 ? 4 : 8; }

// Calls f(T{}) with T the C++ type of dt (float or double): the one dtype dispatch of the bindings.
//   return dispatch(dt, [&](auto zero) { using T = decltype(zero); ... });
template <typename F>
decltype(auto) dispatch(DType dt, F&& f) {
  if (dt == DType::f32) return f(float{});
  return f(double{});
}

// The DType of an element size in bytes (4 or 8), as the Python layer passes it for shapes-only calls.
inline DType dtype_of_size(const std::string& op, int64_t elem_bytes) {
  if (elem_bytes == 4) return DType::f32;
  if (elem_bytes == 8) return DType::f64;
  throw py::type_error(op + ": dtype must be float32 or float64");
}

// The DType of a NumPy array; TypeError for any other dtype.
inline DType dtype_of(const py::array& a, const std::string& op, const char* name) {
  if (a.dtype().equal(py::dtype::of<float>())) return DType::f32;
  if (a.dtype().equal(py::dtype::of<double>())) return DType::f64;
  throw py::type_error(op + ": " + name + " must be float32 or float64 (native byte order), got dtype " +
                       py::str(a.dtype()).cast<std::string>());
}

// Checks rank, dtype (equal to `expected`) and layout of an input array.
inline void check_array(const py::array& a, const std::string& op, const char* name, py::ssize_t ndim,
                        DType expected) {
  if (a.ndim() != ndim) {
    throw ArgumentError(op + ": " + name + " must be " + std::to_string(ndim) + "-D, got " +
                        std::to_string(a.ndim()) + "-D");
  }
  if (dtype_of(a, op, name) != expected) throw py::type_error(op + ": " + name + " must have the same dtype as x");
  if (!(a.flags() & py::array::c_style) || !(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_)) {
    throw ArgumentError(op + ": " + name + " must be a C-contiguous aligned array");
  }
}

// The dims of a checked 4-D array.
inline Dims4 dims_of(const py::array& a) { return {a.shape(0), a.shape(1), a.shape(2), a.shape(3)}; }

inline Dims4 dims_of(const std::array<int64_t, 4>& d) { return {d[0], d[1], d[2], d[3]}; }
inline Size2d size2d(const std::array<int64_t, 2>& v) { return {v[0], v[1]}; }
inline Padding2d padding2d(const std::array<int64_t, 4>& v) { return {v[0], v[1], v[2], v[3]}; }

inline Conv2dParams conv2d_params(const std::array<int64_t, 2>& stride, const std::array<int64_t, 4>& padding,
                                  const std::array<int64_t, 2>& dilation, int64_t groups) {
  return Conv2dParams{size2d(stride), padding2d(padding), size2d(dilation), groups};
}

inline Pool2dParams pool_params(const std::array<int64_t, 2>& kernel, const std::array<int64_t, 2>& stride,
                                const std::array<int64_t, 2>& padding, const std::array<int64_t, 2>& dilation,
                                bool ceil_mode) {
  return Pool2dParams{size2d(kernel), size2d(stride), size2d(padding), size2d(dilation), ceil_mode};
}

// conv2d_plan's direction= argument.
inline ConvDirection parse_conv_direction(const std::string& name) {
  std::string names;
  for (int i = 0; i < kConvDirectionCount; ++i) {
    if (name == kConvDirectionNames[i]) return static_cast<ConvDirection>(i);
    names += std::string(i ? ", '" : "'") + kConvDirectionNames[i] + "'";
  }
  throw ArgumentError("conv2d_plan: direction must be one of " + names + ", got '" + name + "'");
}

// Whether two convolutions have the same geometry (what a plan made for one may run on the other): every
// input of make_conv2d_shape, the outputs following from them.
inline bool same_conv_geometry(const Conv2dShape& a, const Conv2dShape& s) {
  return a.N == s.N && a.C == s.C && a.H == s.H && a.W == s.W && a.K == s.K && a.R == s.R && a.S == s.S &&
         a.groups == s.groups && a.stride_h == s.stride_h && a.stride_w == s.stride_w && a.pad_top == s.pad_top &&
         a.pad_bottom == s.pad_bottom && a.pad_left == s.pad_left && a.pad_right == s.pad_right &&
         a.dil_h == s.dil_h && a.dil_w == s.dil_w;
}

// ck::AllocationError -> MemoryError (ArgumentError is a std::invalid_argument: pybind11 makes it ValueError).
inline void register_errors() {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const AllocationError& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    }
  });
}

}  // namespace bind
}  // namespace ck
