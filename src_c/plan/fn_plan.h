/* fn_plan.h: the plan's op records (included by fastnorm.h). A plan is an array of fn_op records over
 * numbered buffers, run in one call (plan/plan.c).
 *
 * FN_PLAN_RECORDS is the one list of record kinds. A row X(id, NAME, name, label, S, C) gives
 *   - the enum value FN_OP_<NAME> = id (ids reach Python as fastnorm._C.OP_<NAME>, never retyped);
 *   - fn_rec_<name>_run, which runs one record (plan/rec_<family>.c);
 *   - S = Y: fn_rec_<name>_scratch, the scratch bytes the record needs for nthreads (N: none);
 *   - C = Y: fn_rec_<name>_check, which returns NULL when the record fits the kernel table, else why
 *     not (N: nothing to check beyond the buffer ids the bindings check);
 *   - label: the record's name in profiles (fastnorm._C.RECORDS[id]).
 * Adding a record: a row here (plus any fields it needs in fn_op below), its functions in
 * plan/rec_<family>.c, its lowering in fastnorm/plan/lower_<family>.py. */
#ifndef FASTNORM_FN_PLAN_H
#define FASTNORM_FN_PLAN_H

#define FN_PLAN_RECORDS(X)                                                                         \
    X(1, CONV2D, conv2d, "conv2d", Y, Y)                 /* also linear */                         \
    X(2, SCALE_SHIFT, scale_shift, "scale_shift", N, N)  /* standalone BN (+act) */                \
    X(3, ACT, act, "act", N, N)                          /* n elements, act */                     \
    X(4, MAXPOOL2D, maxpool2d, "max_pool2d", N, Y) /* out2: the indices (max_unpool2d's), or -1 */ \
    X(5, NCHW_TO_NHWC, nchw_to_nhwc, "nchw->nhwc", N, N)                                           \
    X(6, NHWC_TO_NCHW, nhwc_to_nchw, "nhwc->nchw", N, N)                                           \
    X(7, COPY, copy, "copy", N, N)                       /* n elements */                          \
    /* the op families (images NHWC): */                                                           \
    X(8, ACTK, actk, "activation", N, N)       /* fn_act_apply(kind, actp), n elements */          \
    X(9, PRELU, prelu, "prelu", N, N)          /* (outer, c, inner), weights = slopes */           \
    X(10, SOFTMAX, softmax, "softmax", N, N)   /* (outer, c = len, inner), kind = log */           \
    X(11, GROUP_NORM, group_norm, "group_norm", Y, N) /* NHWC (n, h*w, c), groups, eps, gamma/beta \
                                                         in weights/weights2 */                    \
    X(12, LAYER_NORM, layer_norm, "layer_norm", N, N) /* rows (outer, inner), eps, gamma/beta */   \
    X(13, BINARY, binary, "binary", N, N)      /* kind, bndim, bshape, bsa, bsb: in op in2 -> out */ \
    X(14, CAT, cat, "cat", N, N)               /* outer, nins, ins (-1: a block its producer     \
                                                  wrote in place), inner_sizes */                  \
    X(15, AVGPOOL2D, avgpool2d, "avg_pool2d", N, N)                   /* NHWC, avg desc */         \
    X(16, ADAPTIVE_POOL2D, adaptive_pool2d, "adaptive_pool2d", N, N)  /* kind = fn_pool_kind */    \
    X(17, PAD2D, pad2d, "pad", N, N)           /* NHWC (planes = n, e = c), kind = mode, pads, value */ \
    X(18, INTERP2D, interp2d, "interpolate", N, N)           /* NHWC, kind = mode, interp tables */ \
    X(19, CHANNEL_SHUFFLE, channel_shuffle, "channel_shuffle", N, N) /* NHWC n*h*w pixels, c, groups */ \
    X(20, PIXEL_SHUFFLE, pixel_shuffle, "pixel_shuffle", N, N) /* NCHW (n, c, h, w) the small       \
                                                 extents of the shuffle, groups = r, kind = inverse */ \
    X(21, CONV_TRANSPOSE2D, conv_transpose2d, "conv_transpose2d", Y, Y) /* NHWC, conv = the         \
                                                 transposed conv's desc, oh/ow, packed weights */  \
    X(22, DWCONV2D, dwconv2d, "dwconv2d", Y, Y) /* depthwise, multiplier 1: conv, act, in2 = residual, \
                                                 out2 = the (n, c) mean of its output, or -1 */    \
    X(23, WINOGRAD3X3, winograd3x3, "winograd3x3", Y, Y) /* CONV2D's fields (3x3/5x5, stride 1),      \
                                                 weights from fn_winograd3x3_pack */               \
    X(24, CONV_FIRST, conv_first, "conv_first", N, N) /* cin <= 4: kind = input is NHWC, in2 = the  \
                                                 padded planar copy */                             \
    X(25, GROUP_NORM_MAXPOOL, group_norm_maxpool, "group_norm+max_pool2d", Y, N) /* GROUP_NORM's    \
                                                 fields with h, w the image, then pool, oh, ow */  \
    X(26, DWCONV_PW, dwconv_pw, "dwconv+conv1x1", Y, Y) /* [1x1 expand (conv_ex, act_ex,            \
                         weights_ex; NULL: none)], DWCONV2D (conv, act, weights), a 1x1 conv (conv2,\
                         act2, weights2, in2 = its residual), in bands; h, w: the depthwise input */ \
    X(27, STRIDED_COPY, strided_copy, "strided_copy", N, N) /* slice/split/permute: y contiguous    \
                         (bndim, bshape) = in + xoff read at strides bsa */                        \
    X(28, REDUCE, reduce, "reduce", N, N) /* kind = FN_REDUCE_*: (outer, c = len, inner) -> (outer, inner) */ \
    X(29, WINOGRAD1D, winograd1d, "winograd1d", Y, Y) /* CONV2D's fields (1xk / kx1, k = 3, 5, 7,       \
                         stride 1), weights from fn_winograd1d_pack */                             \
    X(30, WINOGRAD2X3, winograd2x3, "winograd2x3", Y, Y) /* CONV2D's fields (3x3, stride 1), weights \
                         from fn_winograd2x3_pack: F(2x2, 3x3) */                                   \
    X(31, MATMUL, matmul, "matmul", Y, N) /* n products of two activations (h x w) @ (w x c): A at in, \
                         B at in2, batch strides outer and inner (0: the one A or B for every        \
                         product), C at out, h*c floats apart */                                    \
    X(32, MAX_UNPOOL2D, max_unpool2d, "max_unpool2d", N, Y) /* NHWC (n, h, w, c) at in, its indices \
                         (a MAXPOOL2D's out2) at in2 -> (n, oh, ow, c) */

