"""The build's CUDA option (CMakeLists.txt: CNNKERNELS_CUDA=AUTO|ON|OFF), configured with CMake on a PATH
without nvcc: ON fails with a message saying what to do, AUTO and OFF configure without cnnkernels._cuda."""

import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CMAKE = shutil.which("cmake")

pytestmark = pytest.mark.skipif(CMAKE is None, reason="cmake is not on the PATH")


def configure(tmp_path, option):
    pybind11 = pytest.importorskip("pybind11")
    env = {k: v for k, v in os.environ.items() if k not in ("CUDACXX", "CUDA_PATH", "CUDAToolkit_ROOT")}
    env["PATH"] = os.pathsep.join(["/usr/bin", "/bin", os.path.dirname(CMAKE)])  # no nvcc
    cmd = [CMAKE, "-S", str(ROOT), "-B", str(tmp_path), f"-DCNNKERNELS_CUDA={option}",
           f"-Dpybind11_DIR={pybind11.get_cmake_dir()}", f"-DPython_EXECUTABLE={shutil.which('python') or 'python3'}"]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    return run.returncode, run.stdout + run.stderr


def test_cuda_on_without_nvcc_fails_saying_what_to_do(tmp_path):
    rc, log = configure(tmp_path, "ON")
    assert rc != 0 and "CNNKERNELS_CUDA=ON but no CUDA compiler (nvcc) was found" in log


@pytest.mark.parametrize("option", ["AUTO", "OFF"])
def test_cuda_auto_or_off_without_nvcc_configures_the_other_modules(tmp_path, option):
    rc, log = configure(tmp_path, option)
    assert rc == 0, log
    if option == "AUTO":
        assert "building without cnnkernels._cuda" in log


def test_a_bad_option_value_is_refused(tmp_path):
    rc, log = configure(tmp_path, "MAYBE")
    assert rc != 0 and "CNNKERNELS_CUDA must be AUTO, ON or OFF" in log
