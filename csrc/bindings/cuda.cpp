// cuda.cpp: the Python modules cnnkernels._cuda (the CUDA kernels of cuda/, built by nvcc) and
// cnnkernels._cuda_emu (the same kernels compiled for the CPU against cuda/emu/cuda_emu.hpp), from this one
// source: CK_MODULE_NAME names the module, CK_CUDA_EMU selects the emulation.
//
// Both modules have the operations of _cpu (same names, same arguments in the same order), with arrays in
// device memory: DeviceArray (a pointer, a shape, a dtype, and the Python object that owns the memory).
// Every operation also takes `alloc` (a Python callable: bytes -> an object with .ptr, device memory that
// lives as long as the object, e.g. cupy.cuda.alloc or DeviceMemory) and `stream` (a cudaStream_t as an int,
// 0 for the default stream). Outputs and workspace come from alloc; kernels run on the stream, with the GIL
// released, and are not waited for (CuPy's stream order makes that safe).
//
// As _cpu does, each operation checks its arrays again (dtype, rank, shape) and builds the geometry with
// checks.hpp. DeviceMemory and the copies serve staging (NumPy arrays on backend "cuda" and "cuda-emu").
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "../cuda/runtime.hpp"
#include "bindings/common.hpp"
#include "cnnkernels/checks.hpp"
#include "cnnkernels/kernels.hpp"

#if defined(CK_CUDA_EMU)
namespace ck {
namespace cuda {
std::vector<double> emu_selftest(const std::string& name);  // cuda/emu/selftest.cu
}  // namespace cuda
}  // namespace ck
#endif

#ifndef CK_MODULE_NAME
#error "CK_MODULE_NAME must name the module (_cuda or _cuda_emu)"
#endif

namespace ck {
namespace {

namespace py = pybind11;
using bind::DType;
using Pair = std::array<int64_t, 2>;
using Quad = std::array<int64_t, 4>;

// ---------------------------------------------------------------------------------------------------------
// Device memory and arrays

// cudaMalloc'ed memory, freed with the object (staging, and the allocator of backend "cuda-emu").
struct DeviceMemory {
  void* ptr = nullptr;
  size_t nbytes = 0;
  explicit DeviceMemory(size_t n) : nbytes(n) {
    const cudaError_t e = cudaMalloc(&ptr, n ? n : 1);
    if (e == cudaErrorMemoryAllocation) throw AllocationError("cudaMalloc of " + std::to_string(n) + " bytes failed");
    cuda::check(e, "cudaMalloc");
  }
  ~DeviceMemory() {
    if (ptr) cudaFree(ptr);
  }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
};

// A C-contiguous array in device memory.
struct DeviceArray {
  uintptr_t ptr = 0;
  std::vector<int64_t> shape;
  std::string dtype;  // "float32", "float64" or "int64"
  py::object owner;   // keeps the memory alive

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int64_t itemsize() const { return dtype == "int64" || dtype == "float64" ? 8 : 4; }
};

DType dtype_of(const DeviceArray& a, const std::string& op, const char* name) {
  if (a.dtype == "float32") return DType::f32;
  if (a.dtype == "float64") return DType::f64;
  throw py::type_error(op + ": " + name + " must be float32 or float64, got dtype " + a.dtype);
}

void check_array(const DeviceArray& a, const std::string& op, const char* name, size_t ndim, DType expected) {
  if (a.shape.size() != ndim) {
    throw ArgumentError(op + ": " + name + " must be " + std::to_string(ndim) + "-D, got " +
                        std::to_string(a.shape.size()) + "-D");
  }
  if (dtype_of(a, op, name) != expected) throw py::type_error(op + ": " + name + " must have the same dtype as x");
  if (a.ptr == 0 && a.numel() != 0) throw ArgumentError(op + ": " + name + " has a null data pointer");
}

Dims4 dims_of(const DeviceArray& a) { return {a.shape[0], a.shape[1], a.shape[2], a.shape[3]}; }

template <typename T>
const T* cdata(const DeviceArray& a) {
  return reinterpret_cast<const T*>(a.ptr);
}

// One call: the stream and allocator set as the kernels' call context (runtime.hpp), outputs allocated with
// the GIL held, workspace allocated from inside the kernels' launchers (taking the GIL for the allocator).
class Call {
 public:
  Call(py::object alloc, uintptr_t stream) : alloc_(std::move(alloc)) {
    cuda::CallContext& c = cuda::call_context();
    saved_ = c;
    c.stream = reinterpret_cast<cudaStream_t>(stream);
    c.alloc = [this](size_t bytes) -> void* {
      py::gil_scoped_acquire gil;
      py::object mem = alloc_(bytes);
      workspace_.push_back(mem);
      return reinterpret_cast<void*>(mem.attr("ptr").cast<uintptr_t>());
    };
  }
  ~Call() { cuda::call_context() = saved_; }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  DeviceArray output(std::vector<int64_t> shape, const std::string& dtype) {
    DeviceArray a;
    a.shape = std::move(shape);
    a.dtype = dtype;
    const int64_t bytes = detail::checked_mul("alloc", a.numel(), a.itemsize());
    a.owner = alloc_(size_t(bytes));
    a.ptr = a.owner.attr("ptr").cast<uintptr_t>();
    return a;
  }
  template <typename T>
  DeviceArray output(const Dims4& d) {
    return output({d.n, d.c, d.h, d.w}, sizeof(T) == 4 ? "float32" : "float64");
  }