typedef enum {
#define FN_PLAN_ENUM_(id, NAME, name, label, S, C) FN_OP_##NAME = id,
    FN_PLAN_RECORDS(FN_PLAN_ENUM_)
#undef FN_PLAN_ENUM_
    FN_OP_LIMIT_ = 40 /* every id is below this */
} fn_op_type;

typedef struct fn_op {
    int type;
    int in, in2, out;            /* buffer ids; in2 is the residual (-1: none) */
    size_t n, h, w, c;           /* input extents (NHWC); for ACT/COPY: n = element count */
    size_t oh, ow;               /* output extents (conv, pool) */
    size_t outer, inner;         /* scale_shift geometry */
    fn_conv2d_desc conv;
    fn_pool2d_desc pool;
    fn_act act;
    fn_conv2d_desc conv2;        /* DWCONV_PW: the 1x1 conv after the depthwise one */
    fn_act act2;
    fn_conv2d_desc conv_ex;      /* DWCONV_PW: the 1x1 expand conv before it, if weights_ex */
    fn_act act_ex;
    const float *weights_ex;
    const float *weights;        /* packed conv weights, or scale for SCALE_SHIFT */
    const float *weights2;       /* shift for SCALE_SHIFT */
    size_t weights_floats, weights2_floats, weights_ex_floats; /* their lengths (record checks) */
    /* op-family fields (see FN_PLAN_RECORDS) */
    int kind;
    size_t groups;
    double eps;
    fn_act_params actp;
    fn_avgpool2d_desc avg;
    ptrdiff_t pads[4];           /* top, bottom, left, right */
    float value;
    fn_interp_tables interp;
    size_t bndim, bshape[8];
    ptrdiff_t bsa[8], bsb[8];
    const int *ins;              /* CAT: nins buffer ids, inner_sizes floats each */
    const size_t *inner_sizes;
    const size_t *cat_off, *cat_ld; /* CAT, or NULL: input j read from ins[j] + cat_off[j], rows cat_ld[j]
                                     * apart (a channel window of an NHWC image) */
    size_t nins;
    /* channel windows of NHWC images: CONV2D reads in + xoff with pixel stride ldx (0: cin) and writes
     * out + yoff with pixel stride ldy (0: cout); STRIDED_COPY reads from in + xoff; BINARY reads in +
     * xoff and in2 + x2off (the strides are its bsa / bsb) */
    size_t xoff, ldx, yoff, ldy, x2off;
    /* CONV2D (1x1, groups 1): buffer of an (n, cin) scale of the input channels per sample, the
     * squeeze-and-excitation gate the conv's input is multiplied by as the driver copies its rows
     * (fastnorm.plan.rewrites.conv_reads_gated); -1: none */
    int gate;
    /* DWCONV2D: buffer of the (n, c) per-channel means of its output, the global average pool that
     * reads it folded in (fastnorm.plan.rewrites.dwconv_takes_pool); -1: none. Other records: -1. */
    int out2;
    /* A region the record asks into L2 as it runs (the first weights of a later record:
     * fn_plan_link_prefetch), pf_floats long; NULL: none. A hint only: it never changes a result. */
    const float *pf;
    size_t pf_floats;
    /* CONV2D, DWCONV2D: the epilogue past the activation (fastnorm.h fn_post): post NULL or 2 * cout
     * floats, scale then shift (an eval BatchNorm after the activation: fastnorm.plan.rewrites.
     * conv_takes_post); res_late 1: the residual in2 is added after the activation and post, not
     * before the activation (rewrites.conv_takes_residual_add). Other records: NULL, 0. */
    const float *post;
    size_t post_floats;
    int res_late;
} fn_op;

