/* Single-core peak of packed float32 multiply-add throughput, for one ISA chosen at compile time.
 *
 * Built by bench/fma_peak.py with that ISA's flags only (-DFMA_AVX512 -mavx512f, -DFMA_AVX2 -mavx2
 * -mfma, or neither: SSE2 multiply then add, the x86-64 baseline). NACC independent accumulator
 * chains hide the FMA latency (4 cycles x 2 ports needs >= 8); each iteration does NACC vector FMAs.
 * Time is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID): on a host shared with other jobs, wall
 * time would count the slices spent waiting for a core, which say nothing about the core's peak.
 * Prints one line per run: "<GFLOP/s by CPU time> <CPU seconds> <GFLOP/s by wall time>";
 * usage: fma_peak <iterations> <runs>. */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c11 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(FMA_AVX512)
typedef __m512 vec;
#define LANES 16
#define SET1(v) _mm512_set1_ps(v)
#define MADD(a, b, c) _mm512_fmadd_ps(a, b, c)
#define FLOPS_PER_LANE 2
#elif defined(FMA_AVX2)
typedef __m256 vec;
#define LANES 8
#define SET1(v) _mm256_set1_ps(v)
#define MADD(a, b, c) _mm256_fmadd_ps(a, b, c)
#define FLOPS_PER_LANE 2
#else
typedef __m128 vec;
#define LANES 4
#define SET1(v) _mm_set1_ps(v)
#define MADD(a, b, c) _mm_add_ps(_mm_mul_ps(a, b), c)
#define FLOPS_PER_LANE 2
#endif
#define NACC 12

static double now(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* the accumulators converge to c / (1 - m): no overflow, no denormals, whatever the count */
static float kernel(long iters, float m_, float c_) {
    const vec m = SET1(m_), c = SET1(c_);
    vec a0 = SET1(0.f), a1 = SET1(1.f), a2 = SET1(2.f), a3 = SET1(3.f), a4 = SET1(4.f), a5 = SET1(5.f);
    vec a6 = SET1(6.f), a7 = SET1(7.f), a8 = SET1(8.f), a9 = SET1(9.f), a10 = SET1(10.f), a11 = SET1(11.f);
    for (long i = 0; i < iters; i++) {
        a0 = MADD(a0, m, c); a1 = MADD(a1, m, c); a2 = MADD(a2, m, c); a3 = MADD(a3, m, c);
        a4 = MADD(a4, m, c); a5 = MADD(a5, m, c); a6 = MADD(a6, m, c); a7 = MADD(a7, m, c);
        a8 = MADD(a8, m, c); a9 = MADD(a9, m, c); a10 = MADD(a10, m, c); a11 = MADD(a11, m, c);
    }
    vec s[NACC] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11};
    float out = 0.f;
    for (int j = 0; j < NACC; j++) {
        float lanes[LANES];
        _Static_assert(sizeof(vec) == sizeof(lanes), "vector width");
        __builtin_memcpy(lanes, &s[j], sizeof(lanes));
        for (int l = 0; l < LANES; l++) out += lanes[l];
    }
    return out;
}

int main(int argc, char **argv) {
    const long iters = argc > 1 ? atol(argv[1]) : 20000000L;
    const int runs = argc > 2 ? atoi(argv[2]) : 7;
    /* the multiplier comes from argv so the compiler cannot fold the loop */
    const float m = argc > 3 ? (float)atof(argv[3]) : 0.999f;
    volatile float sink = 0.f;
    for (int r = 0; r < runs; r++) {
        const double w0 = now(CLOCK_MONOTONIC), t0 = now(CLOCK_THREAD_CPUTIME_ID);
        sink += kernel(iters, m, 1e-3f);
        const double dt = now(CLOCK_THREAD_CPUTIME_ID) - t0, dw = now(CLOCK_MONOTONIC) - w0;
        const double gflop = (double)iters * NACC * LANES * FLOPS_PER_LANE / 1e9;
        printf("%.3f %.6f %.3f\n", gflop / dt, dt, gflop / dw);
    }
    return sink != sink; /* NaN would mean a broken build */
}