 private:
  py::object alloc_;
  std::vector<py::object> workspace_;
  cuda::CallContext saved_;
};

template <typename T>
T* mdata(const DeviceArray& a) {
  return reinterpret_cast<T*>(a.ptr);
}

// ---------------------------------------------------------------------------------------------------------
// conv2d

constexpr ConvAlgo kCudaAlgos[] = {ConvAlgo::direct, ConvAlgo::im2col};

ConvAlgo parse_algo(const std::string& name, const Conv2dShape& s, ConvDirection dir) {
  if (name == "fft" || name == "winograd") {
    throw cuda::NotImplemented("conv2d: algo='" + name +
                               "' is not implemented on CUDA yet (use 'direct', 'im2col' or 'auto')");
  }
  for (ConvAlgo a : kCudaAlgos) {
    if (name == conv_algo_name(a)) return a;
  }
  if (name != "auto") throw ArgumentError("conv2d: algo must be 'auto', 'direct' or 'im2col', got '" + name + "'");
  // The cost model: the GEMM wins once both of its inner dimensions fill a tile; thin layers (few output
  // channels, or few taps times channels) run direct.
  const int64_t kg = s.K_per_group(), crs = s.C_per_group() * s.R * s.S;
  (void)dir;
  return kg >= 16 && crs >= 32 ? ConvAlgo::im2col : ConvAlgo::direct;
}

struct CudaConv2dPlan {
  Conv2dShape shape;
  int64_t elem_bytes;
  ConvDirection direction;
  ConvAlgo algo;
  bool made_for(const Conv2dShape& s, int64_t bytes, ConvDirection d) const {
    return bytes == elem_bytes && d == direction && bind::same_conv_geometry(shape, s);
  }
};

CudaConv2dPlan conv2d_plan(const Quad& x, const Quad& w, const Pair& stride, const Quad& padding,
                           const Pair& dilation, int64_t groups, const std::string& algo, int64_t elem_bytes,
                           const std::string& direction) {
  bind::dtype_of_size("conv2d_plan", elem_bytes);
  const Conv2dShape s = make_conv2d_shape(bind::dims_of(x), bind::dims_of(w),
                                          bind::conv2d_params(stride, padding, dilation, groups), elem_bytes);
  const ConvDirection dir = bind::parse_conv_direction(direction);
  return CudaConv2dPlan{s, elem_bytes, dir, parse_algo(algo, s, dir)};
}

py::dict plan_info(const CudaConv2dPlan& p) {
  py::dict info;
  info["algo"] = conv_algo_name(p.algo);
  info["direction"] = conv_direction_name(p.direction);
  const Conv2dShape& s = p.shape;
  const Dims4 out = p.direction == ConvDirection::forward          ? s.output()
                    : p.direction == ConvDirection::backward_input ? s.input()
                                                                   : s.weight();
  info["output_shape"] = py::make_tuple(out.n, out.c, out.h, out.w);
  info["workspace_bytes"] = py::none();  // not estimated on CUDA (from the call's allocator, CuPy's pool)
  return info;
}

Conv2dShape conv_shape(const Dims4& x, const Dims4& w, const Pair& stride, const Quad& padding,
                       const Pair& dilation, int64_t groups, int64_t bytes) {
  return make_conv2d_shape(x, w, bind::conv2d_params(stride, padding, dilation, groups), bytes);
}

void check_plan(const CudaConv2dPlan* plan, ConvAlgo algo, const Conv2dShape& s, int64_t bytes, ConvDirection d,
                const std::string& op) {
  if (plan && (plan->algo != algo || !plan->made_for(s, bytes, d))) {
    throw ArgumentError(op + ": plan was made for another direction, algorithm, geometry or dtype");
  }
}

DeviceArray run_conv2d(ConvAlgo algo, const DeviceArray& x, const DeviceArray& w,
                       const std::optional<DeviceArray>& bias, const Pair& stride, const Quad& padding,
                       const Pair& dilation, int64_t groups, const CudaConv2dPlan* plan, py::object alloc,
                       uintptr_t stream) {
  const std::string op = "conv2d";
  const DType dt = dtype_of(x, op, "x");
  check_array(x, op, "x", 4, dt);
  check_array(w, op, "weight", 4, dt);
  if (bias) check_array(*bias, op, "bias", 1, dt);
  return bind::dispatch(dt, [&](auto zero) {
    using T = decltype(zero);
    const Conv2dShape s = conv_shape(dims_of(x), dims_of(w), stride, padding, dilation, groups, sizeof(T));
    if (bias && bias->shape[0] != s.K) {
      throw ArgumentError("conv2d: bias must have length K=weight.shape[0]=" + std::to_string(s.K) + ", got " +
                          std::to_string(bias->shape[0]));
    }
    check_plan(plan, algo, s, sizeof(T), ConvDirection::forward, op);
    Call call(alloc, stream);
    DeviceArray y = call.output<T>(s.output());
    const T* bp = bias ? cdata<T>(*bias) : nullptr;
    py::gil_scoped_release release;
    if (algo == ConvAlgo::direct) cuda::conv2d_direct<T>(s, cdata<T>(x), cdata<T>(w), bp, mdata<T>(y));
    else cuda::conv2d_im2col<T>(s, cdata<T>(x), cdata<T>(w), bp, mdata<T>(y));
    return y;
  });
}

enum class Grad { input, weight };

DeviceArray run_conv2d_backward(Grad grad, ConvAlgo algo, const DeviceArray& gy, const DeviceArray& operand,
                                const Quad& other_shape, const Pair& stride, const Quad& padding,
                                const Pair& dilation, int64_t groups, const CudaConv2dPlan* plan,
                                py::object alloc, uintptr_t stream) {
  const std::string op = "conv2d_backward";
  const DType dt = dtype_of(gy, op, "grad_out");
  check_array(gy, op, "grad_out", 4, dt);
  check_array(operand, op, grad == Grad::input ? "weight" : "x", 4, dt);
  return bind::dispatch(dt, [&](auto zero) {
    using T = decltype(zero);
    const Dims4 x = grad == Grad::input ? bind::dims_of(other_shape) : dims_of(operand);
    const Dims4 w = grad == Grad::input ? dims_of(operand) : bind::dims_of(other_shape);
    const Conv2dShape s = conv_shape(x, w, stride, padding, dilation, groups, sizeof(T));
    check_grad_out(op, dims_of(gy), s.output());
    const ConvDirection dir = grad == Grad::input ? ConvDirection::backward_input : ConvDirection::backward_weight;
    check_plan(plan, algo, s, sizeof(T), dir, op);
    Call call(alloc, stream);
    DeviceArray out = call.output<T>(grad == Grad::input ? s.input() : s.weight());
    const T* g = cdata<T>(gy);
    const T* o = cdata<T>(operand);
    T* r = mdata<T>(out);
    py::gil_scoped_release release;
    if (grad == Grad::input) {
      if (algo == ConvAlgo::direct) cuda::conv2d_backward_input_direct<T>(s, g, o, r);
      else cuda::conv2d_backward_input_im2col<T>(s, g, o, r);
    } else {
      if (algo == ConvAlgo::direct) cuda::conv2d_backward_weight_direct<T>(s, g, o, r);
      else cuda::conv2d_backward_weight_im2col<T>(s, g, o, r);
    }
    return out;
  });
}

DeviceArray conv2d_backward_bias(const DeviceArray& gy, py::object alloc, uintptr_t stream) {
  const std::string op = "conv2d_backward";
  const DType dt = dtype_of(gy, op, "grad_out");
  check_array(gy, op, "grad_out", 4, dt);
  return bind::dispatch(dt, [&](auto zero) {
    using T = decltype(zero);
    const Dims4 d = dims_of(gy);
    Conv2dShape s{};
    s.N = d.n;
    s.K = d.c;
    s.P = d.h;
    s.Q = d.w;
    Call call(alloc, stream);
    DeviceArray gb = call.output({d.c}, sizeof(T) == 4 ? "float32" : "float64");
    const T* g = cdata<T>(gy);
    T* b = mdata<T>(gb);
    py::gil_scoped_release release;
    cuda::conv2d_backward_bias<T>(s, g, b);
    return gb;
  });
}

// ---------------------------------------------------------------------------------------------------------
// Pooling and LCN

template <typename Body>
py::object with_input(const std::string& op, const DeviceArray& x, Body&& body) {
  const DType dt = dtype_of(x, op, "x");
  check_array(x, op, "x", 4, dt);
  return bind::dispatch(dt, [&](auto zero) -> py::object { return body(zero, dims_of(x)); });
}

// A new output of `dims` filled by kernel(y) with the GIL released.
template <typename T, typename Kernel>
py::object run_into_new(Call& call, const Dims4& dims, Kernel&& kernel) {
  DeviceArray y = call.output<T>(dims);
  T* yp = mdata<T>(y);
  {
    py::gil_scoped_release release;
    kernel(yp);
  }
  return py::cast(y);
}

// Checks grad_out against the forward output's dims y and returns gx (dims x) from kernel(gy, gx).
template <typename T, typename Kernel>
py::object grad_into_new(Call& call, const std::string& op, const DeviceArray& gy, const Dims4& x, const Dims4& y,
                         Kernel&& kernel) {
  if (gy.shape.size() != 4) {
    throw ArgumentError(op + ": grad_out must have the forward output's shape " + detail::dims_str(y) + ", got " +
                        std::to_string(gy.shape.size()) + "-D");
  }
  check_array(gy, op, "grad_out", 4, bind::dtype_of_size(op, sizeof(T)));
  check_grad_out(op, dims_of(gy), y);
  const T* gp = cdata<T>(gy);
  return run_into_new<T>(call, x, [&](T* gx) { kernel(gp, gx); });
}

py::object max_pool2d(const DeviceArray& x, const Pair& kernel, const Pair& stride, const Pair& padding,
                      const Pair& dilation, bool ceil_mode, bool return_indices, py::object alloc, uintptr_t stream) {
  return with_input("max_pool2d", x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const Pool2dShape s =
        make_pool2d_shape("max_pool2d", d, bind::pool_params(kernel, stride, padding, dilation, ceil_mode), sizeof(T));
    Call call(alloc, stream);
    DeviceArray y = call.output<T>(s.output());
    DeviceArray indices;
    const Dims4 o = s.output();
    if (return_indices) indices = call.output({o.n, o.c, o.h, o.w}, "int64");
    const T* xp = cdata<T>(x);
    T* yp = mdata<T>(y);
    int64_t* ip = return_indices ? mdata<int64_t>(indices) : nullptr;
    {
      py::gil_scoped_release release;
      cuda::max_pool2d<T>(s, xp, yp, ip);
    }
    if (return_indices) return py::make_tuple(y, indices);
    return py::cast(y);
  });
}

py::object avg_pool2d(const DeviceArray& x, const Pair& kernel, const Pair& stride, const Pair& padding,
                      bool ceil_mode, bool count_include_pad, std::optional<int64_t> divisor_override,
                      py::object alloc, uintptr_t stream) {
  if (divisor_override) check_divisor_override(*divisor_override);
  return with_input("avg_pool2d", x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const Pool2dShape s =
        make_pool2d_shape("avg_pool2d", d, bind::pool_params(kernel, stride, padding, {1, 1}, ceil_mode), sizeof(T));
    Call call(alloc, stream);
    return run_into_new<T>(call, s.output(), [&](T* y) {
      cuda::avg_pool2d<T>(s, count_include_pad, divisor_override.value_or(0), cdata<T>(x), y);
    });
  });
}

