// isa_dispatch.hpp: the one pattern by which an operation's SIMD code is compiled once per instruction set
// and chosen at run time (the package is built for any x86-64: no -march flags).
//
// An operation with per-ISA code has:
//   - <op>_kernels.hpp: its table, a struct of function pointers and constants, and the accessors
//     <name>_scalar(), <name>_avx2(), <name>_avx512() (those the operation has). Plain declarations only:
//     files compiled with AVX flags include it, and an inline function there could be emitted with AVX
//     code and kept by the linker for the generic paths.
//   - a template header with the kernels written once (the vector width a parameter), included by each ISA
//     file inside an anonymous namespace, so no two ISAs' copies can be merged by the linker;
//   - <op>_<isa>.cpp: one small file per ISA, compiled by CMakeLists.txt with that ISA's flags, defining
//     <name>_<isa>() as its table, or nullptr when built without the flags (another compiler or CPU).
//     "scalar" is the portable path: the package's generic flags (on x86-64 that allows SSE2);
//   - isa_table(): at run time, the table of the active ISA (cpu_features.hpp), with one fallback rule: a
//     path without a table falls back to the next narrower one, down to scalar, which always exists.
#pragma once

#include "cpu_features.hpp"

namespace ck {

// The tables of one operation, widest last; nullptr where the operation has no code for that ISA.
template <typename Table>
struct IsaTables {
  const Table* scalar;
  const Table* avx2;
  const Table* avx512;
};

// The table of the active ISA, or of the next narrower one that has a table; *used says which.
template <typename Table>
const Table& isa_table(const IsaTables<Table>& tables, Isa* used = nullptr) {
  Isa isa = active_isa();
  for (;;) {
    const Table* t = isa == Isa::avx512 ? tables.avx512 : isa == Isa::avx2 ? tables.avx2 : tables.scalar;
    if (t != nullptr || isa == Isa::scalar) {
      if (used) *used = isa;
      return *t;
    }
    isa = isa == Isa::avx512 ? Isa::avx2 : Isa::scalar;
  }
}

}  // namespace ck
