// bindings.cpp: the Python module cnnkernels._cpu, a thin pybind11 layer over the CPU kernels.
//
// Each function checks its arrays again (dtype, rank, C-contiguity: the module is reachable from Python
// without the checks of the Python layer), builds the operation's geometry with the checks of shapes.hpp,
// allocates the output, then releases the GIL around the kernel. Errors map to Python as:
//   wrong dtype -> TypeError, ck::ArgumentError -> ValueError, ck::AllocationError -> MemoryError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "cnnkernels/cpu_features.hpp"
#include "cnnkernels/gemm.hpp"
#include "cnnkernels/kernels.hpp"
#include "cnnkernels/shapes.hpp"
#include "cnnkernels/threads.hpp"

namespace py = pybind11;

namespace ck {
namespace {

enum class DType { f32, f64 };

DType dtype_of(const py::array& a, const std::string& op, const char* name) {
  if (a.dtype().equal(py::dtype::of<float>())) return DType::f32;
  if (a.dtype().equal(py::dtype::of<double>())) return DType::f64;
  throw py::type_error(op + ": " + name + " must be float32 or float64 (native byte order), got dtype " +
                       py::str(a.dtype()).cast<std::string>());
}

// Checks rank, dtype (equal to `expected`) and layout of an input array.
void check_array(const py::array& a, const std::string& op, const char* name, py::ssize_t ndim, DType expected) {
  if (a.ndim() != ndim) {
    throw ArgumentError(op + ": " + name + " must be " + std::to_string(ndim) + "-D, got " +
                        std::to_string(a.ndim()) + "-D");
  }
  if (dtype_of(a, op, name) != expected) {
    throw py::type_error(op + ": " + name + " must have the same dtype as x");
  }
  if (!(a.flags() & py::array::c_style) || !(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_)) {
    throw ArgumentError(op + ": " + name + " must be a C-contiguous aligned array");
  }
}

template <typename T>
const T* cdata(const py::array& a) {
  return static_cast<const T*>(a.data());
}

template <typename T>
py::array_t<T> empty4(int64_t a, int64_t b, int64_t c, int64_t d) {
  return py::array_t<T>(std::vector<py::ssize_t>{a, b, c, d});
}

ConvAlgo parse_algo(const std::string& algo, const Conv2dShape& s, int64_t elem_bytes) {
  if (algo == "direct") return ConvAlgo::direct;
  if (algo == "im2col") return ConvAlgo::im2col;
  if (algo == "auto") return choose_conv2d_algo(s, elem_bytes);
  if (algo == "fft") return ConvAlgo::fft;
  throw ArgumentError("conv2d: algo must be one of 'auto', 'direct', 'im2col', 'fft', got '" + algo + "'");
}

// force: choices imposed on algo="fft"'s plan (tests use them; the default is the cost model's plan).
template <typename T>
py::array conv2d_typed(const py::array& x, const py::array& w, const std::optional<py::array>& bias,
                       std::array<int64_t, 2> stride, std::array<int64_t, 4> padding,
                       std::array<int64_t, 2> dilation, int64_t groups, const std::string& algo_name,
                       const Conv2dFftForce& force = {}) {
  const Conv2dShape s = make_conv2d_shape(x.shape(0), x.shape(1), x.shape(2), x.shape(3), w.shape(0), w.shape(1),
                                          w.shape(2), w.shape(3), stride[0], stride[1], padding[0], padding[1],
                                          padding[2], padding[3], dilation[0], dilation[1], groups, sizeof(T));
  if (bias && (bias->shape(0) != s.K)) {
    throw ArgumentError("conv2d: bias must have length K=weight.shape[0]=" + std::to_string(s.K) + ", got " +
                        std::to_string(bias->shape(0)));
  }
  const ConvAlgo algo = parse_algo(algo_name, s, sizeof(T));
  Conv2dFftPlan fft_plan;
  if (algo == ConvAlgo::fft) fft_plan = plan_conv2d_fft(s, sizeof(T), force);
  auto y = empty4<T>(s.N, s.K, s.P, s.Q);
  const T* xp = cdata<T>(x);
  const T* wp = cdata<T>(w);
  const T* bp = bias ? cdata<T>(*bias) : nullptr;
  T* yp = y.mutable_data();
  py::gil_scoped_release release;
  switch (algo) {
    case ConvAlgo::direct: conv2d_direct<T>(s, xp, wp, bp, yp); break;
    case ConvAlgo::im2col: conv2d_im2col<T>(s, xp, wp, bp, yp); break;
    case ConvAlgo::fft: conv2d_fft_with_plan<T>(s, fft_plan, xp, wp, bp, yp); break;
  }
  return y;
}

py::array conv2d(const py::array& x, const py::array& w, const std::optional<py::array>& bias,
                 std::array<int64_t, 2> stride, std::array<int64_t, 4> padding, std::array<int64_t, 2> dilation,
                 int64_t groups, const std::string& algo) {
  const DType dt = dtype_of(x, "conv2d", "x");
  check_array(x, "conv2d", "x", 4, dt);
  check_array(w, "conv2d", "weight", 4, dt);
  if (bias) check_array(*bias, "conv2d", "bias", 1, dt);
  return dt == DType::f32 ? conv2d_typed<float>(x, w, bias, stride, padding, dilation, groups, algo)
                          : conv2d_typed<double>(x, w, bias, stride, padding, dilation, groups, algo);
}

Conv2dFftForce make_force(std::array<int64_t, 2> fft_size, int order, int64_t budget_bytes) {
  Conv2dFftForce f;
  f.fft_h = fft_size[0];
  f.fft_w = fft_size[1];
  f.order = order;
  f.budget_bytes = budget_bytes;
  return f;
}

// conv2d with algo="fft" and plan choices imposed (see Conv2dFftForce): for tests of every code path.
py::array conv2d_fft_forced(const py::array& x, const py::array& w, const std::optional<py::array>& bias,
                            std::array<int64_t, 2> stride, std::array<int64_t, 4> padding,
                            std::array<int64_t, 2> dilation, int64_t groups, std::array<int64_t, 2> fft_size,
                            int order, int64_t budget_bytes) {
  const DType dt = dtype_of(x, "conv2d", "x");
  check_array(x, "conv2d", "x", 4, dt);
  check_array(w, "conv2d", "weight", 4, dt);
  if (bias) check_array(*bias, "conv2d", "bias", 1, dt);
  const Conv2dFftForce force = make_force(fft_size, order, budget_bytes);
  return dt == DType::f32 ? conv2d_typed<float>(x, w, bias, stride, padding, dilation, groups, "fft", force)
                          : conv2d_typed<double>(x, w, bias, stride, padding, dilation, groups, "fft", force);
}

const char* algo_name(ConvAlgo a) {
  switch (a) {
    case ConvAlgo::direct: return "direct";
    case ConvAlgo::im2col: return "im2col";
    case ConvAlgo::fft: return "fft";
  }
  return "?";
}

// What conv2d would do for these shapes: the algorithm (auto resolved), output shape, workspace bytes.
py::dict conv2d_plan(std::array<int64_t, 4> x, std::array<int64_t, 4> w, std::array<int64_t, 2> stride,
                     std::array<int64_t, 4> padding, std::array<int64_t, 2> dilation, int64_t groups,
                     const std::string& algo_name_in, int64_t elem_bytes, std::array<int64_t, 2> fft_size,
                     int order, int64_t budget_bytes) {
  if (elem_bytes != 4 && elem_bytes != 8) {
    throw py::type_error("conv2d_plan: dtype must be float32 or float64");
  }
  const Conv2dShape s = make_conv2d_shape(x[0], x[1], x[2], x[3], w[0], w[1], w[2], w[3], stride[0], stride[1],
                                          padding[0], padding[1], padding[2], padding[3], dilation[0],
                                          dilation[1], groups, elem_bytes);
  const ConvAlgo algo = parse_algo(algo_name_in, s, elem_bytes);
  py::dict plan;
  plan["algo"] = algo_name(algo);
  plan["output_shape"] = py::make_tuple(s.N, s.K, s.P, s.Q);
  plan["workspace_bytes"] = algo == ConvAlgo::im2col ? conv2d_im2col_workspace(s, elem_bytes) : int64_t(0);
  if (algo == ConvAlgo::fft) {
    const Conv2dFftPlan f = plan_conv2d_fft(s, elem_bytes, make_force(fft_size, order, budget_bytes));
    plan["workspace_bytes"] = f.workspace_bytes;
    plan["fft_size"] = py::make_tuple(f.fft_h, f.fft_w);
    plan["tile"] = py::make_tuple(f.tile_h, f.tile_w);
    plan["tiles"] = py::make_tuple(f.tiles_h, f.tiles_w);
    plan["tiles_total"] = s.N * f.tiles_h * f.tiles_w * s.groups;
    plan["polyphase"] = f.polyphase;
    plan["phases"] = py::make_tuple(f.phases_h, f.phases_w);
    plan["fft_kernel"] = py::make_tuple(f.kernel_h, f.kernel_w);
    plan["fft_input"] = py::make_tuple(f.in_h, f.in_w);
    plan["fft_channels"] = f.channels;
    plan["tile_batch"] = f.tile_batch;
    plan["k_block"] = f.k_block;
    plan["order"] = f.kernels_first ? "kernels_first" : "tiles_first";
    plan["passes"] = f.passes;
    plan["transforms"] = py::make_tuple(f.transforms_in, f.transforms_kernel, f.transforms_out);
    plan["complex_macs"] = f.complex_macs;
    plan["spectra_bytes"] = f.spectra_bytes;
    plan["cost_estimate"] = f.cost;
  }
  return plan;
}

// Spatial pooling: op is "max_pool2d", "avg_pool2d" or "lp_pool2d".
template <typename T>
py::object pool2d_typed(const std::string& op, const py::array& x, std::array<int64_t, 2> kernel,
                        std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                        std::array<int64_t, 2> dilation, bool ceil_mode, bool return_indices,
                        bool count_include_pad, double norm_type) {
  if (op == "lp_pool2d") check_norm_type("lp_pool2d", norm_type);
  const Pool2dShape s = make_pool2d_shape(op.c_str(), x.shape(0), x.shape(1), x.shape(2), x.shape(3), kernel[0],
                                          kernel[1], stride[0], stride[1], padding[0], padding[1], dilation[0],
                                          dilation[1], ceil_mode, sizeof(T));
  auto y = empty4<T>(s.N, s.C, s.P, s.Q);
  py::array_t<int64_t> indices;
  if (return_indices) indices = empty4<int64_t>(s.N, s.C, s.P, s.Q);
  const T* xp = cdata<T>(x);
  T* yp = y.mutable_data();
  int64_t* ip = return_indices ? indices.mutable_data() : nullptr;
  {
    py::gil_scoped_release release;
    if (op == "max_pool2d") max_pool2d<T>(s, xp, yp, ip);
    else if (op == "avg_pool2d") avg_pool2d<T>(s, count_include_pad, xp, yp);
    else lp_pool2d<T>(s, norm_type, xp, yp);
  }
  if (return_indices) return py::make_tuple(y, indices);
  return std::move(y);
}

py::object pool2d(const std::string& op, const py::array& x, std::array<int64_t, 2> kernel,
                  std::array<int64_t, 2> stride, std::array<int64_t, 2> padding, std::array<int64_t, 2> dilation,
                  bool ceil_mode, bool return_indices, bool count_include_pad, double norm_type) {
  if (op != "max_pool2d" && op != "avg_pool2d" && op != "lp_pool2d") {
    throw ArgumentError("pool2d: op must be 'max_pool2d', 'avg_pool2d' or 'lp_pool2d', got '" + op + "'");
  }
  const DType dt = dtype_of(x, op, "x");
  check_array(x, op, "x", 4, dt);
  return dt == DType::f32 ? pool2d_typed<float>(op, x, kernel, stride, padding, dilation, ceil_mode,
                                                return_indices, count_include_pad, norm_type)
                          : pool2d_typed<double>(op, x, kernel, stride, padding, dilation, ceil_mode,
                                                 return_indices, count_include_pad, norm_type);
}

template <typename T>
py::array feature_lp_pool_typed(const py::array& x, double norm_type, int64_t width, int64_t stride) {
  check_norm_type("feature_lp_pool", norm_type);
  const FeaturePoolShape s =
      make_feature_pool_shape(x.shape(0), x.shape(1), x.shape(2), x.shape(3), width, stride, sizeof(T));
  auto y = empty4<T>(s.N, s.K, s.H, s.W);
  const T* xp = cdata<T>(x);
  T* yp = y.mutable_data();
  py::gil_scoped_release release;
  feature_lp_pool<T>(s, norm_type, xp, yp);
  return y;
}

template <typename T>
py::array lcn_typed(const py::array& x, int64_t kernel_size, double sigma, double eps) {
  const LcnShape s = make_lcn_shape(x.shape(0), x.shape(1), x.shape(2), x.shape(3), kernel_size, sigma, eps,
                                    sizeof(T));
  auto y = empty4<T>(s.N, s.C, s.H, s.W);
  const T* xp = cdata<T>(x);
  T* yp = y.mutable_data();
  py::gil_scoped_release release;
  local_contrast_norm<T>(s, xp, yp);
  return y;
}

// What the CPU offers and which SIMD path the kernels take.
py::dict cpu_info() {
  py::dict info;
  info["isa"] = isa_name(active_isa());
  info["detected_isa"] = isa_name(detected_isa());
  py::list supported;
  for (Isa i : {Isa::scalar, Isa::avx2, Isa::avx512}) {
    if (isa_supported(i)) supported.append(isa_name(i));
  }
  info["supported_isas"] = supported;
  info["isa_note"] = isa_selection_note();
  info["cpu"] = cpu_model();
  info["threads"] = num_threads();
  const GemmBlocking b = gemm_blocking<float>();
  info["gemm_f32_tile"] = py::make_tuple(b.mr, b.nr);
  info["gemm_f32_blocks"] = py::make_tuple(b.mc, b.kc, b.nc);
  return info;
}

void set_isa(const std::string& name) {
  for (Isa i : {Isa::scalar, Isa::avx2, Isa::avx512}) {
    if (name == isa_name(i)) {
      if (!isa_supported(i)) throw ArgumentError("set_isa: this CPU does not support isa '" + name + "'");
      set_active_isa(i);
      return;
    }
  }
  throw ArgumentError("set_isa: isa must be 'scalar', 'avx2' or 'avx512', got '" + name + "'");
}

// C = A · B for 2-D float32/float64 arrays: the GEMM behind im2col, exposed for tests and benchmarks.
template <typename T>
py::array gemm_typed(const py::array& a, const py::array& b) {
  if (a.shape(1) != b.shape(0)) {
    throw ArgumentError("gemm: a.shape[1] must equal b.shape[0], got " + std::to_string(a.shape(1)) + " and " +
                        std::to_string(b.shape(0)));
  }
  const int64_t M = a.shape(0), K = a.shape(1), N = b.shape(1);
  py::array_t<T> c(std::vector<py::ssize_t>{M, N});
  const T* ap = cdata<T>(a);
  const T* bp = cdata<T>(b);
  T* cp = c.mutable_data();
  py::gil_scoped_release release;
  gemm<T>(M, N, K, ap, K, bp, N, cp, N, false);
  return c;
}

py::array gemm_py(const py::array& a, const py::array& b) {
  const DType dt = dtype_of(a, "gemm", "a");
  check_array(a, "gemm", "a", 2, dt);
  check_array(b, "gemm", "b", 2, dt);
  return dt == DType::f32 ? gemm_typed<float>(a, b) : gemm_typed<double>(a, b);
}

}  // namespace
}  // namespace ck