py::object lp_pool2d(const DeviceArray& x, double norm_type, const Pair& kernel, const Pair& stride, bool ceil_mode,
                     py::object alloc, uintptr_t stream) {
  check_norm_type("lp_pool2d", norm_type);
  return with_input("lp_pool2d", x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const Pool2dShape s =
        make_pool2d_shape("lp_pool2d", d, bind::pool_params(kernel, stride, {0, 0}, {1, 1}, ceil_mode), sizeof(T));
    Call call(alloc, stream);
    return run_into_new<T>(call, s.output(), [&](T* y) { cuda::lp_pool2d<T>(s, norm_type, cdata<T>(x), y); });
  });
}

py::object feature_lp_pool(const DeviceArray& x, double norm_type, int64_t width, int64_t stride, py::object alloc,
                           uintptr_t cuda_stream) {
  check_norm_type("feature_lp_pool", norm_type);
  return with_input("feature_lp_pool", x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const FeaturePoolShape s = make_feature_pool_shape(d, width, stride, sizeof(T));
    Call call(alloc, cuda_stream);
    return run_into_new<T>(call, s.output(), [&](T* y) { cuda::feature_lp_pool<T>(s, norm_type, cdata<T>(x), y); });
  });
}

py::object local_contrast_norm(const DeviceArray& x, int64_t kernel_size, double sigma, double eps, py::object alloc,
                               uintptr_t stream) {
  return with_input("local_contrast_norm", x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const LcnShape s = make_lcn_shape(d, kernel_size, sigma, eps, sizeof(T));
    Call call(alloc, stream);
    return run_into_new<T>(call, s.output(), [&](T* y) { cuda::local_contrast_norm<T>(s, cdata<T>(x), y); });
  });
}

