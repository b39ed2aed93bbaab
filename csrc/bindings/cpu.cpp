// cpu.cpp: the Python module cnnkernels._cpu, a thin pybind11 layer over the CPU kernels: one function per
// kernel (conv2d_direct, conv2d_im2col, conv2d_fft, max_pool2d, ..., and each one's backward:
// conv2d_backward_input_<algo>, conv2d_backward_weight_<algo>, conv2d_backward_bias, max_pool2d_backward, ...),
// conv2d_plan, and the machine controls.
//
// Each kernel function checks its arrays again (dtype, rank, C-contiguity: the module is reachable from
// Python without the checks of the Python layer), builds the geometry with the checks of checks.hpp,
// allocates the output, then releases the GIL around the kernel. Arguments come in the order of the Python
// API; pairs are (h, w) and conv2d's padding is (top, bottom, left, right).
#include <optional>
#include <string>
#include <vector>

#include "bindings/common.hpp"
#include "cnnkernels/checks.hpp"
#include "cnnkernels/kernels.hpp"
#include "conv2d_fft.hpp"
#include "conv2d_plan.hpp"
#include "conv2d_winograd.hpp"
#include "cpu_features.hpp"
#include "gemm.hpp"
#include "workspace.hpp"
#include "threads.hpp"

namespace ck {
namespace {

namespace py = pybind11;
using bind::DType;
using Pair = std::array<int64_t, 2>;
using Quad = std::array<int64_t, 4>;

template <typename T>
py::array_t<T> empty(const Dims4& d) {
  return py::array_t<T>(std::vector<py::ssize_t>{d.n, d.c, d.h, d.w});
}

template <typename T>
const T* cdata(const py::array& a) {
  return static_cast<const T*>(a.data());
}

// A fresh output of these dims, filled by kernel(y) with the GIL released.
template <typename T, typename Kernel>
py::array_t<T> run_into_new(const Dims4& dims, Kernel&& kernel) {
  auto y = empty<T>(dims);
  T* yp = y.mutable_data();
  py::gil_scoped_release release;
  kernel(yp);
  return y;
}

// ---------------------------------------------------------------------------------------------------------
// conv2d

// A plan of conv2d_plan, bound as an opaque Python object: the geometry it was made for, and what runs.
struct BoundConv2dPlan {
  Conv2dShape shape;
  int64_t elem_bytes;
  Conv2dPlan plan;

