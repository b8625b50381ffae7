/* plan.c: runs a lowered plan, op record by op record, with no allocation and no Python. */
#include "../fastnorm.h"

#include <string.h>

fn_status fn_plan_run(const fn_kernels *k, const fn_op *ops, size_t nops, float *const *bufs,
                      void *scratch, size_t scratch_bytes, int nthreads) {
    for (size_t i = 0; i < nops; i++) {
        const fn_op *op = &ops[i];
        const float *x = bufs[op->in];
        float *y = bufs[op->out];
        fn_status st = FN_OK;
        switch (op->type) {
        case FN_OP_CONV2D:
            st = fn_conv2d_nhwc(k, &op->conv, op->n, op->h, op->w, x, op->weights,
                                op->in2 >= 0 ? bufs[op->in2] : NULL, &op->act, y, scratch,
                                scratch_bytes, nthreads);
            break;
        case FN_OP_SCALE_SHIFT:
            fn_scale_shift(k, op->outer, op->c, op->inner, x, op->weights, op->weights2, &op->act, y,
                           nthreads);
            break;
        case FN_OP_ACT:
            fn_activation(k, op->n, x, &op->act, y, nthreads);
            break;
        case FN_OP_MAXPOOL2D:
            st = fn_maxpool2d_nhwc(k, &op->pool, op->n, op->h, op->w, op->c, op->oh, op->ow, x, y,
                                   nthreads);
            break;
        case FN_OP_NCHW_TO_NHWC:
            fn_nchw_to_nhwc(op->n, op->c, op->h * op->w, x, y, nthreads);
            break;
        case FN_OP_NHWC_TO_NCHW:
            fn_nhwc_to_nchw(op->n, op->c, op->h * op->w, x, y, nthreads);
            break;
        case FN_OP_COPY:
            if (x != y) memmove(y, x, op->n * sizeof(float));
            break;
        default:
            st = FN_ERR_ARG;
        }
        if (st != FN_OK) return st;
    }
    return FN_OK;
}