py::object max_pool2d_backward(const DeviceArray& gy, const DeviceArray& x, const Pair& kernel, const Pair& stride,
                               const Pair& padding, const Pair& dilation, bool ceil_mode,
                               const std::optional<DeviceArray>& indices, py::object alloc, uintptr_t stream) {
  const std::string op = "max_pool2d_backward";
  return with_input(op, x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const Pool2dShape s =
        make_pool2d_shape(op, d, bind::pool_params(kernel, stride, padding, dilation, ceil_mode), sizeof(T));
    const int64_t* ip = nullptr;
    if (indices) {
      if (indices->dtype != "int64") throw py::type_error(op + ": indices must be int64 (as max_pool2d returns them)");
      if (indices->shape.size() != 4) throw ArgumentError(op + ": indices must be a C-contiguous 4-D array");
      const Dims4 id = dims_of(*indices), out = s.output();
      if (id.n != out.n || id.c != out.c || id.h != out.h || id.w != out.w) {
        throw ArgumentError(op + ": indices must have the forward output's shape " + detail::dims_str(out) +
                            ", got " + detail::dims_str(id));
      }
      ip = cdata<int64_t>(*indices);
    }
    Call call(alloc, stream);
    return grad_into_new<T>(call, op, gy, d, s.output(), [&](const T* g, T* gx) {
      cuda::max_pool2d_backward<T>(s, g, cdata<T>(x), ip, gx);
    });
  });
}

