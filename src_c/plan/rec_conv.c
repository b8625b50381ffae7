/* rec_conv.c: the plan records of the conv family (FN_PLAN_RECORDS in fn_plan.h). */
#include "records.h"
#include <string.h>
#include "../conv/fn_convt.h"

static const char *const WEIGHTS_MISFIT = "packed weights do not fit this ISA's kernels";

/* The epilogue past the activation (fields post, res_late) */
static fn_post rec_post(const fn_op *op, float *const *bufs) {
    fn_post p = {op->post, op->post ? op->post + op->conv.cout : NULL,
                 op->res_late ? fn_rec_residual(op, bufs) : NULL};
    return p;
}

static const char *post_check(const fn_op *op) {
    if (op->post != NULL && op->post_floats != 2 * op->conv.cout)
        return "a conv's post-activation scale and shift need 2 x cout floats";
    if (op->res_late && op->in2 < 0) return "a conv's late residual needs a residual buffer";
    if (op->res_late && op->in2 == op->out) return "a conv's late residual cannot be its output buffer";
    return NULL;
}

FN_REC_RUN(conv2d) {
    /* weights2: a pre-activation (scale, shift) of the input, act2 after it (rewrites.conv_reads_preact) */
    const fn_post post = rec_post(op, bufs);
    return fn_conv2d_nhwc_pre(k, &op->conv, op->n, op->h, op->w, bufs[op->in] + op->xoff,
                              op->ldx ? op->ldx : op->conv.cin, op->weights,
                              op->res_late ? NULL : fn_rec_residual(op, bufs), &op->act,
                              bufs[op->out] + op->yoff, op->ldy ? op->ldy : op->conv.cout,
                              op->gate >= 0 ? bufs[op->gate] : NULL, op->weights2, &op->act2, &post, op->pf,
                              op->pf_floats, scratch, scratch_bytes, nthreads);
}

FN_REC_SCRATCH(conv2d) {
    return op->gate >= 0 ? fn_conv2d_gated_scratch_bytes(k, &op->conv, op->n, op->h, op->w, nthreads)
                         : fn_conv2d_scratch_bytes(k, &op->conv, op->n, op->h, op->w, nthreads);
}

FN_REC_CHECK(conv2d) {
    if (op->gate >= 0 && !fn_conv2d_gate_fits(&op->conv)) return "a gated conv2d must be 1x1 with groups 1";
    if (op->weights2 != NULL &&
        (op->gate >= 0 || !fn_conv2d_pre_fits(&op->conv) || op->weights2_floats != 2 * op->conv.cin ||
         op->act2.kind > FN_ACT_CLAMP))
        return "a conv2d's pre-activation needs a 1x1 conv, groups 1, no padding, no gate, 2 x cin floats";
    if (op->weights != NULL && op->weights_floats != fn_conv2d_packed_floats(k, &op->conv))
        return WEIGHTS_MISFIT;
    return post_check(op);
}

FN_REC_RUN(winograd3x3) {
    /* ldy, yoff: a block of a channel concat's buffer (rewrites.conv_writes_cat_block) */
    return fn_winograd3x3_nhwc_ldy(k, &op->conv, op->n, op->h, op->w, bufs[op->in], op->weights,
                                   fn_rec_residual(op, bufs), &op->act, bufs[op->out] + op->yoff,
                                   op->ldy ? op->ldy : op->conv.cout, scratch, scratch_bytes, nthreads);
}

FN_REC_SCRATCH(winograd3x3) {
    return fn_winograd3x3_scratch_bytes(k, &op->conv, op->n, op->h, op->w, nthreads);
}

FN_REC_CHECK(winograd3x3) {
    if (!fn_winograd3x3_supported(&op->conv)) return "winograd3x3 needs a 3x3 or 5x5 stride-1 conv";
    if (op->weights == NULL || op->weights_floats != fn_winograd3x3_packed_floats(k, &op->conv))
        return WEIGHTS_MISFIT;
    return NULL;
}

FN_REC_RUN(winograd2x3) {
    return fn_winograd2x3_nhwc_ldy(k, &op->conv, op->n, op->h, op->w, bufs[op->in], op->weights,
                                   fn_rec_residual(op, bufs), &op->act, bufs[op->out] + op->yoff,
                                   op->ldy ? op->ldy : op->conv.cout, scratch, scratch_bytes, nthreads);
}

FN_REC_SCRATCH(winograd2x3) {
    return fn_winograd2x3_scratch_bytes(k, &op->conv, op->n, op->h, op->w, nthreads);
}

