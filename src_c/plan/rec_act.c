/* rec_act.c: the plan records of the activation family (FN_PLAN_RECORDS in fn_plan.h). */
#include "records.h"

FN_REC_RUN(act) {
    fn_activation(k, op->n, bufs[op->in], &op->act, bufs[op->out], nthreads);
    return FN_OK;
}

FN_REC_RUN(actk) {
    return fn_act_apply(k, op->kind, op->n, bufs[op->in], &op->actp, bufs[op->out], nthreads);
}

FN_REC_RUN(prelu) {
    fn_act_prelu(k, op->outer, op->c, op->inner, bufs[op->in], op->weights, bufs[op->out], nthreads);
    return FN_OK;
}

FN_REC_RUN(softmax) {
    fn_act_softmax(k, op->outer, op->c, op->inner, bufs[op->in], bufs[op->out], op->kind, nthreads);
    return FN_OK;
}
