// simd_vec.hpp: one GCC vector of BYTES bytes of T, with unaligned loads and stores, for the per-ISA template
// headers (isa_dispatch.hpp). Include it inside the anonymous namespace of such a header, after <cstring>:
// its functions are then private to each ISA's compilation, never merged across ISAs by the linker.
#pragma once

template <typename T, int BYTES>
struct SimdVec {
  static constexpr int lanes = BYTES / static_cast<int>(sizeof(T));
  typedef T V __attribute__((vector_size(BYTES)));
  static V load(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  static void store(T* p, const V& v) { std::memcpy(p, &v, sizeof(v)); }
};
