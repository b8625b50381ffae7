/* cpu.c: CPU feature detection: CPUID and XGETBV on x86-64 (the OS must save the wide registers),
 * the kernel's HWCAP bits on aarch64. */
#include "fastnorm.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>

static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    /* xgetbv with ecx = 0, encoded as bytes so no -mxsave flag is needed on this file */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

void fn_cpu_detect(fn_cpu_features *f) {
    unsigned a, b, c, d;
    memset(f, 0, sizeof *f);
    if (__get_cpuid(0, &a, &b, &c, &d)) /* the vendor string is EBX, EDX, ECX */
        f->vendor_amd = b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u; /* "Auth" "enti" "cAMD" */
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    f->family = (int)((a >> 8) & 0xf) + ((a >> 8 & 0xf) == 0xf ? (int)((a >> 20) & 0xff) : 0);
    f->sse2 = (d >> 26) & 1;
    int osxsave = (c >> 27) & 1;
    f->avx = (c >> 28) & 1;
    f->fma = (c >> 12) & 1;
    if (osxsave) {
        uint64_t xcr0 = read_xcr0();
        f->os_avx = (xcr0 & 0x6) == 0x6;           /* XMM and YMM state */
        f->os_avx512 = (xcr0 & 0xe6) == 0xe6;      /* plus opmask, ZMM_Hi256, Hi16_ZMM */
    }
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        f->avx2 = (b >> 5) & 1;
        f->avx512f = (b >> 16) & 1;
        f->avx512dq = (b >> 17) & 1;
        f->avx512bw = (b >> 30) & 1;
        f->avx512vl = (b >> 31) & 1;
        f->avx512_vnni = (c >> 11) & 1;
        __cpuid_count(7, 1, a, b, c, d);
        f->avx512_bf16 = (a >> 5) & 1;
    }
}
#elif defined(__aarch64__)
#include <sys/auxv.h>

/* Linux arm64 HWCAP bits (arch/arm64/include/uapi/asm/hwcap.h), spelled here so no kernel header
 * of a given age is needed. */
#define FN_HWCAP_ASIMD (1ul << 1)
#define FN_HWCAP_ASIMDHP (1ul << 10)
#define FN_HWCAP_ASIMDDP (1ul << 20)
#define FN_HWCAP_SVE (1ul << 22)
#define FN_HWCAP2_SVE2 (1ul << 1)

void fn_cpu_detect(fn_cpu_features *f) {
    memset(f, 0, sizeof *f);
    const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    f->asimd = (hw & FN_HWCAP_ASIMD) != 0;
    f->asimd_fp16 = (hw & FN_HWCAP_ASIMDHP) != 0;
    f->asimd_dotprod = (hw & FN_HWCAP_ASIMDDP) != 0;
    f->sve = (hw & FN_HWCAP_SVE) != 0;
    f->sve2 = (hw2 & FN_HWCAP2_SVE2) != 0;
}
#else
void fn_cpu_detect(fn_cpu_features *f) { memset(f, 0, sizeof *f); }
#endif

const char *fn_cpu_arch(void) { return FN_ARCH_NAME; }

fn_isa fn_cpu_best_isa(const fn_cpu_features *f) {
#if defined(__x86_64__)
    if (f->os_avx512 && f->avx512f && f->avx512bw && f->avx512dq && f->avx512vl && f->avx2 && f->fma)
        return FN_ISA_AVX512;
    if (f->os_avx && f->avx && f->avx2 && f->fma) return FN_ISA_AVX2;
#elif defined(__aarch64__)
    /* ASIMD is part of ARMv8-A (the NEON files need no flag); HWCAP says so on every Linux kernel. */
    if (f->asimd) return FN_ISA_NEON;
#endif
    (void)f;
    return FN_ISA_SCALAR;
}
