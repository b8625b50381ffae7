# Included by _C.pyx: bindings of the act family (declarations in src_c/act/fn_act.h).

# The activation kinds, from FN_ACTK_KINDS (src_c/act/act_kinds.h): ACTK_<NAME> = its enum value.
cdef extern from *:
    """
    #define FN_PY_ACTK_ROW_(NAME, EXPR) {#NAME, FN_ACTK_##NAME},
    static const struct { const char *name; int id; } fn_py_actk_kinds[] = {
        FN_ACTK_KINDS(FN_PY_ACTK_ROW_)
    };
    #undef FN_PY_ACTK_ROW_
    static const size_t fn_py_actk_count = sizeof fn_py_actk_kinds / sizeof fn_py_actk_kinds[0];
    """
    ctypedef struct fn_py_actk_row:
        const char *name
        int id
    const fn_py_actk_row *fn_py_actk_kinds
    const size_t fn_py_actk_count

for _i in range(fn_py_actk_count):
    globals()["ACTK_" + fn_py_actk_kinds[_i].name.decode()] = fn_py_actk_kinds[_i].id

cdef extern from "fastnorm.h":
    int FN_ACT_ACTK0
# an epilogue past the clamp is fn_act kind ACT_ACTK0 + ACTK_<NAME> (src_c/fastnorm.h)
ACT_ACTK0 = FN_ACT_ACTK0


cdef extern from "fastnorm.h" nogil:
    ctypedef struct fn_act_params:
        float lo, hi, slope, alpha, scale, input_scale, beta, threshold

    fn_status fn_act_apply(const fn_kernels *k, int kind, size_t n, const float *x,
                           const fn_act_params *p, float *y, int nthreads)
    void fn_act_prelu(const fn_kernels *k, size_t outer, size_t c, size_t inner, const float *x,
                      const float *w, float *y, int nthreads)
    void fn_act_softmax(const fn_kernels *k, size_t outer, size_t len, size_t inner,
                        const float *x, float *y, int log, int nthreads)


# Order of the params tuple act_apply takes (fields of fn_act_params).
ACT_PARAM_FIELDS = ("lo", "hi", "slope", "alpha", "scale", "input_scale", "beta", "threshold")


def act_apply(int isa, int kind, const float[::1] x, tuple params, float[::1] y, int nthreads):
    """y = f_kind(x) elementwise (kinds: fn_actk_kind in src_c/act/fn_act.h); y may be x.
    params: the 8 fields of fn_act_params in ACT_PARAM_FIELDS order."""
    cdef const fn_kernels *k = _kernels(isa)
    if y.shape[0] != x.shape[0]:
        raise ValueError("act_apply: output has %d elements, input %d" % (y.shape[0], x.shape[0]))
    if len(params) != 8:
        raise ValueError("act_apply: expected 8 params %r, got %d" % (ACT_PARAM_FIELDS, len(params)))
    cdef fn_act_params p
    (p.lo, p.hi, p.slope, p.alpha, p.scale, p.input_scale, p.beta, p.threshold) = params
    if x.shape[0] == 0:
        return
    cdef fn_status st
    with nogil:
        st = fn_act_apply(k, kind, x.shape[0], &x[0], &p, &y[0], nthreads)
    _check(st, "act_apply(kind=%d)" % kind)


def act_prelu(int isa, const float[:, :, ::1] x, const float[::1] weight, float[:, :, ::1] y,
              int nthreads):
    """x, y: (outer, c, inner); weight: (c,) or (1,)."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef size_t outer = x.shape[0], c = x.shape[1], inner = x.shape[2]
    if weight.shape[0] != <Py_ssize_t>c and weight.shape[0] != 1:
        raise ValueError("prelu: weight has %d values, expected 1 or %d (channels)" % (weight.shape[0], c))
    if _shape(y.shape, 3) != _shape(x.shape, 3):
        raise ValueError("prelu: output shape %r != input shape %r" % (_shape(y.shape, 3), _shape(x.shape, 3)))
    if outer * c * inner == 0:
        return
    if weight.shape[0] == 1:  # one shared weight: the elementwise path
        inner = outer * c * inner
        outer = 1
        c = 1
    with nogil:
        fn_act_prelu(k, outer, c, inner, &x[0, 0, 0], &weight[0], &y[0, 0, 0], nthreads)


def act_softmax(int isa, const float[:, :, ::1] x, float[:, :, ::1] y, bint log, int nthreads):
    """x, y: (outer, len, inner); softmax (log: log_softmax) over len."""
    cdef const fn_kernels *k = _kernels(isa)
    if _shape(y.shape, 3) != _shape(x.shape, 3):
        raise ValueError("softmax: output shape %r != input shape %r" % (_shape(y.shape, 3), _shape(x.shape, 3)))
    if x.shape[0] * x.shape[1] * x.shape[2] == 0:
        return
    with nogil:
        fn_act_softmax(k, x.shape[0], x.shape[1], x.shape[2], &x[0, 0, 0], &y[0, 0, 0], log, nthreads)