  bool made_for(const Conv2dShape& s, int64_t bytes, ConvDirection direction) const {
    return bytes == elem_bytes && direction == plan.direction && bind::same_conv_geometry(shape, s);
  }
};

// "auto" -> nullopt, an algorithm name -> its ConvAlgo.
std::optional<ConvAlgo> parse_conv_algo(const std::string& name) {
  if (name == "auto") return std::nullopt;
  std::string names = "'auto'";
  for (int i = 0; i < kConvAlgoCount; ++i) {
    if (name == kConvAlgoNames[i]) return static_cast<ConvAlgo>(i);
    names += std::string(", '") + kConvAlgoNames[i] + "'";
  }
  throw ArgumentError("conv2d: algo must be one of " + names + ", got '" + name + "'");
}

// What conv2d would run for these shapes (algo "auto" resolved by the cost model), for the forward output or
// one gradient (direction); fft_size, order and budget_bytes impose choices on an fft plan (tests), 0 leaving
// them to the cost model.
BoundConv2dPlan conv2d_plan(const Quad& x, const Quad& w, const Pair& stride, const Quad& padding,
                            const Pair& dilation, int64_t groups, const std::string& algo, int64_t elem_bytes,
                            const Pair& fft_size, int order, int64_t budget_bytes, const std::string& direction,
                            int winograd_tile) {
  bind::dtype_of_size("conv2d_plan", elem_bytes);
  const Conv2dShape s = make_conv2d_shape(bind::dims_of(x), bind::dims_of(w),
                                          bind::conv2d_params(stride, padding, dilation, groups), elem_bytes);
  Conv2dFftForce force;
  force.fft_h = fft_size[0];
  force.fft_w = fft_size[1];
  force.order = order;
  force.budget_bytes = budget_bytes;
  return BoundConv2dPlan{s, elem_bytes,
                         plan_conv2d(s, elem_bytes, parse_conv_algo(algo), force, bind::parse_conv_direction(direction),
                                     winograd_tile)};
}

py::dict plan_info(const BoundConv2dPlan& bp) {
  const Conv2dShape& s = bp.shape;
  py::dict info;
  const ConvDirection dir = bp.plan.direction;
  info["algo"] = conv_algo_name(bp.plan.algo);
  info["direction"] = conv_direction_name(dir);
  const Dims4 out = dir == ConvDirection::forward          ? s.output()
                    : dir == ConvDirection::backward_input ? s.input()
                                                           : s.weight();
  info["output_shape"] = py::make_tuple(out.n, out.c, out.h, out.w);
  info["workspace_bytes"] = bp.plan.workspace_bytes;
  if (bp.plan.algo == ConvAlgo::winograd) info["winograd_tile"] = bp.plan.winograd_tile;
  if (bp.plan.algo == ConvAlgo::fft) {
    // The FFT convolution that runs: s itself, or the stride-1 / traded problem of a gradient (shapes.hpp).
    const Conv2dShape fs = dir == ConvDirection::forward          ? s
                           : dir == ConvDirection::backward_input ? grad_input_problem(s, false)
                                                                  : grad_weight_problem(s);
    const int64_t calls = dir == ConvDirection::backward_weight ? s.groups : 1;
    const Conv2dFftPlan& f = bp.plan.fft;
    info["fft_size"] = py::make_tuple(f.fft_h, f.fft_w);
    info["tile"] = py::make_tuple(f.tile_h, f.tile_w);
    info["tiles"] = py::make_tuple(f.tiles_h, f.tiles_w);
    info["tiles_total"] = calls * fs.N * f.tiles_h * f.tiles_w * fs.groups;
    info["polyphase"] = f.polyphase;
    info["phases"] = py::make_tuple(f.phases_h, f.phases_w);
    info["fft_kernel"] = py::make_tuple(f.kernel_h, f.kernel_w);
    info["fft_input"] = py::make_tuple(f.in_h, f.in_w);
    info["fft_channels"] = f.channels;
    info["tile_batch"] = f.tile_batch;
    info["k_block"] = f.k_block;
    info["order"] = f.kernels_first ? "kernels_first" : "tiles_first";
    info["passes"] = f.passes;
    info["transforms"] = py::make_tuple(f.transforms_in, f.transforms_kernel, f.transforms_out);
    info["complex_macs"] = f.complex_macs;
    info["spectra_bytes"] = f.spectra_bytes;
    info["cost_estimate"] = f.cost;
  }
  return info;
}

// The kernel of `algo`, run as the plan says (plan: one of conv2d_plan for this geometry and algorithm, or
// none: planned here).
py::array run_conv2d(ConvAlgo algo, const py::array& x, const py::array& w, const std::optional<py::array>& bias,
                     const Pair& stride, const Quad& padding, const Pair& dilation, int64_t groups,
                     const BoundConv2dPlan* plan) {
  const std::string op = "conv2d";
  const DType dt = bind::dtype_of(x, op, "x");
  bind::check_array(x, op, "x", 4, dt);
  bind::check_array(w, op, "weight", 4, dt);
  if (bias) bind::check_array(*bias, op, "bias", 1, dt);
  return bind::dispatch(dt, [&](auto zero) -> py::array {
    using T = decltype(zero);
    const Conv2dShape s = make_conv2d_shape(bind::dims_of(x), bind::dims_of(w),
                                            bind::conv2d_params(stride, padding, dilation, groups), sizeof(T));
    if (bias && bias->shape(0) != s.K) {
      throw ArgumentError("conv2d: bias must have length K=weight.shape[0]=" + std::to_string(s.K) + ", got " +
                          std::to_string(bias->shape(0)));
    }
    if (plan && (plan->plan.algo != algo || !plan->made_for(s, sizeof(T), ConvDirection::forward))) {
      throw ArgumentError(std::string("conv2d_") + conv_algo_name(algo) +
                          ": plan was made for another algorithm, geometry or dtype");
    }
    const Conv2dFftPlan fft_plan =
        algo != ConvAlgo::fft ? Conv2dFftPlan{} : plan ? plan->plan.fft : plan_conv2d_fft(s, sizeof(T));
    if (algo == ConvAlgo::winograd) check_conv2d_winograd(s);
    const int winograd_tile = plan ? plan->plan.winograd_tile : kWinogradDefaultTile;
    auto y = empty<T>(s.output());
    const T* xp = cdata<T>(x);
    const T* wp = cdata<T>(w);
    const T* bp = bias ? cdata<T>(*bias) : nullptr;
    T* yp = y.mutable_data();
    py::gil_scoped_release release;
    switch (algo) {
      case ConvAlgo::direct: cpu::conv2d_direct<T>(s, xp, wp, bp, yp); break;
      case ConvAlgo::im2col: cpu::conv2d_im2col<T>(s, xp, wp, bp, yp); break;
      case ConvAlgo::fft: cpu::conv2d_fft<T>(s, fft_plan, xp, wp, bp, yp); break;
      case ConvAlgo::winograd: cpu::conv2d_winograd<T>(s, winograd_tile, xp, wp, bp, yp); break;
    }
    return std::move(y);
  });
}

// conv2d's gradients. Each gradient kernel gets grad_out, the forward operand it needs (weight for the data
// gradient, x for the weight gradient) and the other operand's shape.

enum class Grad { input, weight };

py::array run_conv2d_backward(Grad grad, ConvAlgo algo, const py::array& gy, const py::array& operand,
                              const Quad& other_shape, const Pair& stride, const Quad& padding,
                              const Pair& dilation, int64_t groups, const BoundConv2dPlan* plan) {
  const std::string op = "conv2d_backward";
  const char* operand_name = grad == Grad::input ? "weight" : "x";
  const DType dt = bind::dtype_of(gy, op, "grad_out");
  bind::check_array(gy, op, "grad_out", 4, dt);
  bind::check_array(operand, op, operand_name, 4, dt);
  return bind::dispatch(dt, [&](auto zero) -> py::array {
    using T = decltype(zero);
    const Dims4 x = grad == Grad::input ? bind::dims_of(other_shape) : bind::dims_of(operand);
    const Dims4 w = grad == Grad::input ? bind::dims_of(operand) : bind::dims_of(other_shape);
    const Conv2dShape s =
        make_conv2d_shape(x, w, bind::conv2d_params(stride, padding, dilation, groups), sizeof(T));
    check_grad_out(op, bind::dims_of(gy), s.output());
    const ConvDirection dir = grad == Grad::input ? ConvDirection::backward_input : ConvDirection::backward_weight;
    if (plan && (plan->plan.algo != algo || !plan->made_for(s, sizeof(T), dir))) {
      throw ArgumentError(op + ": plan was made for another direction, algorithm, geometry or dtype");
    }
    const Conv2dPlan p = plan ? plan->plan : plan_conv2d(s, sizeof(T), algo, {}, dir);
    auto out = empty<T>(grad == Grad::input ? s.input() : s.weight());
    const T* gp = cdata<T>(gy);
    const T* op_p = cdata<T>(operand);
    T* o = out.mutable_data();
    py::gil_scoped_release release;
    if (grad == Grad::input) {
      switch (algo) {
        case ConvAlgo::direct: cpu::conv2d_backward_input_direct<T>(s, gp, op_p, o); break;
        case ConvAlgo::im2col: cpu::conv2d_backward_input_im2col<T>(s, gp, op_p, o); break;
        case ConvAlgo::fft: cpu::conv2d_backward_input_fft<T>(s, p.fft, gp, op_p, o); break;
        case ConvAlgo::winograd: cpu::conv2d_backward_input_winograd<T>(s, p.winograd_tile, gp, op_p, o); break;
      }
    } else {
      switch (algo) {
        case ConvAlgo::direct: cpu::conv2d_backward_weight_direct<T>(s, gp, op_p, o); break;
        case ConvAlgo::im2col: cpu::conv2d_backward_weight_im2col<T>(s, gp, op_p, o); break;
        case ConvAlgo::fft: cpu::conv2d_backward_weight_fft<T>(s, p.fft, gp, op_p, o); break;
        case ConvAlgo::winograd: break;  // plan_conv2d refused it
      }
    }
    return std::move(out);
  });
}

// grad_bias: grad_out summed over the batch and the pixels.
py::array conv2d_backward_bias(const py::array& gy) {
  const std::string op = "conv2d_backward";
  const DType dt = bind::dtype_of(gy, op, "grad_out");
  bind::check_array(gy, op, "grad_out", 4, dt);
  return bind::dispatch(dt, [&](auto zero) -> py::array {
    using T = decltype(zero);
    const Dims4 d = bind::dims_of(gy);
    Conv2dShape s{};
    s.N = d.n;
    s.K = d.c;
    s.P = d.h;
    s.Q = d.w;
    py::array_t<T> gb(std::vector<py::ssize_t>{d.c});
    const T* gp = cdata<T>(gy);
    T* b = gb.mutable_data();
    py::gil_scoped_release release;
    cpu::conv2d_backward_bias<T>(s, gp, b);
    return std::move(gb);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Pooling and LCN

// Checks x and calls body(T{}, dims of x) with T its element type.
template <typename Body>
py::object with_input(const std::string& op, const py::array& x, Body&& body) {
  const DType dt = bind::dtype_of(x, op, "x");
  bind::check_array(x, op, "x", 4, dt);
  return bind::dispatch(dt, [&](auto zero) -> py::object { return body(zero, bind::dims_of(x)); });
}

py::object max_pool2d(const py::array& x, const Pair& kernel, const Pair& stride, const Pair& padding,
                      const Pair& dilation, bool ceil_mode, bool return_indices) {
  return with_input("max_pool2d", x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const Pool2dShape s =
        make_pool2d_shape("max_pool2d", d, bind::pool_params(kernel, stride, padding, dilation, ceil_mode), sizeof(T));
    auto y = empty<T>(s.output());
    py::array_t<int64_t> indices;
    if (return_indices) indices = empty<int64_t>(s.output());
    const T* xp = cdata<T>(x);
    T* yp = y.mutable_data();
    int64_t* ip = return_indices ? indices.mutable_data() : nullptr;
    {
      py::gil_scoped_release release;
      cpu::max_pool2d<T>(s, xp, yp, ip);
    }
    if (return_indices) return py::make_tuple(y, indices);
    return std::move(y);
  });
}

py::object avg_pool2d(const py::array& x, const Pair& kernel, const Pair& stride, const Pair& padding,
                      bool ceil_mode, bool count_include_pad, std::optional<int64_t> divisor_override) {
  if (divisor_override) check_divisor_override(*divisor_override);
  return with_input("avg_pool2d", x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const Pool2dShape s =
        make_pool2d_shape("avg_pool2d", d, bind::pool_params(kernel, stride, padding, {1, 1}, ceil_mode), sizeof(T));
    return run_into_new<T>(s.output(), [&](T* y) {
      cpu::avg_pool2d<T>(s, count_include_pad, divisor_override.value_or(0), cdata<T>(x), y);
    });
  });
}

py::object lp_pool2d(const py::array& x, double norm_type, const Pair& kernel, const Pair& stride,
                     bool ceil_mode) {
  check_norm_type("lp_pool2d", norm_type);
  return with_input("lp_pool2d", x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const Pool2dShape s =
        make_pool2d_shape("lp_pool2d", d, bind::pool_params(kernel, stride, {0, 0}, {1, 1}, ceil_mode), sizeof(T));
    return run_into_new<T>(s.output(), [&](T* y) { cpu::lp_pool2d<T>(s, norm_type, cdata<T>(x), y); });
  });
}

py::object feature_lp_pool(const py::array& x, double norm_type, int64_t width, int64_t stride) {
  check_norm_type("feature_lp_pool", norm_type);
  return with_input("feature_lp_pool", x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const FeaturePoolShape s = make_feature_pool_shape(d, width, stride, sizeof(T));
    return run_into_new<T>(s.output(), [&](T* y) { cpu::feature_lp_pool<T>(s, norm_type, cdata<T>(x), y); });
  });
}

py::object local_contrast_norm(const py::array& x, int64_t kernel_size, double sigma, double eps) {
  return with_input("local_contrast_norm", x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const LcnShape s = make_lcn_shape(d, kernel_size, sigma, eps, sizeof(T));
    return run_into_new<T>(s.output(), [&](T* y) { cpu::local_contrast_norm<T>(s, cdata<T>(x), y); });
  });
}

