# Included by _C.pyx: the plan, an array of fn_op records run in one nogil call. Record kinds, their
# checks and scratch sizes are C's (src_c/plan/fn_plan.h); this file fills the records from dicts.

# The record ids, from FN_PLAN_RECORDS: OP_<NAME> = id, and RECORDS = {id: profile label}.
RECORDS = {}


def _export_records():
    cdef const char *name
    for t in range(FN_OP_LIMIT_):
        name = fn_plan_record_name(t)
        if name != NULL:
            RECORDS[t] = fn_plan_record_label(t).decode()
            globals()["OP_" + name.decode()] = t


_export_records()
PLAN_MAX_TEAMS = FN_PLAN_MAX_TEAMS     # run_teams' limit


cdef class CPlan:
    """Op records built once per (model, input shape, ISA); run() resolves buffers and runs them all."""
    cdef fn_op *ops
    cdef size_t nops
    cdef int isa
    cdef readonly int nbufs
    cdef list keep          # arrays the records point into (packed weights, scale/shift)
    # bound once by bind(): per buffer, a constant's pointer or NULL, and its arena offset or -1
    cdef float **cbufs
    cdef long long *coffs
    cdef size_t arena_floats
    cdef list const_keep
    cdef list sizes         # floats per buffer

    def __cinit__(self):
        self.ops = NULL
        self.nops = 0
        self.cbufs = NULL
        self.coffs = NULL

    def __init__(self, int isa, list records, int nbufs, size_t prefetch_bytes=0):
        cdef const fn_kernels *k = _kernels(isa)
        self.isa = <int>k.isa
        self.nbufs = nbufs
        self.keep = []
        self.ops = <fn_op *>calloc(max(len(records), 1), sizeof(fn_op))
        if self.ops == NULL:
            raise MemoryError()
        cdef fn_op *op
        cdef const float[::1] wv
        for i, r in enumerate(records):
            op = &self.ops[i]
            op.type = r["type"]
            op.in_ = r.get("in", 0)
            op.in2 = r.get("in2", -1)
            op.out = r.get("out", 0)
            op.gate = r.get("gate", -1)
            op.out2 = r.get("out2", -1)   # DWCONV2D: its output's per-channel mean
            for b in (op.in_, op.in2, op.out, op.gate, op.out2):
                if b >= nbufs:
                    raise ValueError("plan record %d: buffer %d out of range (%d buffers)" % (i, b, nbufs))
            if op.in_ < 0 or op.out < 0:
                raise ValueError("plan record %d: missing input or output buffer" % i)
            op.n = r.get("n", 0)
            op.h = r.get("h", 0)
            op.w = r.get("w", 0)
            op.c = r.get("c", 0)
            op.oh = r.get("oh", 0)
            op.ow = r.get("ow", 0)
            op.outer = r.get("outer", 0)
            op.inner = r.get("inner", 0)
            if "conv" in r:
                op.conv = _conv_desc(r["conv"])
            if "pool" in r:
                (op.pool.kh, op.pool.kw, op.pool.sh, op.pool.sw, op.pool.dh, op.pool.dw,
                 op.pool.pad_top, op.pool.pad_left) = r["pool"]
            op.act = _act(r.get("act", (0, 0.0, 0.0)))
            if r.get("weights") is not None:
                wv = r["weights"]
                self.keep.append(r["weights"])
                op.weights = &wv[0]
                op.weights_floats = wv.shape[0]
            if r.get("weights2") is not None:
                wv = r["weights2"]
                self.keep.append(r["weights2"])
                op.weights2 = &wv[0]
                op.weights2_floats = wv.shape[0]
            if r.get("post") is not None:  # CONV2D, DWCONV2D: scale, shift past the activation
                wv = r["post"]
                self.keep.append(r["post"])
                op.post = &wv[0]
                op.post_floats = wv.shape[0]
            op.res_late = 1 if r.get("res_late") else 0
            if "conv2" in r:  # DWCONV_PW: the 1x1 conv after the depthwise one
                op.conv2 = _conv_desc(r["conv2"])
            op.act2 = _act(r.get("act2", (0, 0.0, 0.0)))  # also CONV2D's pre-activation
            if r.get("weights_ex") is not None:  # DWCONV_PW: the 1x1 expand conv before it
                op.conv_ex = _conv_desc(r["conv_ex"])
                op.act_ex = _act(r.get("act_ex", (0, 0.0, 0.0)))
                wv = r["weights_ex"]
                self.keep.append(r["weights_ex"])
                op.weights_ex = &wv[0]
                op.weights_ex_floats = wv.shape[0]
            self._family_fields(i, op, r)
            why = fn_plan_check_record(k, op)
            if why != NULL:
                raise ValueError("plan record %d (%s): %s (ISA %s)"
                                 % (i, RECORDS.get(op.type, op.type), why.decode(), k.name.decode()))
        self.nops = len(records)
        # each record prefetches (the first prefetch_bytes of) the next weights (fn_plan_link_prefetch)
        fn_plan_link_prefetch(self.ops, self.nops, prefetch_bytes)

    cdef int _family_fields(self, Py_ssize_t i, fn_op *op, dict r) except -1:
        """Fields of the op-family records; arrays they point into are kept alive in self.keep."""
        cdef const int[::1] iv
        cdef const size_t[::1] sv
        cdef const float[::1] fv
        op.kind = r.get("kind", 0)
        op.xoff = r.get("xoff", 0)
        op.x2off = r.get("x2off", 0)
        op.ldx = r.get("ldx", 0)
        op.yoff = r.get("yoff", 0)
        op.ldy = r.get("ldy", 0)
        op.groups = r.get("groups", 0)
        op.eps = r.get("eps", 0.0)
        if "actp" in r:
            (op.actp.lo, op.actp.hi, op.actp.slope, op.actp.alpha, op.actp.scale, op.actp.input_scale,
             op.actp.beta, op.actp.threshold) = r["actp"]
        if "avg" in r:
            (op.avg.kh, op.avg.kw, op.avg.sh, op.avg.sw, op.avg.pad_top, op.avg.pad_left,
             op.avg.pad_bottom, op.avg.pad_right, op.avg.count_include_pad,
             op.avg.divisor_override) = r["avg"]
        if "pads" in r:
            op.pads[0], op.pads[1], op.pads[2], op.pads[3] = r["pads"]
            op.value = r.get("value", 0.0)
        if "strided" in r:  # STRIDED_COPY: (shape, strides) of the source read
            shape, sa = r["strided"]
            if not (1 <= len(shape) <= 8 and len(sa) == len(shape)):
                raise ValueError("plan record %d: strided copy of %d dims" % (i, len(shape)))
            op.bndim = len(shape)
            for d in range(len(shape)):
                op.bshape[d], op.bsa[d] = shape[d], sa[d]
        if "binary" in r:
            shape, sa, sb = r["binary"]
            if not (1 <= len(shape) <= 8 and len(sa) == len(shape) == len(sb)):
                raise ValueError("plan record %d: binary broadcast of %d dims" % (i, len(shape)))
            op.bndim = len(shape)
            for d in range(len(shape)):
                op.bshape[d], op.bsa[d], op.bsb[d] = shape[d], sa[d], sb[d]
            if not (0 <= op.in2 < self.nbufs):
                raise ValueError("plan record %d: binary op needs a second input buffer" % i)
        if "cat" in r:
            ins, inner = r["cat"][:2]
            ins = np.ascontiguousarray(ins, dtype=np.intc)
            inner = np.ascontiguousarray(inner, dtype=np.uintp)
            if len(ins) != len(inner) or len(ins) < 1 or len(ins) > 256:
                raise ValueError("plan record %d: cat of %d inputs" % (i, len(ins)))
            if ins.min() < -1 or ins.max() >= self.nbufs:  # -1: a block written in place
                raise ValueError("plan record %d: cat input buffer out of range" % i)
            self.keep += [ins, inner]
            iv = ins
            sv = inner
            op.ins = &iv[0]
            op.inner_sizes = &sv[0]
            op.nins = len(ins)
            if len(r["cat"]) == 4:   # channel windows read in place: offsets and row strides
                offs = np.ascontiguousarray(r["cat"][2], dtype=np.uintp)
                lds = np.ascontiguousarray(r["cat"][3], dtype=np.uintp)
                if len(offs) != len(ins) or len(lds) != len(ins) or np.any(lds < inner):
                    raise ValueError("plan record %d: cat windows do not fit its inputs" % i)
                self.keep += [offs, lds]
                sv = offs
                op.cat_off = &sv[0]
                sv = lds
                op.cat_ld = &sv[0]
        if "interp" in r:
            # iy0 iy1 ix0 ix1 (int32), ly0 ly1 lx0 lx1 (float32)
            tabs = ([np.ascontiguousarray(t, dtype=np.intc) for t in r["interp"][:4]]
                    + [np.ascontiguousarray(t, dtype=np.float32) for t in r["interp"][4:]])
            if len(tabs) != 8 or any(len(t) != n for t, n in zip(tabs, [op.oh] * 2 + [op.ow] * 2 + [op.oh] * 2 + [op.ow] * 2)):
                raise ValueError("plan record %d: interpolation tables do not fit the output" % i)
            for t, lim in zip(tabs[:4], (op.h, op.h, op.w, op.w)):
                if len(t) and (t.min() < 0 or t.max() >= lim):
                    raise ValueError("plan record %d: interpolation index out of range" % i)
            self.keep += tabs
            iv = tabs[0]; op.interp.iy0 = &iv[0]
            iv = tabs[1]; op.interp.iy1 = &iv[0]
            iv = tabs[2]; op.interp.ix0 = &iv[0]
            iv = tabs[3]; op.interp.ix1 = &iv[0]
            fv = tabs[4]; op.interp.ly0 = &fv[0]
            fv = tabs[5]; op.interp.ly1 = &fv[0]
            fv = tabs[6]; op.interp.lx0 = &fv[0]
            fv = tabs[7]; op.interp.lx1 = &fv[0]
        return 0

    def __dealloc__(self):
        free(self.ops)
        free(self.cbufs)
        free(self.coffs)

    def bind(self, list consts, const long long[::1] offsets, size_t arena_floats, list sizes):
        """Fix the buffers that never change between runs: consts[i] is the array of constant
        buffer i (else None); every other buffer lives in the arena at offsets[i] (or is an input or
        output, given to run_io). After this, run_io costs a few pointer stores per call."""
        if len(consts) != self.nbufs or offsets.shape[0] != self.nbufs:
            raise ValueError("plan: expected %d buffers" % self.nbufs)
        cdef float **cb = <float **>calloc(max(self.nbufs, 1), sizeof(float *))
        cdef long long *co = <long long *>calloc(max(self.nbufs, 1), sizeof(long long))
        if cb == NULL or co == NULL:
            free(cb)
            free(co)
            raise MemoryError()
        cdef const float[::1] cv
        keep = []
        try:
            for i in range(self.nbufs):
                co[i] = -1
                if consts[i] is not None:
                    a = np.ascontiguousarray(consts[i], dtype=np.float32).reshape(-1)
                    keep.append(a)
                    cv = a
                    cb[i] = <float *>&cv[0] if cv.shape[0] > 0 else NULL
                elif offsets[i] >= 0:
                    if <size_t>offsets[i] > arena_floats:
                        raise ValueError("plan: buffer %d offset out of the arena" % i)
                    co[i] = offsets[i]
        except BaseException:
            free(cb)
            free(co)
            raise
        free(self.cbufs)
        free(self.coffs)
        self.cbufs, self.coffs, self.arena_floats, self.const_keep = cb, co, arena_floats, keep
        self.sizes = [int(v) for v in sizes]

    cdef float **_io_bufs(self, cnp.ndarray x, int xbuf, cnp.ndarray y, int ybuf, cnp.ndarray arena) except NULL:
        """The buffer table of one run: x, y and arena checked (C-contiguous float32 arrays of buffer
        xbuf's, ybuf's and the arena's sizes), constants and arena offsets resolved. The caller frees it."""
        if self.cbufs == NULL:
            raise ValueError("plan: bind() was not called")
        if not (0 <= xbuf < self.nbufs and 0 <= ybuf < self.nbufs) or xbuf == ybuf:
            raise ValueError("plan: input/output buffer ids out of range")
        for a, n, what in ((x, self.sizes[xbuf], "input"), (y, self.sizes[ybuf], "output"),
                           (arena, self.arena_floats, "arena")):
            if (cnp.PyArray_TYPE(a) != cnp.NPY_FLOAT32
                    or not (cnp.PyArray_ISCARRAY_RO(a) if what == "input" else cnp.PyArray_ISCARRAY(a))
                    or <size_t>cnp.PyArray_SIZE(a) < <size_t>n):
                raise ValueError("plan: the %s must be a C-contiguous float32 array of %d values (writable unless input)"
                                 % (what, n))
        cdef float *ap = <float *>cnp.PyArray_DATA(arena)
        cdef float **bufs = <float **>malloc(max(self.nbufs, 1) * sizeof(float *))
        if bufs == NULL:
            raise MemoryError()
        cdef Py_ssize_t i
        for i in range(self.nbufs):
            bufs[i] = ap + self.coffs[i] if self.coffs[i] >= 0 else self.cbufs[i]
        bufs[xbuf] = <float *>cnp.PyArray_DATA(x)
        bufs[ybuf] = <float *>cnp.PyArray_DATA(y)
        return bufs

    def run_io(self, cnp.ndarray x, int xbuf, cnp.ndarray y, int ybuf, cnp.ndarray arena,
               cnp.ndarray scratch, int nthreads, bint flush=False):
        """One input and one output buffer, everything else bound: x, y and arena are C-contiguous
        float32 arrays of buffer xbuf's, ybuf's and the arena's sizes, scratch a uint8 array. flush:
        denormals read and written as zero while it runs (fn_plan_run_flush)."""
        _check_scratch(scratch)
        cdef float **bufs = self._io_bufs(x, xbuf, y, ybuf, arena)
        cdef void *sp = cnp.PyArray_DATA(scratch)
        cdef size_t sbytes = <size_t>cnp.PyArray_SIZE(scratch)
        cdef const fn_kernels *k = fn_kernels_for(<fn_isa>self.isa)
        global fn_py_last_isa
        fn_py_last_isa = self.isa
        cdef fn_status st
        with nogil:
            st = fn_plan_run_flush(k, self.ops, self.nops, bufs, sp if sbytes else NULL, sbytes, nthreads, flush)
        free(bufs)
        _check(st, "plan")

    def prefetch_links(self):
        """[(record, target record, floats)]: what each linked record prefetches as it runs (the first
        floats of the target's weights; fn_plan_link_prefetch)."""
        out = []
        cdef size_t i, j
        for i in range(self.nops):
            if self.ops[i].pf == NULL:
                continue
            for j in range(i + 1, self.nops):
                if self.ops[i].pf == self.ops[j].weights_ex or (self.ops[j].weights_ex == NULL and
                                                                self.ops[i].pf == self.ops[j].weights):
                    out.append((i, j, self.ops[i].pf_floats))
                    break
            else:
                raise AssertionError("plan record %d prefetches no later record's weights" % i)
        return out

    def scratch_bytes(self, int nthreads):
        """Bytes of scratch the records need with nthreads threads (the largest of any record)."""
        return fn_plan_scratch_bytes(fn_kernels_for(<fn_isa>self.isa), self.ops, self.nops, nthreads)

    def run(self, list external, float[::1] arena, unsigned char[::1] scratch, int nthreads,
            Py_ssize_t start=0, Py_ssize_t stop=-1, bint flush=False):
        """external[i]: a float32 C-contiguous array for buffer i (the inputs and outputs), or None
        for what bind() fixed (a constant, or the arena at its offset). Runs records start..stop-1
        (all by default; a sub-range is for profiling); flush as run_io's."""
        if stop < 0:
            stop = self.nops
        if not (0 <= start <= stop <= <Py_ssize_t>self.nops):
            raise ValueError("plan: record range %d..%d out of 0..%d" % (start, stop, self.nops))
        if self.cbufs == NULL:
            raise ValueError("plan: bind() was not called")
        if len(external) != self.nbufs:
            raise ValueError("plan: expected %d buffers" % self.nbufs)
        if <size_t>arena.shape[0] < self.arena_floats:
            raise ValueError("plan: arena of %d floats, need %d" % (arena.shape[0], self.arena_floats))
        cdef const fn_kernels *k = fn_kernels_for(<fn_isa>self.isa)
        global fn_py_last_isa
        fn_py_last_isa = self.isa
        cdef float **bufs = <float **>malloc(max(self.nbufs, 1) * sizeof(float *))
        if bufs == NULL:
            raise MemoryError()
        cdef const float[::1] ev  # const: an input may be read-only; the plan never writes inputs
        cdef float *base = &arena[0] if arena.shape[0] > 0 else NULL
        cdef fn_status st
        try:
            for i in range(self.nbufs):
                if external[i] is not None:
                    ev = external[i].reshape(-1)
                    bufs[i] = <float *>&ev[0] if ev.shape[0] > 0 else NULL
                else:
                    bufs[i] = base + self.coffs[i] if (self.coffs[i] >= 0 and base != NULL) else self.cbufs[i]
            with nogil:
                st = fn_plan_run_flush(k, self.ops + start, stop - start, bufs,
                                       &scratch[0] if scratch.shape[0] else NULL, scratch.shape[0], nthreads, flush)
        finally:
            free(bufs)
        _check(st, "plan")


