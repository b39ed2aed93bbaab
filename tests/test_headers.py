"""The shared headers (csrc/include/cnnkernels/) are what the CUDA twins include: each must compile
standalone with nvcc, and their CK_HD shape arithmetic must be callable from a __global__ function.
Skipped where nvcc is not on the PATH."""

import pathlib
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
INCLUDE = ROOT / "csrc" / "include"
HEADERS = sorted(p.name for p in (INCLUDE / "cnnkernels").glob("*.hpp"))
NVCC = shutil.which("nvcc")

pytestmark = pytest.mark.skipif(NVCC is None, reason="nvcc is not on the PATH")

# Every CK_HD function of the shared headers, called from device code.
KERNEL = r"""
#include "cnnkernels/checks.hpp"
#include "cnnkernels/kernels.hpp"
#include "cnnkernels/lp.hpp"
#include "cnnkernels/shapes.hpp"

__global__ void shape_arithmetic(ck::Conv2dShape c, ck::Pool2dShape p, int64_t* out, double* real, float* f) {
  int64_t lo = 0, hi = 0;
  out[0] = ck::output_size(c.H, c.R, c.stride_h, c.pad_top, c.pad_bottom, c.dil_h, false);
  ck::inside_range(int64_t(-1), 2, c.W, c.Q, &lo, &hi);
  out[1] = lo + hi;
  out[2] = c.C_per_group() + c.K_per_group() + c.is_pointwise() + c.output().numel() + c.weight().numel() +
           c.input().numel();
  ck::window_taps(int64_t(threadIdx.x), p.H, p.R, p.stride_h, p.pad_h, p.dil_h, &lo, &hi);
  int lo32 = 0, hi32 = 0;  // the index helpers in 32 bits, as the CUDA kernels use them
  ck::covering_outputs(int(threadIdx.x), 5, 3, 2, 1, &lo32, &hi32);
  ck::window_taps(int(threadIdx.x), 9, 3, 2, 1, 1, &lo32, &hi32);
  out[9] = lo32 + hi32;
  out[3] = hi - lo;
  ck::interior_outputs(p.P, p.H, p.R, p.stride_h, p.pad_h, p.dil_h, &lo, &hi);
  out[4] = hi - lo + p.output().numel() + p.input().numel();
  out[5] = ck::avg_pool_divisor(p, 0, 0, true, 0) + ck::avg_pool_count(1, p.W, p.S, p.stride_w, p.pad_w, false);
  out[6] = ck::ceil_div(out[0], 3) + ck::round_up(out[1], 4) + ck::min64(lo, hi) + ck::max64(lo, hi);
  real[0] = ck::lcn_gaussian_tap(threadIdx.x % 5, 5, 1.5) + ck::lcn_border_weight(0, 7, 5, 1.5);
  const ck::LpNorm norm(3.0);
  f[0] = norm.root(norm.power(f[0]) + norm.power(f[1]));
  real[1] = ck::LpNorm(2.0).root(real[1]);
  const ck::FeaturePoolShape fp{1, 4, 2, 2, 2, 2, 2};
  const ck::LcnShape lcn{1, 3, 4, 4, 5, 1.5, 1e-4};
  out[7] = fp.output().numel() + lcn.output().numel() + fp.input().numel() + lcn.input().numel();
  out[8] = static_cast<int64_t>(ck::ConvAlgo::fft);
}
"""


def nvcc(source, tmp_path, name):
    src = tmp_path / f"{name}.cu"
    src.write_text(source)
    cmd = [NVCC, "-x", "cu", "-std=c++17", "-arch=sm_80", "-I", str(INCLUDE), "-c", str(src),
           "-o", str(tmp_path / f"{name}.o")]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return run.returncode, run.stdout + run.stderr


def test_every_shared_header_compiles_standalone_with_nvcc(tmp_path):
    assert {"config.hpp", "shapes.hpp", "checks.hpp", "kernels.hpp", "lp.hpp"} <= set(HEADERS)
    with ThreadPoolExecutor(2) as pool:
        results = pool.map(lambda h: (h, *nvcc(f'#include "cnnkernels/{h}"\n', tmp_path, h[:-4])), HEADERS)
        failures = [f"{h}:\n{log}" for h, rc, log in results if rc != 0]
    assert not failures, "\n".join(failures)


def test_shape_arithmetic_is_callable_from_a_global_function(tmp_path):
    rc, log = nvcc(KERNEL, tmp_path, "kernel")
    assert rc == 0, log


def test_only_shared_headers_are_in_the_shared_folder():
    # CPU-only headers (threads, CPU features, GEMM, FFT) live beside the CPU code in csrc/.
    for cpu_only in ("threads.hpp", "cpu_features.hpp", "gemm.hpp", "fft.hpp"):
        assert cpu_only not in HEADERS
        assert (ROOT / "csrc" / cpu_only).exists()