FN_REC_CHECK(winograd2x3) {
    if (!fn_winograd2x3_supported(&op->conv)) return "winograd2x3 needs a 3x3 stride-1 conv";
    if (op->weights == NULL || op->weights_floats != fn_winograd2x3_packed_floats(k, &op->conv))
        return WEIGHTS_MISFIT;
    return NULL;
}

FN_REC_RUN(winograd1d) {
    /* ldy, yoff: a block of a channel concat's buffer (rewrites.conv_writes_cat_block) */
    return fn_winograd1d_nhwc_ldy(k, &op->conv, op->n, op->h, op->w, bufs[op->in], op->weights,
                                  fn_rec_residual(op, bufs), &op->act, bufs[op->out] + op->yoff,
                                  op->ldy ? op->ldy : op->conv.cout, scratch, scratch_bytes, nthreads);
}

FN_REC_SCRATCH(winograd1d) {
    return fn_winograd1d_scratch_bytes(k, &op->conv, op->n, op->h, op->w, nthreads);
}

FN_REC_CHECK(winograd1d) {
    if (!fn_winograd1d_supported(&op->conv)) return "winograd1d needs a 1xk or kx1 (k = 3, 5, 7) stride-1 conv";
    if (op->weights == NULL || op->weights_floats != fn_winograd1d_packed_floats(k, &op->conv))
        return WEIGHTS_MISFIT;
    return NULL;
}

/* A DWCONV2D record with weights_ex: the 1x1 expand conv before it joined (rewrites.dwconv_takes_expand) */
static fn_dwconv_pw_args expand_dw_args(const fn_op *op) {
    fn_dwconv_pw_args a = {&op->conv_ex, &op->conv, NULL, op->weights_ex, op->weights, NULL,
                           &op->act_ex, &op->act, NULL};
    return a;
}

FN_REC_RUN(dwconv2d) {
    if (op->weights_ex) {
        const fn_dwconv_pw_args a = expand_dw_args(op);
        return fn_dwconv_pw_mean_nhwc(k, &a, op->n, op->h, op->w, bufs[op->in], NULL, bufs[op->out],
                                      op->out2 >= 0 ? bufs[op->out2] : NULL, scratch, scratch_bytes, nthreads);
    }
    const fn_post post = rec_post(op, bufs);
    return fn_dwconv2d_mean_nhwc(k, &op->conv, op->n, op->h, op->w, bufs[op->in], op->weights,
                                 op->res_late ? NULL : fn_rec_residual(op, bufs), &op->act, &post, bufs[op->out],
                                 op->out2 >= 0 ? bufs[op->out2] : NULL, scratch, scratch_bytes, nthreads);
}

FN_REC_SCRATCH(dwconv2d) {
    if (op->weights_ex) {
        const fn_dwconv_pw_args a = expand_dw_args(op);
        return fn_dwconv_pw_mean_scratch_bytes(k, &a, op->n, op->h, op->w, op->out2 >= 0, nthreads);
    }
    return op->out2 >= 0 ? fn_dwconv2d_mean_scratch_bytes(&op->conv, op->n, op->h) : 0;
}

FN_REC_CHECK(dwconv2d) {
    const fn_conv2d_desc *d = &op->conv;
    if (d->groups != d->cin || d->cout != d->cin) return "a dwconv2d needs groups == cin == cout";
    if (op->weights == NULL || op->weights_floats != fn_dwconv_packed_floats(d->cin, d->kh, d->kw))
        return WEIGHTS_MISFIT;
    /* the mean is written after the rows: over the input, residual or output it would corrupt them */
    if (op->out2 >= 0 && (op->out2 == op->in || op->out2 == op->in2 || op->out2 == op->out))
        return "a dwconv2d's mean must have a buffer of its own";
    if (op->weights_ex != NULL) {
        const fn_conv2d_desc *ex = &op->conv_ex;
        if (ex->cout != d->cin || ex->kh != 1 || ex->kw != 1 || ex->sh != 1 || ex->sw != 1 ||
            ex->groups != 1 || ex->pad_top || ex->pad_left || ex->pad_bottom || ex->pad_right ||
            op->weights_ex_floats != fn_conv2d_packed_floats(k, ex))
            return "the expand conv does not fit the depthwise one";
        if (op->in2 >= 0 || op->post != NULL || op->res_late)
            return "a dwconv2d with an expand conv takes no residual or post";
        if (op->in == op->out) return "a dwconv2d with an expand conv cannot write over its input";
    }
    return post_check(op);
}

