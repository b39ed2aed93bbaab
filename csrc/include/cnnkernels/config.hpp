// config.hpp: the macro that lets shared code run on both sides of a CUDA build.
//
// CK_HD marks a function that CPU kernels, CUDA kernels (__global__ / __device__ code) and the CUDA-on-CPU
// emulation all call: __host__ __device__ under nvcc, nothing for a plain C++ compiler (the emulation
// header defines __host__ and __device__ away as well). Only headers in csrc/include/cnnkernels/ use it;
// they must compile standalone with `nvcc -x cu -std=c++17 -c` (tests/test_headers.py checks that).
#pragma once

#if defined(__CUDACC__)
#define CK_HD __host__ __device__
#else
#define CK_HD
#endif
