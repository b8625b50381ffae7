/* plan.c: runs a lowered plan, op record by op record, with no allocation and no Python. */
#include "../fastnorm.h"
#include "../conv/fn_convt.h"

#include <string.h>

#define FN_PLAN_MAX_CAT 256

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
        case FN_OP_ACTK:
            st = fn_act_apply(k, op->kind, op->n, x, &op->actp, y, nthreads);
            break;
        case FN_OP_PRELU:
            fn_act_prelu(k, op->outer, op->c, op->inner, x, op->weights, y, nthreads);
            break;
        case FN_OP_SOFTMAX:
            fn_act_softmax(k, op->outer, op->c, op->inner, x, y, op->kind, nthreads);
            break;
        case FN_OP_GROUP_NORM:
            st = fn_group_norm_nhwc(k, op->n, op->h * op->w, op->c, op->groups, x, op->weights,
                                    op->weights2, op->eps, &op->act, y, scratch, scratch_bytes,
                                    nthreads);
            break;
        case FN_OP_GROUP_NORM_MAXPOOL:
            st = fn_group_norm_maxpool_nhwc(k, op->n, op->h, op->w, op->c, op->groups, x, op->weights,
                                            op->weights2, op->eps, &op->act, &op->pool, op->oh, op->ow,
                                            y, scratch, scratch_bytes, nthreads);
            break;
        case FN_OP_LAYER_NORM:
            st = fn_layer_norm_rows(k, op->outer, op->inner, x, op->weights, op->weights2, op->eps,
                                    &op->act, y, nthreads);
            break;
        case FN_OP_BINARY:
            st = fn_binary(k, op->kind, 1.0f, op->bndim, op->bshape, op->bsa, op->bsb, x,
                           bufs[op->in2], &op->act, y, nthreads);
            break;
        case FN_OP_CAT: {
            const float *xs[FN_PLAN_MAX_CAT];
            if (op->nins > FN_PLAN_MAX_CAT) return FN_ERR_ARG;
            for (size_t j = 0; j < op->nins; j++) xs[j] = bufs[op->ins[j]];
            fn_cat(k, op->outer, op->nins, xs, op->inner_sizes, y, nthreads);
            break;
        }
        case FN_OP_AVGPOOL2D:
            st = fn_avgpool2d_nhwc(k, &op->avg, op->n, op->h, op->w, op->c, op->oh, op->ow, x, y,
                                   nthreads);
            break;
        case FN_OP_ADAPTIVE_POOL2D:
            st = fn_adaptive_pool2d_nhwc(k, op->kind, op->n, op->h, op->w, op->c, op->oh, op->ow, x,
                                         y, nthreads);
            break;
        case FN_OP_PAD2D:
            st = fn_pad2d(k, op->kind, op->n, op->h, op->w, op->c, op->pads[0], op->pads[1],
                          op->pads[2], op->pads[3], op->value, x, y, nthreads);
            break;
        case FN_OP_INTERP2D:
            st = fn_interp2d_nhwc(k, op->kind, op->n, op->h, op->w, op->c, op->oh, op->ow,
                                  &op->interp, x, y, nthreads);
            break;
        case FN_OP_CHANNEL_SHUFFLE:
            fn_channel_shuffle_nhwc(op->n * op->h * op->w, op->c, op->groups, x, y, nthreads);
            break;
        case FN_OP_DWCONV2D:
            st = fn_dwconv2d_nhwc(k, &op->conv, op->n, op->h, op->w, x, op->weights,
                                  op->in2 >= 0 ? bufs[op->in2] : NULL, &op->act, y, nthreads);
            break;
        case FN_OP_PIXEL_SHUFFLE:
            fn_pixel_shuffle_nchw(op->n, op->c, op->h, op->w, op->groups, op->kind, x, y, nthreads);
            break;
        case FN_OP_WINOGRAD3X3:
            st = fn_winograd3x3_nhwc(k, &op->conv, op->n, op->h, op->w, x, op->weights,
                                     op->in2 >= 0 ? bufs[op->in2] : NULL, &op->act, y, scratch,
                                     scratch_bytes, nthreads);
            break;
        case FN_OP_CONV_FIRST:
            st = fn_conv_first(k, &op->conv, op->kind, op->n, op->h, op->w, x, op->weights,
                               &op->act, bufs[op->in2], y, nthreads);
            break;
        case FN_OP_CONV_TRANSPOSE2D:
            st = fn_conv_transpose2d_nhwc(k, &op->conv, op->n, op->h, op->w, op->oh, op->ow, x,
                                          op->weights, &op->act, y, scratch, scratch_bytes, nthreads);
            break;
        case FN_OP_DWCONV_PW: {
            const fn_dwconv_pw_args a = fn_dwconv_pw_args_of(op);
            st = fn_dwconv_pw_nhwc(k, &a, op->n, op->h, op->w, x,
                                   op->in2 >= 0 ? bufs[op->in2] : NULL, y, scratch, scratch_bytes,
                                   nthreads);
            break;
        }
        default:
            st = FN_ERR_ARG;
        }
        if (st != FN_OK) return st;
    }
    return FN_OK;
}