py::object avg_pool2d_backward(const DeviceArray& gy, const DeviceArray& x, const Pair& kernel, const Pair& stride,
                               const Pair& padding, bool ceil_mode, bool count_include_pad,
                               std::optional<int64_t> divisor_override, py::object alloc, uintptr_t stream) {
  if (divisor_override) check_divisor_override(*divisor_override);
  const std::string op = "avg_pool2d_backward";
  return with_input(op, x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const Pool2dShape s =
        make_pool2d_shape(op, d, bind::pool_params(kernel, stride, padding, {1, 1}, ceil_mode), sizeof(T));
    Call call(alloc, stream);
    return grad_into_new<T>(call, op, gy, d, s.output(), [&](const T* g, T* gx) {
      cuda::avg_pool2d_backward<T>(s, count_include_pad, divisor_override.value_or(0), g, gx);
    });
  });
}

py::object lp_pool2d_backward(const DeviceArray& gy, const DeviceArray& x, double norm_type, const Pair& kernel,
                              const Pair& stride, bool ceil_mode, py::object alloc, uintptr_t stream) {
  check_norm_type("lp_pool2d_backward", norm_type);
  const std::string op = "lp_pool2d_backward";
  return with_input(op, x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const Pool2dShape s =
        make_pool2d_shape(op, d, bind::pool_params(kernel, stride, {0, 0}, {1, 1}, ceil_mode), sizeof(T));
    Call call(alloc, stream);
    return grad_into_new<T>(call, op, gy, d, s.output(), [&](const T* g, T* gx) {
      cuda::lp_pool2d_backward<T>(s, norm_type, g, cdata<T>(x), gx);
    });
  });
}