FN_REC_RUN(dwconv_pw) {
    const fn_dwconv_pw_args a = fn_dwconv_pw_args_of(op);
    return fn_dwconv_pw_nhwc(k, &a, op->n, op->h, op->w, bufs[op->in], fn_rec_residual(op, bufs),
                             bufs[op->out], scratch, scratch_bytes, nthreads);
}

FN_REC_SCRATCH(dwconv_pw) {
    const fn_dwconv_pw_args a = fn_dwconv_pw_args_of(op);
    return fn_dwconv_pw_scratch_bytes(k, &a, op->h, op->w, nthreads);
}

FN_REC_CHECK(dwconv_pw) {
    const fn_conv2d_desc *dw = &op->conv;
    if (dw->groups != dw->cin || dw->cout != dw->cin || op->conv2.cin != dw->cin)
        return "depthwise + 1x1 descs do not chain";
    if (op->weights == NULL || op->weights2 == NULL
        || op->weights_floats != fn_dwconv_packed_floats(dw->cin, dw->kh, dw->kw)
        || op->weights2_floats != fn_conv2d_packed_floats(k, &op->conv2))
        return WEIGHTS_MISFIT;
    if (op->weights_ex != NULL && (op->conv_ex.cout != dw->cin
                                   || op->weights_ex_floats != fn_conv2d_packed_floats(k, &op->conv_ex)))
        return "the expand conv does not fit the depthwise one";
    return NULL;
}

FN_REC_RUN(conv_first) {
    return fn_conv_first(k, &op->conv, op->kind, op->n, op->h, op->w, bufs[op->in], op->weights,
                         &op->act, bufs[op->in2], bufs[op->out], nthreads);
}

FN_REC_RUN(conv_transpose2d) {
    return fn_conv_transpose2d_nhwc(k, &op->conv, op->n, op->h, op->w, op->oh, op->ow, bufs[op->in],
                                    op->weights, &op->act, bufs[op->out], scratch, scratch_bytes,
                                    nthreads);
}

FN_REC_SCRATCH(conv_transpose2d) {
    return fn_conv_transpose2d_scratch_bytes(k, &op->conv, op->n, op->h, op->w, nthreads);
}

FN_REC_CHECK(conv_transpose2d) {
    if (op->weights == NULL || op->weights_floats != fn_conv_transpose2d_packed_floats(k, &op->conv))
        return WEIGHTS_MISFIT;
    return NULL;
}

/* MATMUL: a product of two activations (attention's q @ k^T and attn @ v). Each product packs its B,
 * (w, c) row-major, into scratch as a 1x1 conv's weights (fn_conv2d_pack_kn takes that layout as it
 * is) and runs A's h rows through the conv driver: the GEMM is the conv's micro-kernel on every ISA.
 * A B shared by every product (inner 0) is packed once. */
static fn_conv2d_desc matmul_desc(const fn_op *op) {
    fn_conv2d_desc d;
    memset(&d, 0, sizeof d);
    d.cin = op->w, d.cout = op->c, d.groups = 1;
    d.kh = d.kw = d.sh = d.sw = d.dh = d.dw = 1;
    return d;
}

static size_t matmul_packed_bytes(const fn_kernels *k, const fn_op *op) {
    const fn_conv2d_desc d = matmul_desc(op);
    return (fn_conv2d_packed_floats(k, &d) * sizeof(float) + 63) / 64 * 64;
}

FN_REC_RUN(matmul) {
    const fn_conv2d_desc d = matmul_desc(op);
    const size_t pb = matmul_packed_bytes(k, op);
    if (scratch == NULL || scratch_bytes < pb) return FN_ERR_ARG;
    float *packed = (float *)scratch;
    for (size_t b = 0; b < op->n; b++) {
        if (b == 0 || op->inner) fn_conv2d_pack_kn(k, &d, bufs[op->in2] + b * op->inner, NULL, packed);
        const fn_status st = fn_conv2d_nhwc(k, &d, 1, op->h, 1, bufs[op->in] + b * op->outer, packed, NULL,
                                            &op->act, bufs[op->out] + b * op->h * op->c,
                                            (char *)scratch + pb, scratch_bytes - pb, nthreads);
        if (st != FN_OK) return st;
    }
    return FN_OK;
}

FN_REC_SCRATCH(matmul) {
    const fn_conv2d_desc d = matmul_desc(op);
    return matmul_packed_bytes(k, op) + fn_conv2d_scratch_bytes(k, &d, 1, op->h, 1, nthreads);
}
