// cpu_features.cpp: cpuid/xgetbv detection, the CNNKERNELS_ISA override and the process-wide active ISA.
//
// Compiled with the generic flags (no -mavx*): it only asks the CPU what it has. A path needs both the
// instructions (cpuid bits) and the OS's promise to save their registers on a context switch (XCR0 bits,
// read with xgetbv once cpuid says OSXSAVE); a hypervisor can hide either.
#include "cpu_features.hpp"

#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#if defined(__x86_64__) || defined(_M_X64)
#define CK_X86_64 1
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

namespace ck {
namespace {

#ifdef CK_X86_64

struct CpuidRegs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

CpuidRegs cpuid(uint32_t leaf, uint32_t subleaf) {
  CpuidRegs r;
#if defined(_MSC_VER) && !defined(__clang__)
  int regs[4];
  __cpuidex(regs, static_cast<int>(leaf), static_cast<int>(subleaf));
  r.eax = regs[0], r.ebx = regs[1], r.ecx = regs[2], r.edx = regs[3];
#else
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
#endif
  return r;
}

uint32_t max_leaf(uint32_t base) { return cpuid(base, 0).eax; }

// XCR0: which register state the OS saves (bit 1 SSE, 2 AVX/YMM, 5 opmask, 6 ZMM0-15 upper, 7 ZMM16-31).
uint64_t xcr0() {
#if defined(_MSC_VER) && !defined(__clang__)
  return _xgetbv(0);
#else
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
#endif
}

bool bit(uint32_t reg, int b) { return (reg >> b) & 1u; }

struct Features {
  bool avx2 = false;    // AVX, AVX2, FMA3 and YMM state
  bool avx512 = false;  // the above plus AVX-512 F/DQ/BW/VL and ZMM + opmask state
};

Features probe() {
  Features f;
  if (max_leaf(0) < 7) return f;
  const CpuidRegs l1 = cpuid(1, 0), l7 = cpuid(7, 0);
  const bool osxsave = bit(l1.ecx, 27), avx = bit(l1.ecx, 28), fma = bit(l1.ecx, 12);
  if (!osxsave || !avx) return f;
  const uint64_t x = xcr0();
  const bool ymm_state = (x & 0x6) == 0x6;
  const bool zmm_state = (x & 0xE6) == 0xE6;
  const bool avx2 = bit(l7.ebx, 5);
  f.avx2 = ymm_state && avx && avx2 && fma;
  const bool avx512 = bit(l7.ebx, 16) /*F*/ && bit(l7.ebx, 17) /*DQ*/ && bit(l7.ebx, 30) /*BW*/ &&
                      bit(l7.ebx, 31) /*VL*/;
  f.avx512 = f.avx2 && zmm_state && avx512;
  return f;
}

#else  // not x86-64: only the portable path exists

struct Features {
  bool avx2 = false, avx512 = false;
};
Features probe() { return {}; }

#endif

const Features& features() {
  static const Features f = probe();
  return f;
}

// The active path, and the note that explains it. Set once from CNNKERNELS_ISA on first use.
struct Selection {
  std::atomic<Isa> active{Isa::scalar};
  std::mutex note_mutex;
  std::string note;
};

std::string lower_trimmed(const char* s) {
  std::string out;
  for (; *s; ++s) {
    const auto c = static_cast<unsigned char>(*s);
    if (!std::isspace(c)) out += static_cast<char>(std::tolower(c));
  }
  return out;
}

Selection& selection() {
  static Selection* sel = [] {
    auto* s = new Selection();  // never destroyed: kernels may ask during static destruction
    const Isa best = detected_isa();
    Isa chosen = best;
    const char* env = std::getenv("CNNKERNELS_ISA");
    if (env != nullptr && *env != '\0') {
      const std::string v = lower_trimmed(env);
      bool known = true;
      Isa wanted = best;
      if (v == "scalar") wanted = Isa::scalar;
      else if (v == "avx2") wanted = Isa::avx2;
      else if (v == "avx512") wanted = Isa::avx512;
      else if (v == "auto") wanted = best;
      else known = false;
      if (!known) {
        s->note = std::string("CNNKERNELS_ISA=") + env + " is not one of scalar, avx2, avx512, auto; using " +
                  isa_name(best);
      } else if (!isa_supported(wanted)) {
        s->note = std::string("CNNKERNELS_ISA=") + env +
                  " asks for a path this CPU (or its OS) lacks; using " + isa_name(best);
      } else {
        chosen = wanted;
        if (wanted != best) s->note = std::string("CNNKERNELS_ISA=") + env + " chose " + isa_name(wanted);
      }
    }
    s->active.store(chosen);
    return s;
  }();
  return *sel;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "unknown";
}

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2: return features().avx2;
    case Isa::avx512: return features().avx512;
  }
  return false;
}

Isa detected_isa() {
  if (isa_supported(Isa::avx512)) return Isa::avx512;
  if (isa_supported(Isa::avx2)) return Isa::avx2;
  return Isa::scalar;
}

Isa active_isa() { return selection().active.load(std::memory_order_relaxed); }

void set_active_isa(Isa isa) {
  if (isa != Isa::scalar && isa != Isa::avx2 && isa != Isa::avx512) {
    throw std::invalid_argument("set_active_isa: unknown Isa value");
  }
  if (!isa_supported(isa)) {
    throw std::invalid_argument(std::string("set_active_isa: this CPU (or its OS) does not support ") +
                                isa_name(isa) + "; the widest supported path is " + isa_name(detected_isa()));
  }
  Selection& s = selection();
  std::lock_guard<std::mutex> lock(s.note_mutex);
  s.active.store(isa);
  s.note = isa == detected_isa() ? "" : std::string("set_active_isa chose ") + isa_name(isa);
}

std::string isa_selection_note() {
  Selection& s = selection();
  std::lock_guard<std::mutex> lock(s.note_mutex);
  return s.note;
}

std::string cpu_model() {
#ifdef CK_X86_64
  if (max_leaf(0x80000000u) < 0x80000004u) return "";
  char brand[49] = {};
  for (uint32_t i = 0; i < 3; ++i) {
    const CpuidRegs r = cpuid(0x80000002u + i, 0);
    std::memcpy(brand + 16 * i + 0, &r.eax, 4);
    std::memcpy(brand + 16 * i + 4, &r.ebx, 4);
    std::memcpy(brand + 16 * i + 8, &r.ecx, 4);
    std::memcpy(brand + 16 * i + 12, &r.edx, 4);
  }
  std::string s(brand);
  const auto first = s.find_first_not_of(' ');
  const auto last = s.find_last_not_of(' ');
  return first == std::string::npos ? "" : s.substr(first, last - first + 1);
#else
  return "";
#endif
}

}  // namespace ck