PYBIND11_MODULE(_cpu, m) {
  using namespace ck;
  m.doc() = "cnnkernels CPU kernels (NCHW, float32/float64). Use the cnnkernels package, not this module.";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const AllocationError& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    }
  });

  m.def("conv2d", &conv2d, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("algo"),
        "2-D cross-correlation; padding is (top, bottom, left, right).");
  m.def("_conv2d_fft_forced", &conv2d_fft_forced, py::arg("x"), py::arg("weight"), py::arg("bias"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups"),
        py::arg("fft_size") = std::array<int64_t, 2>{0, 0}, py::arg("order") = 0, py::arg("budget_bytes") = 0,
        "conv2d with algo='fft' and plan choices imposed, for tests: fft_size (fft_h, fft_w), order (1 kernels "
        "first, 2 tiles first), budget_bytes (memory bound); 0 leaves a choice to the cost model.");
  m.def("conv2d_plan", &conv2d_plan, py::arg("x_shape"), py::arg("weight_shape"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("algo"), py::arg("elem_bytes"),
        py::arg("fft_size") = std::array<int64_t, 2>{0, 0}, py::arg("order") = 0, py::arg("budget_bytes") = 0,
        "What conv2d would run for these shapes: algorithm, output shape, workspace bytes; with algo 'fft' "
        "also its plan (fft_size, order, budget_bytes impose choices, as in _conv2d_fft_forced).");
  m.def("pool2d", &pool2d, py::arg("op"), py::arg("x"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"), py::arg("return_indices"),
        py::arg("count_include_pad"), py::arg("norm_type"),
        "Spatial pooling; op is 'max_pool2d', 'avg_pool2d' or 'lp_pool2d'.");
  m.def(
      "feature_lp_pool",
      [](const py::array& x, double norm_type, int64_t width, int64_t stride) -> py::array {
        const DType dt = dtype_of(x, "feature_lp_pool", "x");
        check_array(x, "feature_lp_pool", "x", 4, dt);
        return dt == DType::f32 ? feature_lp_pool_typed<float>(x, norm_type, width, stride)
                                : feature_lp_pool_typed<double>(x, norm_type, width, stride);
      },
      py::arg("x"), py::arg("norm_type"), py::arg("width"), py::arg("stride"));
  m.def(
      "local_contrast_norm",
      [](const py::array& x, int64_t kernel_size, double sigma, double eps) -> py::array {
        const DType dt = dtype_of(x, "local_contrast_norm", "x");
        check_array(x, "local_contrast_norm", "x", 4, dt);
        return dt == DType::f32 ? lcn_typed<float>(x, kernel_size, sigma, eps)
                                : lcn_typed<double>(x, kernel_size, sigma, eps);
      },
      py::arg("x"), py::arg("kernel_size"), py::arg("sigma"), py::arg("eps"));
  m.def("cpu_info", &cpu_info, "CPU model, supported and active SIMD paths, GEMM blocking.");
  m.def("set_isa", &set_isa, py::arg("isa"), "Force the SIMD path: 'scalar', 'avx2' or 'avx512' (tests).");
  m.def("gemm", &gemm_py, py::arg("a"), py::arg("b"), "C = a @ b with the library's GEMM.");
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("get_num_threads", &num_threads);
}
