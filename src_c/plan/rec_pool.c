/* rec_pool.c: the plan records of the pool family (FN_PLAN_RECORDS in fn_plan.h). */
#include "records.h"

FN_REC_RUN(maxpool2d) {
    return fn_maxpool2d_nhwc(k, &op->pool, op->n, op->h, op->w, op->c, op->oh, op->ow, bufs[op->in],
                             bufs[op->out], nthreads);
}

FN_REC_RUN(avgpool2d) {
    return fn_avgpool2d_nhwc(k, &op->avg, op->n, op->h, op->w, op->c, op->oh, op->ow, bufs[op->in],
                             bufs[op->out], nthreads);
}

FN_REC_RUN(adaptive_pool2d) {
    return fn_adaptive_pool2d_nhwc(k, op->kind, op->n, op->h, op->w, op->c, op->oh, op->ow,
                                   bufs[op->in], bufs[op->out], nthreads);
}