// The backward passes: grad_out checked against the forward output's dims, gx of x's dims.

// Checks grad_out (dtype of x, the forward output's dims) and returns gx from kernel(gy, gx).
template <typename T, typename Kernel>
py::array grad_into_new(const std::string& op, const py::array& gy, const Dims4& x, const Dims4& y,
                        Kernel&& kernel) {
  if (gy.ndim() != 4) {
    throw ArgumentError(op + ": grad_out must have the forward output's shape " + detail::dims_str(y) + ", got " +
                        std::to_string(gy.ndim()) + "-D");
  }
  bind::check_array(gy, op, "grad_out", 4, bind::dtype_of_size(op, sizeof(T)));
  check_grad_out(op, bind::dims_of(gy), y);
  const T* gp = cdata<T>(gy);
  return run_into_new<T>(x, [&](T* gx) { kernel(gp, gx); });
}

py::object max_pool2d_backward(const py::array& gy, const py::array& x, const Pair& kernel, const Pair& stride,
                               const Pair& padding, const Pair& dilation, bool ceil_mode,
                               const std::optional<py::array>& indices) {
  const std::string op = "max_pool2d_backward";
  return with_input(op, x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const Pool2dShape s =
        make_pool2d_shape(op, d, bind::pool_params(kernel, stride, padding, dilation, ceil_mode), sizeof(T));
    const int64_t* ip = nullptr;
    if (indices) {
      if (!indices->dtype().equal(py::dtype::of<int64_t>())) {
        throw py::type_error(op + ": indices must be int64 (as max_pool2d returns them)");
      }
      if (indices->ndim() != 4 || !(indices->flags() & py::array::c_style)) {
        throw ArgumentError(op + ": indices must be a C-contiguous 4-D array");
      }
      const Dims4 id = bind::dims_of(*indices), out = s.output();
      if (id.n != out.n || id.c != out.c || id.h != out.h || id.w != out.w) {
        throw ArgumentError(op + ": indices must have the forward output's shape " + detail::dims_str(out) +
                            ", got " + detail::dims_str(id));
      }
      ip = static_cast<const int64_t*>(indices->data());
    }
    return grad_into_new<T>(op, gy, d, s.output(), [&](const T* g, T* gx) {
      cpu::max_pool2d_backward<T>(s, g, cdata<T>(x), ip, gx);
    });
  });
}

