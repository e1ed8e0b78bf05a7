// EMBER_HD marks small math functions shared by the CPU reference and the
// CUDA kernels (the same source computes the same element on both sides).
#pragma once
#if defined(__CUDACC__)
#define EMBER_HD __host__ __device__ __forceinline__
#else
#define EMBER_HD inline
#endif
