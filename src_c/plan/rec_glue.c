/* rec_glue.c: the plan records that move data: layout changes, copies, broadcasts, concatenation,
 * padding, resizing and shuffles (FN_PLAN_RECORDS in fn_plan.h). */
#include "records.h"

#include <string.h>

#define FN_PLAN_MAX_CAT 256

FN_REC_RUN(nchw_to_nhwc) {
    fn_nchw_to_nhwc(k, op->n, op->c, op->h * op->w, bufs[op->in], bufs[op->out], nthreads);
    return FN_OK;
}

FN_REC_RUN(nhwc_to_nchw) {
    fn_nhwc_to_nchw(k, op->n, op->c, op->h * op->w, bufs[op->in], bufs[op->out], nthreads);
    return FN_OK;
}

FN_REC_RUN(copy) {
    if (bufs[op->in] != bufs[op->out]) memmove(bufs[op->out], bufs[op->in], op->n * sizeof(float));
    return FN_OK;
}

FN_REC_RUN(binary) {
    return fn_binary(k, op->kind, 1.0f, op->bndim, op->bshape, op->bsa, op->bsb, bufs[op->in] + op->xoff,
                     bufs[op->in2] + op->x2off, &op->act, bufs[op->out], nthreads);
}

FN_REC_RUN(cat) {
    const float *xs[FN_PLAN_MAX_CAT];
    if (op->nins > FN_PLAN_MAX_CAT) return FN_ERR_ARG;
    for (size_t j = 0; j < op->nins; j++)
        xs[j] = op->ins[j] >= 0 ? bufs[op->ins[j]] + (op->cat_off != NULL ? op->cat_off[j] : 0) : NULL;
    fn_cat_ld(k, op->outer, op->nins, xs, op->inner_sizes, op->cat_ld, bufs[op->out], nthreads);
    return FN_OK;
}

FN_REC_RUN(pad2d) {
    return fn_pad2d(k, op->kind, op->n, op->h, op->w, op->c, op->pads[0], op->pads[1], op->pads[2],
                    op->pads[3], op->value, bufs[op->in], bufs[op->out], nthreads);
}

FN_REC_RUN(interp2d) {
    return fn_interp2d_nhwc(k, op->kind, op->n, op->h, op->w, op->c, op->oh, op->ow, &op->interp,
                            bufs[op->in], bufs[op->out], nthreads);
}

FN_REC_RUN(channel_shuffle) {
    fn_channel_shuffle_nhwc(op->n * op->h * op->w, op->c, op->groups, bufs[op->in], bufs[op->out],
                            nthreads);
    return FN_OK;
}

FN_REC_RUN(pixel_shuffle) {
    fn_pixel_shuffle_nchw(op->n, op->c, op->h, op->w, op->groups, op->kind, bufs[op->in],
                          bufs[op->out], nthreads);
    return FN_OK;
}