py::object feature_lp_pool_backward(const DeviceArray& gy, const DeviceArray& x, double norm_type, int64_t width,
                                    int64_t stride, py::object alloc, uintptr_t cuda_stream) {
  check_norm_type("feature_lp_pool_backward", norm_type);
  const std::string op = "feature_lp_pool_backward";
  return with_input(op, x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const FeaturePoolShape s = make_feature_pool_shape(d, width, stride, sizeof(T));
    Call call(alloc, cuda_stream);
    return grad_into_new<T>(call, op, gy, d, s.output(), [&](const T* g, T* gx) {
      cuda::feature_lp_pool_backward<T>(s, norm_type, g, cdata<T>(x), gx);
    });
  });
}

py::object local_contrast_norm_backward(const DeviceArray& gy, const DeviceArray& x, int64_t kernel_size,
                                        double sigma, double eps, py::object alloc, uintptr_t stream) {
  const std::string op = "local_contrast_norm_backward";
  return with_input(op, x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const LcnShape s = make_lcn_shape(d, kernel_size, sigma, eps, sizeof(T));
    Call call(alloc, stream);
    return grad_into_new<T>(call, op, gy, d, s.output(), [&](const T* g, T* gx) {
      cuda::local_contrast_norm_backward<T>(s, g, cdata<T>(x), gx);
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// Staging copies and the device

void copy_to_device(uintptr_t dst, const py::array& src, uintptr_t stream) {
  if (!(src.flags() & py::array::c_style)) throw ArgumentError("copy_to_device: src must be C-contiguous");
  const size_t bytes = size_t(src.nbytes());
  const void* p = src.data();
  py::gil_scoped_release release;
  cuda::check(cudaMemcpyAsync(reinterpret_cast<void*>(dst), p, bytes, cudaMemcpyHostToDevice,
                              reinterpret_cast<cudaStream_t>(stream)),
              "cudaMemcpyAsync (host to device)");
  cuda::check(cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
}

void copy_to_host(py::array& dst, uintptr_t src, uintptr_t stream) {
  if (!(dst.flags() & py::array::c_style) || !dst.writeable()) {
    throw ArgumentError("copy_to_host: dst must be a writeable C-contiguous array");
  }
  const size_t bytes = size_t(dst.nbytes());
  void* p = dst.mutable_data();
  py::gil_scoped_release release;
  cuda::check(cudaMemcpyAsync(p, reinterpret_cast<const void*>(src), bytes, cudaMemcpyDeviceToHost,
                              reinterpret_cast<cudaStream_t>(stream)),
              "cudaMemcpyAsync (device to host)");
  cuda::check(cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
}

// The number of usable CUDA devices: 0 where there is no driver or no device (never an error).
int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear it
    return 0;
  }
  return n;
}

py::dict device_info() {
  py::dict info;
#if defined(CK_CUDA_EMU)
  info["name"] = "CUDA emulated on the CPU (cnnkernels._cuda_emu)";
  info["emulated"] = true;
#else
  int dev = 0;
  cuda::check(cudaGetDevice(&dev), "cudaGetDevice");
  cudaDeviceProp p;
  cuda::check(cudaGetDeviceProperties(&p, dev), "cudaGetDeviceProperties");
  int clock_khz = 0, mem_clock_khz = 0;
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, dev);
  cudaDeviceGetAttribute(&mem_clock_khz, cudaDevAttrMemoryClockRate, dev);
  info["name"] = std::string(p.name);
  info["emulated"] = false;
  info["compute_capability"] = py::make_tuple(p.major, p.minor);
  info["multiprocessors"] = p.multiProcessorCount;
  info["clock_khz"] = clock_khz;
  info["memory_clock_khz"] = mem_clock_khz;
  info["memory_bus_width"] = p.memoryBusWidth;
  info["total_memory"] = p.totalGlobalMem;
  info["shared_memory_per_block"] = p.sharedMemPerBlock;
#endif
  return info;
}

void synchronize(uintptr_t stream) {
  py::gil_scoped_release release;
  cuda::check(cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
}

void register_errors() {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const AllocationError& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const cuda::NotImplemented& e) {
      PyErr_SetString(PyExc_NotImplementedError, e.what());
    } catch (const cuda::CudaError& e) {
      PyErr_SetString(e.code == cudaErrorMemoryAllocation ? PyExc_MemoryError : PyExc_RuntimeError, e.what());
    }
  });
}

}  // namespace
}  // namespace ck

