/* rec_norm.c: the plan records of the norm family (FN_PLAN_RECORDS in fn_plan.h). */
#include "records.h"

FN_REC_RUN(scale_shift) {
    fn_scale_shift(k, op->outer, op->c, op->inner, bufs[op->in], op->weights, op->weights2, &op->act,
                   bufs[op->out], nthreads);
    return FN_OK;
}

FN_REC_RUN(group_norm) {
    return fn_group_norm_nhwc(k, op->n, op->h * op->w, op->c, op->groups, bufs[op->in], op->weights,
                              op->weights2, op->eps, &op->act, bufs[op->out], scratch, scratch_bytes,
                              nthreads);
}

FN_REC_SCRATCH(group_norm) { return fn_group_norm_nhwc_scratch_bytes(op->n, op->h * op->w, op->c); }

FN_REC_RUN(group_norm_maxpool) {
    return fn_group_norm_maxpool_nhwc(k, op->n, op->h, op->w, op->c, op->groups, bufs[op->in],
                                      op->weights, op->weights2, op->eps, &op->act, &op->pool, op->oh,
                                      op->ow, bufs[op->out], scratch, scratch_bytes, nthreads);
}

FN_REC_SCRATCH(group_norm_maxpool) {
    return fn_group_norm_nhwc_scratch_bytes(op->n, op->h * op->w, op->c)
           + fn_group_norm_maxpool_band_bytes(&op->pool, op->w, op->c, nthreads);
}

FN_REC_RUN(layer_norm) {
    return fn_layer_norm_rows(k, op->outer, op->inner, bufs[op->in], op->weights, op->weights2,
                              op->eps, &op->act, bufs[op->out], nthreads);
}