cdef int _check_scratch(cnp.ndarray scratch) except -1:
    if cnp.PyArray_ITEMSIZE(scratch) != 1 or not cnp.PyArray_ISCARRAY(scratch):
        raise ValueError("plan: scratch must be a C-contiguous byte array")
    return 0


def fp_mode():
    """(the calling thread's floating-point control register: x86 MXCSR, AArch64 FPCR, 0 elsewhere; the
    bits of it a flushing run sets; its mode bits, without x86's sticky exception flags)."""
    return fn_fp_mode(), fn_fp_flush_bits(), fn_fp_control_bits()


def fp_modes(int nthreads):
    """[the floating-point control register of each thread of a parallel region of nthreads] (the pool
    threads a run of nthreads uses; fewer entries when OpenMP gave the region fewer threads)."""
    if not 1 <= nthreads <= 4096:
        raise ValueError("fp_modes: expected 1..4096 threads, got %d" % nthreads)
    cdef unsigned long *out = <unsigned long *>calloc(nthreads, sizeof(unsigned long))
    if out == NULL:
        raise MemoryError()
    cdef int ran
    with nogil:
        ran = fn_fp_modes(out, nthreads)
    res = [out[t] for t in range(min(ran, nthreads))]
    free(out)
    return res


def run_teams(list teams, bint flush=False):
    """Run plans on len(teams) threads at once, one thread each: teams[t] is a list of steps
    (cplan, x, xbuf, y, ybuf, arena, scratch), run in order on thread t with one thread, as run_io
    runs one (flush as its). Every plan must be of one ISA, and no two steps of different teams may share an arena,
    scratch or output (fastnorm/plan/split.py gives each team its own)."""
    cdef int nteams = len(teams)
    if not 1 <= nteams <= FN_PLAN_MAX_TEAMS:
        raise ValueError("run_teams: expected 1..%d teams, got %d" % (FN_PLAN_MAX_TEAMS, nteams))
    cdef Py_ssize_t nsteps = sum(len(team) for team in teams), i = 0
    cdef fn_plan_step *steps = <fn_plan_step *>calloc(max(nsteps, 1), sizeof(fn_plan_step))
    cdef size_t *first = <size_t *>calloc(nteams + 1, sizeof(size_t))
    cdef CPlan cp
    cdef int isa = -1
    cdef fn_status st = FN_OK
    if steps == NULL or first == NULL:
        free(steps)
        free(first)
        raise MemoryError()
    try:
        for t, team in enumerate(teams):
            first[t] = i
            for cp, x, xbuf, y, ybuf, arena, scratch in team:
                if isa < 0:
                    isa = cp.isa
                elif cp.isa != isa:
                    raise ValueError("run_teams: plans of different ISAs")
                _check_scratch(scratch)
                steps[i].bufs = cp._io_bufs(x, xbuf, y, ybuf, arena)
                steps[i].ops = cp.ops
                steps[i].nops = cp.nops
                steps[i].scratch_bytes = <size_t>cnp.PyArray_SIZE(scratch)
                steps[i].scratch = cnp.PyArray_DATA(scratch) if steps[i].scratch_bytes else NULL
                i += 1
        first[nteams] = i
        if isa >= 0:
            global fn_py_last_isa
            fn_py_last_isa = isa
            with nogil:
                st = fn_plan_run_teams(fn_kernels_for(<fn_isa>isa), steps, first, nteams, flush)
    finally:
        for j in range(i):
            free(<void *>steps[j].bufs)
        free(steps)
        free(first)
    _check(st, "plan")
