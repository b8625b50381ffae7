/* records.h: the per-record functions of FN_PLAN_RECORDS (plan/fn_plan.h), declared from the list;
 * internal to src_c/plan. Each rec_<family>.c defines its records' functions with these macros. */
#ifndef FASTNORM_PLAN_RECORDS_H
#define FASTNORM_PLAN_RECORDS_H
#include "../fastnorm.h"

/* Every record function takes the same parameters, and many records need only some of them. */
#define FN_REC_ANY __attribute__((unused))
#define FN_REC_RUN(name)                                                                           \
    fn_status fn_rec_##name##_run(const fn_kernels *k FN_REC_ANY, const fn_op *op,                 \
                                  float *const *bufs, void *scratch FN_REC_ANY,                    \
                                  size_t scratch_bytes FN_REC_ANY, int nthreads FN_REC_ANY)
#define FN_REC_SCRATCH(name)                                                                       \
    size_t fn_rec_##name##_scratch(const fn_kernels *k FN_REC_ANY, const fn_op *op,                \
                                   int nthreads FN_REC_ANY)
#define FN_REC_CHECK(name) const char *fn_rec_##name##_check(const fn_kernels *k FN_REC_ANY, const fn_op *op)

/* FN_REC_IF_Y(x) is x, FN_REC_IF_N(x) nothing: a row's Y/N flags pick what exists. */
#define FN_REC_IF_Y(...) __VA_ARGS__
#define FN_REC_IF_N(...)
#define FN_REC_PICK_Y(yes, no) yes
#define FN_REC_PICK_N(yes, no) no
#define FN_REC_IF(flag, ...) FN_REC_IF_##flag(__VA_ARGS__)
#define FN_REC_PICK(flag, yes, no) FN_REC_PICK_##flag(yes, no)

#define FN_REC_DECLARE_(id, NAME, name, label, S, C)                                               \
    FN_REC_RUN(name);                                                                              \
    FN_REC_IF(S, FN_REC_SCRATCH(name);)                                                            \
    FN_REC_IF(C, FN_REC_CHECK(name);)
FN_PLAN_RECORDS(FN_REC_DECLARE_)
#undef FN_REC_DECLARE_

/* The residual (in2) of a conv-like record, NULL for none. */
static inline const float *fn_rec_residual(const fn_op *op, float *const *bufs) {
    return op->in2 >= 0 ? bufs[op->in2] : NULL;
}

#endif
