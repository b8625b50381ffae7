/* rec_shape.c: the plan records of the shape family: strided copies (slice, split, permute, channel
 * windows) and reductions (FN_PLAN_RECORDS in fn_plan.h). */
#include "records.h"

FN_REC_RUN(strided_copy) {
    return fn_strided_copy(k, op->bndim, op->bshape, op->bsa, bufs[op->in] + op->xoff, bufs[op->out],
                           nthreads);
}

FN_REC_RUN(reduce) {
    return fn_reduce(k, op->kind, op->outer, op->c, op->inner, bufs[op->in], bufs[op->out], nthreads);
}
