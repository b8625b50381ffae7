/* rec_pool.c: the plan records of the pool family (FN_PLAN_RECORDS in fn_plan.h). */
#include "records.h"

FN_REC_RUN(maxpool2d) {
    if (op->out2 >= 0)
        return fn_maxpool2d_argmax_nhwc(&op->pool, op->n, op->h, op->w, op->c, op->oh, op->ow, bufs[op->in],
                                        bufs[op->out], bufs[op->out2], nthreads);
    return fn_maxpool2d_nhwc(k, &op->pool, op->n, op->h, op->w, op->c, op->oh, op->ow, bufs[op->in],
                             bufs[op->out], nthreads);
}

FN_REC_CHECK(maxpool2d) {
    (void)k;
    if (op->out2 >= 0 && (op->out2 == op->in || op->out2 == op->out))
        return "a max_pool2d's indices must have a buffer of their own";
    if (op->out2 >= 0 && op->h * op->w > ((size_t)1 << 24))
        return "max_pool2d indices of a plane past 2^24 positions";
    return NULL;
}

FN_REC_RUN(max_unpool2d) {
    (void)k, (void)scratch, (void)scratch_bytes;
    return fn_max_unpool2d_nhwc(op->n, op->h, op->w, op->c, op->oh, op->ow, bufs[op->in], bufs[op->in2],
                                bufs[op->out], nthreads);
}

FN_REC_CHECK(max_unpool2d) {
    (void)k;
    if (op->in2 < 0) return "a max_unpool2d needs its indices (in2)";
    if (op->out == op->in || op->out == op->in2) return "a max_unpool2d's output must have a buffer of its own";
    return NULL;
}

FN_REC_RUN(avgpool2d) {
    return fn_avgpool2d_nhwc(k, &op->avg, op->n, op->h, op->w, op->c, op->oh, op->ow, bufs[op->in],
                             bufs[op->out], nthreads);
}

FN_REC_RUN(adaptive_pool2d) {
    return fn_adaptive_pool2d_nhwc(k, op->kind, op->n, op->h, op->w, op->c, op->oh, op->ow,
                                   bufs[op->in], bufs[op->out], nthreads);
}