PYBIND11_MODULE(CK_MODULE_NAME, m) {
  using namespace ck;
  namespace py = pybind11;
#if defined(CK_CUDA_EMU)
  m.doc() = "cnnkernels CUDA kernels emulated on the CPU (tests). Use the cnnkernels package, not this module.";
  m.attr("EMULATED") = true;
#else
  m.doc() = "cnnkernels CUDA kernels (NCHW, float32/float64). Use the cnnkernels package, not this module.";
  m.attr("EMULATED") = false;
#endif
  register_errors();

  // Classes are module-local: _cuda and _cuda_emu define the same C++ types and may both be loaded.
  py::tuple algos(2);
  algos[0] = conv_algo_name(ConvAlgo::direct);
  algos[1] = conv_algo_name(ConvAlgo::im2col);
  m.attr("CONV2D_ALGOS") = algos;

  py::class_<DeviceMemory>(m, "DeviceMemory", py::module_local(), "cudaMalloc'ed memory, freed with the object.")
      .def(py::init<size_t>(), py::arg("nbytes"))
      .def_property_readonly("ptr", [](const DeviceMemory& d) { return reinterpret_cast<uintptr_t>(d.ptr); })
      .def_readonly("nbytes", &DeviceMemory::nbytes);
  py::class_<DeviceArray>(m, "DeviceArray", py::module_local(), "A C-contiguous array in device memory, kept alive by its owner.")
      .def(py::init([](uintptr_t ptr, std::vector<int64_t> shape, std::string dtype, py::object owner) {
             return DeviceArray{ptr, std::move(shape), std::move(dtype), std::move(owner)};
           }),
           py::arg("ptr"), py::arg("shape"), py::arg("dtype"), py::arg("owner"))
      .def_readonly("ptr", &DeviceArray::ptr)
      .def_property_readonly("shape", [](const DeviceArray& a) { return py::tuple(py::cast(a.shape)); })
      .def_readonly("dtype", &DeviceArray::dtype)
      .def_readonly("owner", &DeviceArray::owner);

  py::class_<CudaConv2dPlan>(m, "Conv2dPlan", py::module_local(), "What conv2d runs for one geometry (from conv2d_plan).")
      .def_property_readonly("algo", [](const CudaConv2dPlan& p) { return conv_algo_name(p.algo); })
      .def("info", &plan_info);
  m.def(
      "conv2d_plan",
      [](const Quad& x, const Quad& w, const Pair& stride, const Quad& padding, const Pair& dilation, int64_t groups,
         const std::string& algo, int64_t elem_bytes, const std::string& direction) {
        return conv2d_plan(x, w, stride, padding, dilation, groups, algo, elem_bytes, direction);
      },
      py::arg("x_shape"), py::arg("weight_shape"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
      py::arg("groups"), py::arg("algo"), py::arg("elem_bytes"), py::arg("direction") = "forward");

  for (ConvAlgo algo : kCudaAlgos) {
    const std::string name = conv_algo_name(algo);
    m.def(
        ("conv2d_" + name).c_str(),
        [algo](const DeviceArray& x, const DeviceArray& w, const std::optional<DeviceArray>& bias, const Pair& stride,
               const Quad& padding, const Pair& dilation, int64_t groups, const CudaConv2dPlan* plan,
               py::object alloc, uintptr_t stream) {
          return run_conv2d(algo, x, w, bias, stride, padding, dilation, groups, plan, alloc, stream);
        },
        py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
        py::arg("groups"), py::arg("plan") = nullptr, py::kw_only(), py::arg("alloc"), py::arg("stream") = 0);
    m.def(
        ("conv2d_backward_input_" + name).c_str(),
        [algo](const DeviceArray& gy, const DeviceArray& w, const Quad& x_shape, const Pair& stride,
               const Quad& padding, const Pair& dilation, int64_t groups, const CudaConv2dPlan* plan,
               py::object alloc, uintptr_t stream) {
          return run_conv2d_backward(Grad::input, algo, gy, w, x_shape, stride, padding, dilation, groups, plan,
                                     alloc, stream);
        },
        py::arg("grad_out"), py::arg("weight"), py::arg("x_shape"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("groups"), py::arg("plan") = nullptr, py::kw_only(), py::arg("alloc"),
        py::arg("stream") = 0);
    m.def(
        ("conv2d_backward_weight_" + name).c_str(),
        [algo](const DeviceArray& gy, const DeviceArray& x, const Quad& w_shape, const Pair& stride,
               const Quad& padding, const Pair& dilation, int64_t groups, const CudaConv2dPlan* plan,
               py::object alloc, uintptr_t stream) {
          return run_conv2d_backward(Grad::weight, algo, gy, x, w_shape, stride, padding, dilation, groups, plan,
                                     alloc, stream);
        },
        py::arg("grad_out"), py::arg("x"), py::arg("weight_shape"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("groups"), py::arg("plan") = nullptr, py::kw_only(), py::arg("alloc"),
        py::arg("stream") = 0);
  }
  m.def("conv2d_backward_bias", &conv2d_backward_bias, py::arg("grad_out"), py::kw_only(), py::arg("alloc"),
        py::arg("stream") = 0);
  m.def("max_pool2d", &max_pool2d, py::arg("x"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("ceil_mode"), py::arg("return_indices"), py::kw_only(), py::arg("alloc"),
        py::arg("stream") = 0);
  m.def("avg_pool2d", &avg_pool2d, py::arg("x"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
        py::arg("ceil_mode"), py::arg("count_include_pad"), py::arg("divisor_override"), py::kw_only(),
        py::arg("alloc"), py::arg("stream") = 0);
  m.def("lp_pool2d", &lp_pool2d, py::arg("x"), py::arg("norm_type"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("ceil_mode"), py::kw_only(), py::arg("alloc"), py::arg("stream") = 0);
  m.def("feature_lp_pool", &feature_lp_pool, py::arg("x"), py::arg("norm_type"), py::arg("width"),
        py::arg("stride"), py::kw_only(), py::arg("alloc"), py::arg("stream") = 0);
  m.def("local_contrast_norm", &local_contrast_norm, py::arg("x"), py::arg("kernel_size"), py::arg("sigma"),
        py::arg("eps"), py::kw_only(), py::arg("alloc"), py::arg("stream") = 0);
  m.def("max_pool2d_backward", &max_pool2d_backward, py::arg("grad_out"), py::arg("x"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"), py::arg("indices"),
        py::kw_only(), py::arg("alloc"), py::arg("stream") = 0);
  m.def("avg_pool2d_backward", &avg_pool2d_backward, py::arg("grad_out"), py::arg("x"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding"), py::arg("ceil_mode"), py::arg("count_include_pad"),
        py::arg("divisor_override"), py::kw_only(), py::arg("alloc"), py::arg("stream") = 0);
  m.def("lp_pool2d_backward", &lp_pool2d_backward, py::arg("grad_out"), py::arg("x"), py::arg("norm_type"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("ceil_mode"), py::kw_only(), py::arg("alloc"),
        py::arg("stream") = 0);
  m.def("feature_lp_pool_backward", &feature_lp_pool_backward, py::arg("grad_out"), py::arg("x"),
        py::arg("norm_type"), py::arg("width"), py::arg("stride"), py::kw_only(), py::arg("alloc"),
        py::arg("stream") = 0);
  m.def("local_contrast_norm_backward", &local_contrast_norm_backward, py::arg("grad_out"), py::arg("x"),
        py::arg("kernel_size"), py::arg("sigma"), py::arg("eps"), py::kw_only(), py::arg("alloc"),
        py::arg("stream") = 0);

  m.def("copy_to_device", &copy_to_device, py::arg("dst"), py::arg("src"), py::arg("stream") = 0,
        "Copies the C-contiguous NumPy array src to device memory at dst and waits.");
  m.def("copy_to_host", &copy_to_host, py::arg("dst"), py::arg("src"), py::arg("stream") = 0,
        "Copies device memory at src into the C-contiguous NumPy array dst and waits.");
  m.def("device_count", &device_count, "Usable CUDA devices (0 without a driver or a device).");
  m.def("device_info", &device_info, "The current device's name and properties.");
  m.def("synchronize", &synchronize, py::arg("stream") = 0);
#if defined(CK_CUDA_EMU)
  m.def("emu_selftest", &cuda::emu_selftest, py::arg("name"),
        "Runs one of the emulator's own test kernels (cuda/emu/selftest.cu) and returns what it computed.");
#endif
}