py::object avg_pool2d_backward(const py::array& gy, const py::array& x, const Pair& kernel, const Pair& stride,
                               const Pair& padding, bool ceil_mode, bool count_include_pad,
                               std::optional<int64_t> divisor_override) {
  if (divisor_override) check_divisor_override(*divisor_override);
  const std::string op = "avg_pool2d_backward";
  return with_input(op, x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const Pool2dShape s =
        make_pool2d_shape(op, d, bind::pool_params(kernel, stride, padding, {1, 1}, ceil_mode), sizeof(T));
    return grad_into_new<T>(op, gy, d, s.output(), [&](const T* g, T* gx) {
      cpu::avg_pool2d_backward<T>(s, count_include_pad, divisor_override.value_or(0), g, gx);
    });
  });
}

py::object lp_pool2d_backward(const py::array& gy, const py::array& x, double norm_type, const Pair& kernel,
                              const Pair& stride, bool ceil_mode) {
  check_norm_type("lp_pool2d_backward", norm_type);
  const std::string op = "lp_pool2d_backward";
  return with_input(op, x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const Pool2dShape s =
        make_pool2d_shape(op, d, bind::pool_params(kernel, stride, {0, 0}, {1, 1}, ceil_mode), sizeof(T));
    return grad_into_new<T>(op, gy, d, s.output(), [&](const T* g, T* gx) {
      cpu::lp_pool2d_backward<T>(s, norm_type, g, cdata<T>(x), gx);
    });
  });
}