/* The DWCONV_PW record's three convs. */
static inline fn_dwconv_pw_args fn_dwconv_pw_args_of(const fn_op *op) {
    fn_dwconv_pw_args a = {op->weights_ex ? &op->conv_ex : NULL, &op->conv, &op->conv2,
                           op->weights_ex, op->weights, op->weights2,
                           &op->act_ex, &op->act, &op->act2};
    return a;
}

/* bufs[id] is the base pointer of buffer id. scratch is shared by the records that need it (at least
 * fn_plan_scratch_bytes). Returns the first failing record's status. */
fn_status fn_plan_run(const fn_kernels *k, const fn_op *ops, size_t nops, float *const *bufs,
                      void *scratch, size_t scratch_bytes, int nthreads);
/* One run of a plan on its own buffers (fn_plan_run's arguments but the kernels and threads). */
typedef struct {
    const fn_op *ops;
    size_t nops;
    float *const *bufs;
    void *scratch;
    size_t scratch_bytes;
} fn_plan_step;
#define FN_PLAN_MAX_TEAMS 256
/* Runs steps on nteams threads at once, one thread a team: team t runs steps[first[t]] ..
 * steps[first[t + 1] - 1] in order, each with one thread (a batch split into samples, each thread its
 * own samples, plans and arenas; fastnorm/plan/split.py), each step as fn_plan_run_flush runs it.
 * Returns the first failing step's status (in team order). */
fn_status fn_plan_run_teams(const fn_kernels *k, const fn_plan_step *steps, const size_t *first, int nteams,
                            int flush);
/* fn_plan_run, with flush != 0: denormal operands and results read and written as zero on every thread
 * the run uses (x86 MXCSR FTZ and DAZ, AArch64 FPCR FZ), each thread's mode restored after; with
 * flush 0 (or a CPU without such a mode) fn_plan_run itself. Only the flush bits are restored: the
 * exception flags a run raises stay raised. Denormals cost x86 cores a microcode
 * assist per operation (a calibrated EfficientNet-B2: 0.79 of the time kept denormals take, Xeon). */
fn_status fn_plan_run_flush(const fn_kernels *k, const fn_op *ops, size_t nops, float *const *bufs,
                            void *scratch, size_t scratch_bytes, int nthreads, int flush);
/* The calling thread's floating-point control register (MXCSR, FPCR; 0 elsewhere), the bits of it
 * fn_plan_run_flush sets (and restores after, leaving the others as the run left them), and its mode
 * bits (MXCSR's 0-5 are sticky exception flags). */
unsigned long fn_fp_mode(void);
unsigned long fn_fp_flush_bits(void);
unsigned long fn_fp_control_bits(void);
/* out[t] = the mode of thread t of a parallel region of nthreads (the pool threads a run of nthreads
 * uses); returns how many threads the region had. */
int fn_fp_modes(unsigned long *out, int nthreads);
/* Links each record to the weights of a heavy record among the next few (plan.c; the first max_bytes
 * of them, at most), which it then prefetches into L2 while it computes; max_bytes 0 unlinks every
 * record. */
void fn_plan_link_prefetch(fn_op *ops, size_t nops, size_t max_bytes);
/* The largest scratch any record of ops needs with nthreads threads. */
size_t fn_plan_scratch_bytes(const fn_kernels *k, const fn_op *ops, size_t nops, int nthreads);
/* NULL when op is a known record that fits k (descriptors, packed weight lengths), else why not. */
const char *fn_plan_check_record(const fn_kernels *k, const fn_op *op);
/* "CONV2D" and "conv2d" (a profile label) of a record id, NULL for none. */
const char *fn_plan_record_name(int type);
const char *fn_plan_record_label(int type);

#endif
