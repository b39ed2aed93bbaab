// cpu_features.hpp: run-time CPU detection and the choice of instruction set for the SIMD kernels.
//
// The package is built for any x86-64 (no -march flags); only the files of one ISA's kernels are compiled
// with that ISA's flags, and they run only when active_isa() says so. The choice is made once per process:
//   - detected_isa(): the widest path this CPU *and* its OS support (cpuid feature bits, and xgetbv for the
//     OS saving YMM/ZMM state across context switches);
//   - the environment variable CNNKERNELS_ISA=scalar|avx2|avx512 (read once, on first use) narrows it;
//     an unknown value, or a path this machine lacks, falls back to detected_isa() and says why in
//     isa_selection_note();
//   - set_active_isa() changes it at run time (tests use it to run every path).
// Off x86-64 every query answers `scalar`.
#pragma once

#include <string>

namespace ck {

enum class Isa {
  scalar,  // portable C++ (SSE2 at most on x86-64: what the compiler's baseline allows)
  avx2,    // AVX2 + FMA3 (Haswell, Zen and later)
  avx512,  // AVX-512 F + DQ + BW + VL (Skylake-SP, Ice Lake, Zen 4 and later)
};

const char* isa_name(Isa isa);  // "scalar", "avx2", "avx512"

bool isa_supported(Isa isa);  // the CPU has the instructions and the OS saves their registers
Isa detected_isa();           // the widest supported Isa

Isa active_isa();              // the path kernels take now
void set_active_isa(Isa isa);  // throws std::invalid_argument when !isa_supported(isa)

// Why the active path is what it is: empty when it is detected_isa() with no override, otherwise a short
// sentence (e.g. "CNNKERNELS_ISA=avx512 asks for a path this CPU lacks; using avx2").
std::string isa_selection_note();

std::string cpu_model();  // brand string, e.g. "AMD EPYC 7B13 64-Core Processor"; "" when unknown

}  // namespace ck