py::object feature_lp_pool_backward(const py::array& gy, const py::array& x, double norm_type, int64_t width,
                                    int64_t stride) {
  check_norm_type("feature_lp_pool_backward", norm_type);
  const std::string op = "feature_lp_pool_backward";
  return with_input(op, x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const FeaturePoolShape s = make_feature_pool_shape(d, width, stride, sizeof(T));
    return grad_into_new<T>(op, gy, d, s.output(), [&](const T* g, T* gx) {
      cpu::feature_lp_pool_backward<T>(s, norm_type, g, cdata<T>(x), gx);
    });
  });
}

py::object local_contrast_norm_backward(const py::array& gy, const py::array& x, int64_t kernel_size,
                                        double sigma, double eps) {
  const std::string op = "local_contrast_norm_backward";
  return with_input(op, x, [&](auto zero, const Dims4& d) -> py::object {
    using T = decltype(zero);
    const LcnShape s = make_lcn_shape(d, kernel_size, sigma, eps, sizeof(T));
    return grad_into_new<T>(op, gy, d, s.output(), [&](const T* g, T* gx) {
      cpu::local_contrast_norm_backward<T>(s, g, cdata<T>(x), gx);
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// The machine

constexpr Isa kIsas[] = {Isa::scalar, Isa::avx2, Isa::avx512};

// What the CPU offers and which SIMD path the kernels take.
py::dict cpu_info() {
  py::dict info;
  info["isa"] = isa_name(active_isa());
  info["detected_isa"] = isa_name(detected_isa());
  py::list supported;
  for (Isa i : kIsas) {
    if (isa_supported(i)) supported.append(isa_name(i));
  }
  info["supported_isas"] = supported;
  info["isa_note"] = isa_selection_note();
  info["cpu"] = cpu_model();
  info["threads"] = num_threads();
  info["max_threads"] = max_num_threads();
  const GemmBlocking b = gemm_blocking<float>();
  info["gemm_f32_tile"] = py::make_tuple(b.mr, b.nr);
  info["gemm_f32_blocks"] = py::make_tuple(b.mc, b.kc, b.nc);
  return info;
}

void set_isa(const std::string& name) {
  for (Isa i : kIsas) {
    if (name == isa_name(i)) {
      if (!isa_supported(i)) throw ArgumentError("set_isa: this CPU does not support isa '" + name + "'");
      set_active_isa(i);
      return;
    }
  }
  throw ArgumentError("set_isa: isa must be 'scalar', 'avx2' or 'avx512', got '" + name + "'");
}

// C = A · B for 2-D float32/float64 arrays: the GEMM behind im2col, exposed for tests and benchmarks.
py::array gemm_py(const py::array& a, const py::array& b) {
  const DType dt = bind::dtype_of(a, "gemm", "a");
  bind::check_array(a, "gemm", "a", 2, dt);
  bind::check_array(b, "gemm", "b", 2, dt);
  if (a.shape(1) != b.shape(0)) {
    throw ArgumentError("gemm: a.shape[1] must equal b.shape[0], got " + std::to_string(a.shape(1)) + " and " +
                        std::to_string(b.shape(0)));
  }
  return bind::dispatch(dt, [&](auto zero) -> py::array {
    using T = decltype(zero);
    const int64_t M = a.shape(0), K = a.shape(1), N = b.shape(1);
    py::array_t<T> c(std::vector<py::ssize_t>{M, N});
    const T* ap = cdata<T>(a);
    const T* bp = cdata<T>(b);
    T* cp = c.mutable_data();
    py::gil_scoped_release release;
    gemm<T>(M, N, K, ap, K, bp, N, cp, N, false);
    return std::move(c);
  });
}

}  // namespace
}  // namespace ck

PYBIND11_MODULE(_cpu, m) {
  using namespace ck;
  namespace py = pybind11;
  m.doc() = "cnnkernels CPU kernels (NCHW, float32/float64). Use the cnnkernels package, not this module.";
  bind::register_errors();

  py::tuple algos(kConvAlgoCount);
  for (int i = 0; i < kConvAlgoCount; ++i) algos[i] = kConvAlgoNames[i];
  m.attr("CONV2D_ALGOS") = algos;

  py::class_<BoundConv2dPlan>(m, "Conv2dPlan", "What conv2d runs for one geometry (from conv2d_plan).")
      .def_property_readonly("algo", [](const BoundConv2dPlan& p) { return conv_algo_name(p.plan.algo); })
      .def("info", &plan_info, "The plan as a dict: algo, output_shape, workspace_bytes, and fft's plan.");
  m.def("conv2d_plan", &conv2d_plan, py::arg("x_shape"), py::arg("weight_shape"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("algo"), py::arg("elem_bytes"),
        py::arg("fft_size") = Pair{0, 0}, py::arg("order") = 0, py::arg("budget_bytes") = 0,
        py::arg("direction") = "forward", py::arg("winograd_tile") = 0,
        "What conv2d (direction 'forward') or one of its gradients ('backward_input', 'backward_weight') would "
        "run for these shapes ('auto' resolved by the cost model). fft_size (h, w), order (1 kernels first, 2 "
        "tiles first) and budget_bytes impose choices on an fft plan, winograd_tile (2 or 4) Winograd's output "
        "tile; 0 leaves them free.");
  for (int i = 0; i < kConvAlgoCount; ++i) {
    const ConvAlgo algo = static_cast<ConvAlgo>(i);
    m.def(
        (std::string("conv2d_") + kConvAlgoNames[i]).c_str(),
        [algo](const py::array& x, const py::array& w, const std::optional<py::array>& bias, const Pair& stride,
               const Quad& padding, const Pair& dilation, int64_t groups, const BoundConv2dPlan* plan) {
          return run_conv2d(algo, x, w, bias, stride, padding, dilation, groups, plan);
        },
        py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("groups"), py::arg("plan") = nullptr,
        "2-D cross-correlation by this algorithm; padding is (top, bottom, left, right); plan: from conv2d_plan "
        "for this geometry and algorithm, or None.");
  }
  for (int i = 0; i < kConvAlgoCount; ++i) {
    const ConvAlgo algo = static_cast<ConvAlgo>(i);
    m.def(
        (std::string("conv2d_backward_input_") + kConvAlgoNames[i]).c_str(),
        [algo](const py::array& gy, const py::array& w, const Quad& x_shape, const Pair& stride,
               const Quad& padding, const Pair& dilation, int64_t groups, const BoundConv2dPlan* plan) {
          return run_conv2d_backward(Grad::input, algo, gy, w, x_shape, stride, padding, dilation, groups, plan);
        },
        py::arg("grad_out"), py::arg("weight"), py::arg("x_shape"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("groups"), py::arg("plan") = nullptr,
        "conv2d's gradient with respect to x by this algorithm (plan: conv2d_plan(direction='backward_input')).");
    m.def(
        (std::string("conv2d_backward_weight_") + kConvAlgoNames[i]).c_str(),
        [algo](const py::array& gy, const py::array& x, const Quad& w_shape, const Pair& stride,
               const Quad& padding, const Pair& dilation, int64_t groups, const BoundConv2dPlan* plan) {
          return run_conv2d_backward(Grad::weight, algo, gy, x, w_shape, stride, padding, dilation, groups, plan);
        },
        py::arg("grad_out"), py::arg("x"), py::arg("weight_shape"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("groups"), py::arg("plan") = nullptr,
        "conv2d's gradient with respect to weight (plan: conv2d_plan(direction='backward_weight')).");
  }
  m.def("conv2d_backward_bias", &conv2d_backward_bias, py::arg("grad_out"),
        "conv2d's gradient with respect to bias: grad_out summed over N, P and Q.");
  m.def("max_pool2d_backward", &max_pool2d_backward, py::arg("grad_out"), py::arg("x"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"), py::arg("indices"));
  m.def("avg_pool2d_backward", &avg_pool2d_backward, py::arg("grad_out"), py::arg("x"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding"), py::arg("ceil_mode"), py::arg("count_include_pad"),
        py::arg("divisor_override"));
  m.def("lp_pool2d_backward", &lp_pool2d_backward, py::arg("grad_out"), py::arg("x"), py::arg("norm_type"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("ceil_mode"));
  m.def("feature_lp_pool_backward", &feature_lp_pool_backward, py::arg("grad_out"), py::arg("x"),
        py::arg("norm_type"), py::arg("width"), py::arg("stride"));
  m.def("local_contrast_norm_backward", &local_contrast_norm_backward, py::arg("grad_out"), py::arg("x"),
        py::arg("kernel_size"), py::arg("sigma"), py::arg("eps"));
  m.def("max_pool2d", &max_pool2d, py::arg("x"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("ceil_mode"), py::arg("return_indices"));
  m.def("avg_pool2d", &avg_pool2d, py::arg("x"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
        py::arg("ceil_mode"), py::arg("count_include_pad"), py::arg("divisor_override"));
  m.def("lp_pool2d", &lp_pool2d, py::arg("x"), py::arg("norm_type"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("ceil_mode"));
  m.def("feature_lp_pool", &feature_lp_pool, py::arg("x"), py::arg("norm_type"), py::arg("width"),
        py::arg("stride"));
  m.def("local_contrast_norm", &local_contrast_norm, py::arg("x"), py::arg("kernel_size"), py::arg("sigma"),
        py::arg("eps"));
  m.def("cpu_info", &cpu_info, "CPU model, supported and active SIMD paths, threads, GEMM blocking.");
  m.def("set_isa", &set_isa, py::arg("isa"), "Force the SIMD path: 'scalar', 'avx2' or 'avx512' (tests).");
  m.def("gemm", &gemm_py, py::arg("a"), py::arg("b"), "C = a @ b with the library's GEMM.");
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("get_num_threads", &num_threads);
  m.def(
      "release_workspace", [] {
        py::gil_scoped_release release;
        release_workspace();
      },
      "Free the scratch memory the kernels keep for reuse by this thread (and its OpenMP team).");
  m.def("cached_workspace_bytes", &cached_workspace_bytes, "Bytes of scratch memory this thread keeps (tests).");
}
