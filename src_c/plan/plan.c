/* plan.c: runs a lowered plan, op record by op record, with no allocation and no Python. The table of
 * record kinds is generated from FN_PLAN_RECORDS (fn_plan.h); each record's functions live in
 * rec_<family>.c. */
#include "records.h"

#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#include <xmmintrin.h>
#endif

typedef struct {
    const char *name, *label;
    fn_status (*run)(const fn_kernels *, const fn_op *, float *const *, void *, size_t, int);
    size_t (*scratch)(const fn_kernels *, const fn_op *, int);
    const char *(*check)(const fn_kernels *, const fn_op *);
} fn_record_kind;

static const fn_record_kind RECORD_KINDS[FN_OP_LIMIT_] = {
#define FN_PLAN_ROW_(id, NAME, name, label, S, C)                                                  \
    [id] = {#NAME, label, fn_rec_##name##_run, FN_REC_PICK(S, fn_rec_##name##_scratch, NULL),      \
            FN_REC_PICK(C, fn_rec_##name##_check, NULL)},
    FN_PLAN_RECORDS(FN_PLAN_ROW_)
#undef FN_PLAN_ROW_
};

static const fn_record_kind *kind_of(int type) {
    if (type <= 0 || type >= FN_OP_LIMIT_ || RECORD_KINDS[type].run == NULL) return NULL;
    return &RECORD_KINDS[type];
}

fn_status fn_plan_run(const fn_kernels *k, const fn_op *ops, size_t nops, float *const *bufs,
                      void *scratch, size_t scratch_bytes, int nthreads) {
    for (size_t i = 0; i < nops; i++) {
        const fn_record_kind *rk = kind_of(ops[i].type);
        if (rk == NULL) return FN_ERR_ARG;
        const fn_status st = rk->run(k, &ops[i], bufs, scratch, scratch_bytes, nthreads);
        if (st != FN_OK) return st;
    }
    return FN_OK;
}

/* The calling thread's floating-point control register (x86: MXCSR; AArch64: FPCR), and the bits that
 * flush denormals: x86's FTZ (bit 15: a denormal result becomes 0) and DAZ (bit 6: a denormal
 * operand is read as 0), AArch64's FZ (bit 24: both). Elsewhere no bits (fn_plan_run_flush runs as
 * fn_plan_run). */
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#define FN_FP_FLUSH_BITS 0x8040ul
#define FN_FP_CONTROL_BITS 0xffc0ul /* bits 0-5 are sticky exception flags, not modes */
unsigned long fn_fp_mode(void) { return _mm_getcsr(); }
static void fp_mode_set(unsigned long v) { _mm_setcsr((unsigned)v); }
#elif defined(__aarch64__)
#define FN_FP_FLUSH_BITS (1ul << 24)
#define FN_FP_CONTROL_BITS (~0ul) /* FPCR holds modes only (the flags are FPSR's) */
unsigned long fn_fp_mode(void) {
    unsigned long v;
    __asm__ volatile("mrs %0, fpcr" : "=r"(v));
    return v;
}
static void fp_mode_set(unsigned long v) { __asm__ volatile("msr fpcr, %0" : : "r"(v)); }
#else
#define FN_FP_FLUSH_BITS 0ul
#define FN_FP_CONTROL_BITS 0ul
unsigned long fn_fp_mode(void) { return 0; }
static void fp_mode_set(unsigned long v) { (void)v; }
#endif
unsigned long fn_fp_flush_bits(void) { return FN_FP_FLUSH_BITS; }
unsigned long fn_fp_control_bits(void) { return FN_FP_CONTROL_BITS; }

/* The flush bits back to what saved had; the rest of the register as it is now (x86's exception flags
 * raised during the run stay raised, as they would without the flush). */
static void fp_mode_restore(unsigned long saved) {
    fp_mode_set((fn_fp_mode() & ~FN_FP_FLUSH_BITS) | (saved & FN_FP_FLUSH_BITS));
}

#define FN_FP_STACK_THREADS 64
#define FN_FP_UNSET (~0ul)

static int thread_num(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* fn_plan_run with denormals flushed on every thread it may use, each thread's flush bits
 * restored after. The threads of the kernels' parallel regions are those of OpenMP's pool, which
 * persist between regions (libgomp hands a region of n threads the same pool threads 1..n-1): a
 * region of nthreads sets them before the records run, and another restores them after. */
fn_status fn_plan_run_flush(const fn_kernels *k, const fn_op *ops, size_t nops, float *const *bufs,
                            void *scratch, size_t scratch_bytes, int nthreads, int flush) {
    if (!flush || !FN_FP_FLUSH_BITS) return fn_plan_run(k, ops, nops, bufs, scratch, scratch_bytes, nthreads);
    const int nt = nthreads < 1 ? 1 : nthreads;
    if (nt == 1) {
        const unsigned long saved = fn_fp_mode();
        fp_mode_set(saved | FN_FP_FLUSH_BITS);
        const fn_status st = fn_plan_run(k, ops, nops, bufs, scratch, scratch_bytes, 1);
        fp_mode_restore(saved);
        return st;
    }
    /* each thread's mode before, by thread number (up to FN_FP_STACK_THREADS without an allocation);
     * FN_FP_UNSET for a number no thread of the first region had (a mode never has every bit set: both
     * registers hold reserved-zero bits) */
    unsigned long stack[FN_FP_STACK_THREADS];
    unsigned long *saved = nt <= FN_FP_STACK_THREADS ? stack : malloc((size_t)nt * sizeof *saved);
    if (saved == NULL) return FN_ERR_NOMEM;
    for (int t = 0; t < nt; t++) saved[t] = FN_FP_UNSET;
#pragma omp parallel num_threads(nt)
    {
        const unsigned long mode = fn_fp_mode();
        saved[thread_num()] = mode;
        fp_mode_set(mode | FN_FP_FLUSH_BITS);
    }
    const fn_status st = fn_plan_run(k, ops, nops, bufs, scratch, scratch_bytes, nt);
#pragma omp parallel num_threads(nt)
    {
        const unsigned long mode = saved[thread_num()];
        if (mode != FN_FP_UNSET) fp_mode_restore(mode);
    }
    if (saved != stack) free(saved);
    return st;
}

int fn_fp_modes(unsigned long *out, int nthreads) {
    int ran = 1;
    for (int t = 0; t < nthreads; t++) out[t] = 0;
#pragma omp parallel num_threads(nthreads)
    {
        const int t = thread_num();
        if (t < nthreads) out[t] = fn_fp_mode();
#ifdef _OPENMP
        if (t == 0) ran = omp_get_num_threads();
#endif
    }
    return ran;
}

fn_status fn_plan_run_teams(const fn_kernels *k, const fn_plan_step *steps, const size_t *first, int nteams,
                            int flush) {
    if (nteams < 1 || nteams > FN_PLAN_MAX_TEAMS) return FN_ERR_ARG;
    fn_status st[FN_PLAN_MAX_TEAMS];
#pragma omp parallel for schedule(static, 1) num_threads(nteams)
    for (int t = 0; t < nteams; t++) {
        fn_status s = FN_OK;
        for (size_t i = first[t]; i < first[t + 1] && s == FN_OK; i++)
            s = fn_plan_run_flush(k, steps[i].ops, steps[i].nops, steps[i].bufs, steps[i].scratch,
                                  steps[i].scratch_bytes, 1, flush);
        st[t] = s;
    }
    for (int t = 0; t < nteams; t++)
        if (st[t] != FN_OK) return st[t];
    return FN_OK;
}

/* The input floats of a conv-family record (0 where it has no conv descriptor). */
static size_t input_floats(const fn_op *op) {
    const size_t cin = op->weights_ex ? op->conv_ex.cin : op->conv.cin;
    return op->n * op->h * op->w * cin;
}

/* A model's weights outgrow the caches (MobileNetV3-Large: 21 MB): a conv of a small image then reads
 * its weights from L3 or memory on its first pass over them and stalls there while memory is idle
 * during the record before it. So record i asks, while it runs, for the first weights of a record j
 * among the next FN_PLAN_PF_AHEAD (its driver spreads the requests over its tiles, one line per
 * k-step at most: fn_conv2d_nhwc_pre): the first whose weights outweigh its input. A large image's
 * record reads its input from L2 as the record before leaves it there, and weights asked into L2
 * beside it would evict it; a depthwise conv's few weights are not worth the requests (MobileNetV3's
 * expand conv asks for the SE block's first 1x1 past the depthwise conv between them). The expand
 * weights of a fused record come first, as it runs them first. Measured (Xeon, Sapphire Rapids class,
 * AVX-512, 1 thread, batch 1, plans without and with in turns, medians of CPU times: python
 * bench/bench_ab.py prefetch --clock cpu --model M): MobileNetV3-Large 0.976-0.978 of the time without,
 * EfficientNet-B0 0.991-0.993, RegNetY-200MF 0.989-0.995, DenseNet-121 0.992; its 160->960 expands at
 * 7x7 0.128-0.133 -> 0.102-0.105 ms. */
#ifndef FN_PLAN_PF_AHEAD
#define FN_PLAN_PF_AHEAD 3
#endif
void fn_plan_link_prefetch(fn_op *ops, size_t nops, size_t max_bytes) {
    for (size_t i = 0; i < nops; i++) {
        ops[i].pf = NULL;
        ops[i].pf_floats = 0;
        if (max_bytes == 0) continue;
        for (size_t j = i + 1; j < nops && j <= i + FN_PLAN_PF_AHEAD; j++) {
            const float *p = ops[j].weights_ex ? ops[j].weights_ex : ops[j].weights;
            const size_t nf = ops[j].weights_ex ? ops[j].weights_ex_floats : ops[j].weights_floats;
            if (p == NULL || nf == 0 || nf < input_floats(&ops[j])) continue;
            ops[i].pf = p;
            ops[i].pf_floats = nf < max_bytes / sizeof(float) ? nf : max_bytes / sizeof(float);
            break;
        }
    }
}

size_t fn_plan_scratch_bytes(const fn_kernels *k, const fn_op *ops, size_t nops, int nthreads) {
    size_t best = 0;
    for (size_t i = 0; i < nops; i++) {
        const fn_record_kind *rk = kind_of(ops[i].type);
        if (rk != NULL && rk->scratch != NULL) {
            const size_t sb = rk->scratch(k, &ops[i], nthreads);
            if (sb > best) best = sb;
        }
    }
    return best;
}

const char *fn_plan_check_record(const fn_kernels *k, const fn_op *op) {
    const fn_record_kind *rk = kind_of(op->type);
    if (rk == NULL) return "unknown record type";
    if (op->out2 >= 0 && op->type != FN_OP_DWCONV2D && op->type != FN_OP_MAXPOOL2D)
        return "only a dwconv2d or max_pool2d record has a second output";
    if ((op->post != NULL || op->res_late) && op->type != FN_OP_CONV2D && op->type != FN_OP_DWCONV2D)
        return "only a conv2d or dwconv2d record has a post-activation epilogue";
    return rk->check != NULL ? rk->check(k, op) : NULL;
}

const char *fn_plan_record_name(int type) {
    const fn_record_kind *rk = kind_of(type);
    return rk != NULL ? rk->name : NULL;
}

const char *fn_plan_record_label(int type) {
    const fn_record_kind *rk = kind_of(type);
    return rk != NULL ? rk->label : NULL;
}
