# Included first by _C.pyx: the declarations of src_c/fastnorm.h that every binding file uses.
from libc.stdint cimport int64_t

cdef extern from "fastnorm.h" nogil:
    ctypedef enum fn_status:
        FN_OK
        FN_ERR_NOMEM
        FN_ERR_ARG

    ctypedef enum fn_isa:  # the wide ISAs depend on the target architecture (fastnorm.h)
        FN_ISA_SCALAR
        FN_ISA_COUNT

    ctypedef struct fn_act:
        int kind
        float lo
        float hi

    ctypedef struct fn_kernels:
        fn_isa isa
        const char *name
        size_t gemm_mr
        size_t gemm_nr

    ctypedef struct fn_cpu_features:
        int sse2, avx, fma, avx2, avx512f, avx512bw, avx512dq, avx512vl, avx512_vnni, avx512_bf16
        int os_avx, os_avx512
        int vendor_amd, family
        int asimd, asimd_dotprod, asimd_fp16, sve, sve2

    const char *fn_cpu_arch()
    void fn_cpu_detect(fn_cpu_features *f)
    fn_isa fn_cpu_best_isa(const fn_cpu_features *f)
    const fn_kernels *fn_kernels_for(fn_isa isa)
    int fn_dispatch_init()
    const fn_kernels *fn_kernels_active()
    int fn_avx512_half_rate()

    ctypedef struct fn_conv2d_desc:
        size_t cin, cout, groups
        size_t kh, kw, sh, sw, dh, dw
        size_t pad_top, pad_left, pad_bottom, pad_right

    size_t fn_conv_out_extent(size_t inp, size_t k, size_t s, size_t d, size_t p0, size_t p1)
    int fn_conv2d_dense_fits(const fn_conv2d_desc *d)
    const fn_kernels *fn_conv2d_kernels(const fn_kernels *k, const fn_conv2d_desc *d)
    size_t fn_conv2d_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d)
    void fn_conv2d_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w,
                        const float *bias, float *packed)
    void fn_conv2d_pack_kn(const fn_kernels *k, const fn_conv2d_desc *d, const float *wt,
                           const float *bias, float *packed)
    size_t fn_conv2d_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                   size_t w, int nthreads)
    fn_status fn_conv2d_nhwc(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                             size_t w, const float *x, const float *packed, const float *res,
                             const fn_act *act, float *y, void *scratch, size_t scratch_bytes,
                             int nthreads)

    void fn_bnorm_prepare(size_t c, const float *mean, const float *var, const float *gamma,
                          const float *beta, double eps, float *scale, float *shift)
    void fn_fold_scale_rows(const fn_kernels *k, size_t rows, size_t cols, const float *w, const double *s,
                            float *out, double *err)
    void fn_scale_shift(const fn_kernels *k, size_t outer, size_t c, size_t inner, const float *x,
                        const float *scale, const float *shift, const fn_act *act, float *y,
                        int nthreads)
    void fn_activation(const fn_kernels *k, size_t n, const float *x, const fn_act *act, float *y,
                       int nthreads)

    ctypedef struct fn_pool2d_desc:
        size_t kh, kw, sh, sw, dh, dw
        size_t pad_top, pad_left

    fn_status fn_maxpool2d_nhwc(const fn_kernels *k, const fn_pool2d_desc *d, size_t n, size_t h,
                                size_t w, size_t c, size_t oh, size_t ow, const float *x, float *y,
                                int nthreads)

    void fn_nchw_to_nhwc(const fn_kernels *k, size_t n, size_t c, size_t hw, const float *x, float *y, int nthreads)
    void fn_nhwc_to_nchw(const fn_kernels *k, size_t n, size_t c, size_t hw, const float *x, float *y, int nthreads)

    # family structs as the plan records hold them (Cython names differ from the families' own
    # declarations in their .pxi files; the C types are the same)
    ctypedef struct plan_act_params "fn_act_params":
        float lo, hi, slope, alpha, scale, input_scale, beta, threshold
    ctypedef struct plan_avg_desc "fn_avgpool2d_desc":
        size_t kh, kw, sh, sw
        size_t pad_top, pad_left, pad_bottom, pad_right
        int count_include_pad
        long divisor_override
    ctypedef struct plan_interp_tables "fn_interp_tables":
        const int *iy0
        const int *iy1
        const int *ix0
        const int *ix1
        const float *ly0
        const float *ly1
        const float *lx0
        const float *lx1

    ctypedef struct fn_op:
        int type
        int in_ "in"
        int in2, out
        size_t n, h, w, c
        size_t oh, ow
        size_t outer, inner
        fn_conv2d_desc conv
        fn_pool2d_desc pool
        fn_act act
        fn_conv2d_desc conv2
        fn_act act2
        fn_conv2d_desc conv_ex
        fn_act act_ex
        const float *weights_ex
        const float *weights
        const float *weights2
        size_t weights_floats, weights2_floats, weights_ex_floats
        int kind
        size_t groups
        double eps
        plan_act_params actp
        plan_avg_desc avg
        Py_ssize_t pads[4]
        float value
        plan_interp_tables interp
        size_t bndim
        size_t bshape[8]
        Py_ssize_t bsa[8]
        Py_ssize_t bsb[8]
        const int *ins
        const size_t *inner_sizes
        const size_t *cat_off
        const size_t *cat_ld
        size_t nins
        size_t xoff, ldx, yoff, ldy, x2off
        int gate
        int out2
        const float *pf
        size_t pf_floats
        const float *post
        size_t post_floats
        int res_late

    fn_status fn_plan_run(const fn_kernels *k, const fn_op *ops, size_t nops, float *const *bufs,
                          void *scratch, size_t scratch_bytes, int nthreads)
    size_t fn_plan_scratch_bytes(const fn_kernels *k, const fn_op *ops, size_t nops, int nthreads)
    ctypedef struct fn_plan_step:
        const fn_op *ops
        size_t nops
        float *const *bufs
        void *scratch
        size_t scratch_bytes
    fn_status fn_plan_run_teams(const fn_kernels *k, const fn_plan_step *steps, const size_t *first, int nteams,
                                int flush)
    fn_status fn_plan_run_flush(const fn_kernels *k, const fn_op *ops, size_t nops, float *const *bufs,
                                void *scratch, size_t scratch_bytes, int nthreads, int flush)
    unsigned long fn_fp_mode()
    unsigned long fn_fp_flush_bits()
    unsigned long fn_fp_control_bits()
    int fn_fp_modes(unsigned long *out, int nthreads) nogil
    enum: FN_PLAN_MAX_TEAMS
    void fn_plan_link_prefetch(fn_op *ops, size_t nops, size_t max_bytes)
    const char *fn_plan_check_record(const fn_kernels *k, const fn_op *op)
    const char *fn_plan_record_name(int type)
    const char *fn_plan_record_label(int type)
    enum: FN_OP_LIMIT_

    int fn_omp_max_threads()
    int fn_omp_enabled()
