"""The plan: an optimised Graph lowered to op records over numbered buffers, one arena, one nogil call.

Inside the plan, 4D activations are NHWC (channels-last: a conv is then an indirect GEMM over pixels
and a BN a vector scale/shift per pixel); inputs and outputs stay NCHW, converted at the edges. A
flatten of an NHWC tensor that feeds linear layers costs nothing: the linear weights' columns are
permuted once to (h, w, c) order instead.

Plan building is three steps: lowering (each graph node to records, by the family modules'
LOWER tables), the record rewrites (fastnorm.plan.rewrites, passes over the record list), then
liveness and offsets in one arena (fastnorm.plan.memory).
"""
import math
import _thread   # a lock without threading's import (0.6 ms of `import fastnorm`): threading.Lock is this one
import os
import time

import numpy as np

from fastnorm import _C, denormals, limits
from fastnorm.errors import UnsupportedError
from fastnorm.graph import infer_shapes
from fastnorm.passes.folded import release_scratch
from fastnorm.plan import lower_act, lower_conv, lower_glue, lower_norm, lower_pool, lower_shape, memory, rewrites

# op name -> lowering(plan, node, graph, loc, cache): the families' tables
LOWER = {**lower_conv.LOWER, **lower_norm.LOWER, **lower_act.LOWER, **lower_pool.LOWER, **lower_glue.LOWER,
         **lower_shape.LOWER}
ALIGN = 16  # floats: 64-byte aligned buffers in the arena


_CACHES = {}  # cached: level -> (bytes, CPUs sharing it)


def cache_info(level):
    """(bytes, CPUs sharing it) of cpu0's data or unified cache of this level, from Linux's sysfs
    cache table; (0, 1) where there is none."""
    if level not in _CACHES:
        size, sharing = 0, 1
        base = "/sys/devices/system/cpu/cpu0/cache"
        try:
            for idx in sorted(os.listdir(base)):
                d = os.path.join(base, idx)
                with open(os.path.join(d, "level")) as f:
                    if f.read().strip() != str(level):
                        continue
                with open(os.path.join(d, "type")) as f:
                    if f.read().strip() == "Instruction":
                        continue
                with open(os.path.join(d, "size")) as f:
                    txt = f.read().strip().upper()
                size = int(txt.rstrip("KM")) * {"K": 1 << 10, "M": 1 << 20}.get(txt[-1:], 1)
                with open(os.path.join(d, "shared_cpu_list")) as f:
                    sharing = sum(int(hi or lo) - int(lo) + 1 for lo, _, hi in
                                  (part.partition("-") for part in f.read().strip().split(",") if part))
                break
        except (OSError, ValueError):
            pass
        _CACHES[level] = (size, max(1, sharing))
    return _CACHES[level]


def l2_bytes():
    """One core's L2 in bytes (0 when unknown)."""
    return cache_info(2)[0]


# ISAs whose plans do not prefetch the next record's weights unless FASTNORM_PREFETCH_KB asks. AVX2:
# every extended zoo model ran 1.0-2.5% slower with it (Xeon, AVX2 via tools/cpuid_avx2.c, 1 thread,
# plans with 0 and 512 KiB interleaved with ONNX Runtime, OpenVINO and torch, medians of CPU times):
# the requests take fill buffers from the record's own loads when the weights come from memory rather
# than L3, and the AVX2 prefetching kernels cost their tiles more than they save. AVX-512 keeps it
# (MobileNetV3-Large and EfficientNet-B0 ~1% faster, the others within noise).
NO_PREFETCH_ISAS = ("avx2",)


def prefetch_bytes(isa=None):
    """How much of the next record's weights a record asks into L2 as it runs (fn_plan_link_prefetch):
    a quarter of L2 (256 KiB where its size is unknown), so that the record's own working set stays;
    0 on an ISA in NO_PREFETCH_ISAS (isa: a _C.ISA_NAMES index or name; None: no exception).
    FASTNORM_PREFETCH_KB overrides it (0: no prefetch); read when a plan is built."""
    env = os.environ.get("FASTNORM_PREFETCH_KB")
    if env is not None:
        try:
            kb = int(env)
        except ValueError:
            raise ValueError("FASTNORM_PREFETCH_KB must be a whole number of KiB, got %r" % env) from None
        if kb < 0:
            raise ValueError("FASTNORM_PREFETCH_KB must be >= 0, got %d" % kb)
        return kb << 10
    if isa is not None and (_C.ISA_NAMES[isa] if isinstance(isa, int) else isa) in NO_PREFETCH_ISAS:
        return 0
    l2 = l2_bytes()
    return l2 // 4 if l2 else 256 << 10


class WeightCache:
    """Packed weights per (node, ISA, variant), shared by the plans of every input shape."""

    def __init__(self):
        self._packed = {}
        self._lock = _thread.allocate_lock()

    def get(self, key, make):
        with self._lock:
            v = self._packed.get(key)
        if v is None:
            v = make()
            with self._lock:
                v = self._packed.setdefault(key, v)
        return v

    def items(self):
        """(key, value) pairs cached so far (Model.save(prepacked=True) stores the packed ones)."""
        with self._lock:
            return list(self._packed.items())

    def seed(self, values):
        """Values made elsewhere (a file's prepacked weights, fastnorm.prepack), used before make()."""
        with self._lock:
            for key, v in values.items():
                self._packed.setdefault(key, v)


def _check_empty(graph, shapes):
    """A value with no elements (a slice that crops a dim away) runs only as a concat's input, where it
    adds nothing, or as a graph output a slice writes (an empty array); anywhere else the kernels would
    see a 0-sized dim: refused, naming it."""
    readers = None
    outputs = {t.name for t in graph.outputs}
    for n in graph.nodes:
        for v in n.outputs:
            if v and 0 in shapes[v]:
                if readers is None:
                    readers = graph.consumers()
                if (v in outputs and n.op != "slice") or any(r.op != "cat" for r in readers.get(v, [])):
                    raise UnsupportedError("node %r (%s): its output %r has shape %s; tensors with no "
                                           "elements are not supported" % (n.name, n.op, v, tuple(shapes[v])))


class Plan:
    """One input shape on one ISA: records, buffer table and arena layout."""

    def __init__(self, graph, input_shapes, isa, cache):
        self.isa = isa
        self.input_shapes = input_shapes
        self.shapes = infer_shapes(graph, input_shapes)
        self.output_shapes = {t.name: self.shapes[t.name] for t in graph.outputs}
        _check_empty(graph, self.shapes)
        with limits.gc_paused():
            try:
                self._lower(graph, cache)
            finally:
                release_scratch(graph)   # the buffer the BN folds lent the packers (fastnorm.passes.folded)
            rewrites.run(self, graph)
            self._plan_memory()
        self.cplan = _C.CPlan(isa, self.records, len(self.buf_sizes), prefetch_bytes(isa))
        consts = [e[1] if e is not None and e[0] == "const" else None for e in self.buf_external]
        offsets = np.array([-1 if e is not None else o for e, o in zip(self.buf_external, self.offsets)],
                           dtype=np.int64)
        self.cplan.bind(consts, offsets, self.arena_floats, self.buf_sizes)
        self._arenas = []  # free arenas; predict takes one and gives it back, so threads never share
        self._scratch_need = {}  # nthreads -> bytes
        self.single_io = None
        if len(self.input_bufs) == 1 and len(self.output_bufs) == 1:
            (xb,), ((oname, yb),) = self.input_bufs.values(), self.output_bufs.items()
            self.single_io = (xb, yb, self.output_shapes[oname])

    # ------------------------------------------------------------------------------ lowering
    def new_buf(self, size):
        self.buf_sizes.append(int(size))
        self.buf_external.append(None)
        return len(self.buf_sizes) - 1

    def _lower(self, graph, cache):
        self.records = []
        self.buf_sizes, self.buf_external = [], []
        self.node_of_record = []
        self.flat_src = {}  # flattened NHWC value -> its (n, c, h, w) image shape
        self.win = {}       # "nhwc_win" value -> (first channel, channels of its buffer, the slice node)
        loc = {}          # value -> (buffer id, layout) ; layout "nhwc" / "nhwc_win" / "flat_hwc" / "plain"
        self.input_bufs, self.output_bufs = {}, {}
        for t in graph.inputs:
            shape = self.shapes[t.name]
            b = self.new_buf(math.prod(shape))
            self.buf_external[b] = ("input", t.name)
            self.input_bufs[t.name] = b
            if len(shape) == 4:
                nb = self.new_buf(math.prod(shape))
                n, c, h, w = shape
                self.emit(None, type=_C.OP_NCHW_TO_NHWC, **{"in": b, "out": nb}, n=n, c=c, h=h, w=w)
                loc[t.name] = (nb, "nhwc")
            else:
                loc[t.name] = (b, "plain")
        self._graph, self._readers = graph, None   # for sole_reader
        self.absorbed = set()  # nodes a lowering already ran as part of its own record
        self.absorbed_into = {}  # node name -> the nodes its record also runs (for profiles)
        for node in graph.nodes:
            if node.name in self.absorbed:
                continue
            lower = LOWER.get(node.op)
            if lower is None:
                raise UnsupportedError("node %r: op %r has no kernel" % (node.name, node.op))
            if not getattr(lower, "reads_windows", False):
                for v in node.inputs:
                    if v in loc and loc[v][1] == "nhwc_win":
                        self.nhwc(node, v, loc)
            lower(self, node, graph, loc, cache)
        for t in graph.outputs:
            if loc[t.name][1] == "nhwc_win":
                self.nhwc(None, t.name, loc)
            b, layout = loc[t.name]
            shape = self.shapes[t.name]
            out = self.new_buf(math.prod(shape))
            self.buf_external[out] = ("output", t.name)
            self.output_bufs[t.name] = out
            if layout == "nhwc":
                n, c, h, w = shape
                self.emit(None, type=_C.OP_NHWC_TO_NCHW, **{"in": b, "out": out}, n=n, c=c, h=h, w=w)
            elif layout == "flat_hwc":
                n, c, h, w = self.flat_src[t.name]
                self.emit(None, type=_C.OP_NHWC_TO_NCHW, **{"in": b, "out": out}, n=n, c=c, h=h, w=w)
            else:
                self.emit(None, type=_C.OP_COPY, **{"in": b, "out": out}, n=int(math.prod(shape)))
        self._graph = self._readers = None

    def sole_reader(self, value):
        """The one node that reads value (once), if exactly one does and value is not a graph output;
        for lowerings that take the next node into their record. The readers are indexed once per plan
        (asking the graph each time made planning quadratic in the node count)."""
        if self._readers is None:
            self._readers = self._graph.consumers()
            self._graph_outputs = {t.name for t in self._graph.outputs}
        readers = self._readers.get(value, ())
        if len(readers) != 1 or value in self._graph_outputs:
            return None
        return readers[0]

    def const_buf(self, array):
        """A buffer bound to a weight array (an operand of add/mul), passed like an input."""
        a = np.ascontiguousarray(array, np.float32)
        if not a.flags.writeable:
            a = a.copy()  # the plan binds external buffers writable; a loaded (read-only) weight is copied
        b = self.new_buf(a.size)
        self.buf_external[b] = ("const", a)
        return b

    def nhwc(self, node, value, loc):
        """Buffer of a 4D image value in NHWC, converting a plain NCHW one (once) if needed."""
        b, layout = loc[value]
        if layout == "nhwc":
            return b
        if layout == "nhwc_win":
            return lower_shape.materialize_window(self, node, value, loc)
        shape = self.shapes[value]
        if layout != "plain" or len(shape) != 4:
            raise UnsupportedError("node %r: expects a 4D image, got %s of shape %s"
                                   % (node.name, layout, list(shape)))
        n, c, h, w = shape
        nb = self.new_buf(n * c * h * w)
        self.emit(None, type=_C.OP_NCHW_TO_NHWC, **{"in": b, "out": nb}, n=n, c=c, h=h, w=w)
        loc[value] = (nb, "nhwc")
        return nb

    def plain(self, node, value, loc):
        """Buffer of a value in its logical (NCHW, row-major) layout, converting if needed."""
        b, layout = loc[value]
        if layout == "plain":
            return b
        if layout == "nhwc_win":
            b = self.nhwc(node, value, loc)
        n, c, h, w = self.flat_src[value] if layout == "flat_hwc" else self.shapes[value]
        nb = self.new_buf(n * c * h * w)
        self.emit(None, type=_C.OP_NHWC_TO_NCHW, **{"in": b, "out": nb}, n=n, c=c, h=h, w=w)
        loc[value] = (nb, "plain")
        return nb

    def emit(self, node, **rec):
        self.records.append(rec)
        self.node_of_record.append(node.name if node is not None else None)

    # ------------------------------------------------------------------------------ memory
    def _plan_memory(self):
        """Liveness over the record sequence, then offsets in one arena (fastnorm.plan.memory)."""
        nb = len(self.buf_sizes)
        first, last = [None] * nb, [None] * nb
        for i, r in enumerate(self.records):
            for b in rewrites.buffers_of(r):
                if first[b] is None:
                    first[b] = i
                last[b] = i
        arena = [b for b in range(nb) if self.buf_external[b] is None and first[b] is not None]
        sizes = {b: -(-self.buf_sizes[b] // ALIGN) * ALIGN for b in arena}
        offsets = [0] * nb
        self.arena_floats = memory.assign_offsets(arena, sizes, first, last, len(self.records), offsets)
        self.offsets = np.array(offsets, dtype=np.int64)
        self._live = (first, last)

    def arena_layout(self):
        """The memory plan, read-only, for tests and tools: one (buffer, offset, floats, first, last) per
        buffer placed in the arena. offset and floats count floats (floats rounded up to ALIGN, the room
        the buffer takes); first and last are the records that first and last use the buffer."""
        first, last = self._live
        return [(b, int(self.offsets[b]), -(-self.buf_sizes[b] // ALIGN) * ALIGN, first[b], last[b])
                for b in range(len(self.buf_sizes)) if self.buf_external[b] is None and first[b] is not None]

    # ------------------------------------------------------------------------------ running
    def _take_arena(self, nthreads):
        try:
            arena, scratch = self._arenas.pop()
        except IndexError:
            arena, scratch = _empty_on_line(self.arena_floats), np.empty(0, np.uint8)
        need = self._scratch_need.get(nthreads)
        if need is None:
            need = self._scratch_need[nthreads] = self.cplan.scratch_bytes(nthreads)
        if scratch.shape[0] < need:
            scratch = np.empty(need, np.uint8)
        return arena, scratch

    def ready_arena(self, nthreads):
        """Make one arena (and scratch for nthreads) now and take its page faults, so that the first run
        does not: the model's load is then where the memory is found. On this KVM host a fresh
        process's first touch of Inception-v3's 8.3 MB arena took ~1 ms in most processes and ~22 ms in
        some (the hypervisor finding memory), and a first predict 84-88 ms instead of 57 (1.5x warm).
        Arenas over READY_ARENA_MAX_BYTES stay lazy (a large image a model may never be run at)."""
        if self._arenas or self.arena_floats * 4 > READY_ARENA_MAX_BYTES:
            return
        arena, scratch = self._take_arena(nthreads)
        arena[::1024] = 0.0      # a float in every 4 KiB page (the arena is scratch: runs overwrite it)
        scratch[::4096] = 0
        self._arenas.append((arena, scratch))

    def run1(self, x, nthreads):
        """The single-input, single-output fast path: x is a C-contiguous float32 array of the plan's
        input shape; returns the output array."""
        xb, yb, oshape = self.single_io
        out = np.empty(oshape, np.float32)
        arena, scratch = self._take_arena(nthreads)
        try:
            self.cplan.run_io(x, xb, out, yb, arena, scratch, nthreads, denormals.flush)
        finally:
            self._arenas.append((arena, scratch))
        return out

    def run(self, feeds, nthreads, timings=None):
        """Run the plan; with a `timings` list, run record by record and append (record, seconds)."""
        external = [None] * len(self.buf_sizes)
        outputs = {}
        for name, b in self.input_bufs.items():
            external[b] = feeds[name]
        for name, b in self.output_bufs.items():
            outputs[name] = external[b] = np.empty(self.output_shapes[name], np.float32)
        arena, scratch = self._take_arena(nthreads)
        try:
            if timings is None:
                self.cplan.run(external, arena, scratch, nthreads, flush=denormals.flush)
            else:
                for i in range(len(self.records)):
                    t0 = time.perf_counter()
                    self.cplan.run(external, arena, scratch, nthreads, i, i + 1, denormals.flush)
                    timings.append((i, time.perf_counter() - t0))
        finally:
            self._arenas.append((arena, scratch))
        return outputs


HUGE_ARENA_BYTES = 1 << 20     # arenas from this size are backed by transparent huge pages where the OS has them
READY_ARENA_MAX_BYTES = 64 << 20   # Plan.ready_arena: the largest arena a model's load makes ahead of its first run
_HUGE = 1 << 21


def _empty_on_line(n):
    """n float32 starting on a 64-byte line. numpy's large arrays start 16 bytes past one, so every
    buffer of the arena (offsets are multiples of 16 floats) would too, and each of a kernel's zmm
    loads and stores would split two lines (the depthwise conv lost 10-20% to that).

    From HUGE_ARENA_BYTES on (Linux), the arena is a 2 MiB-aligned anonymous mapping advised
    MADV_HUGEPAGE: its first predict takes one page fault per 2 MiB instead of one per 4 KiB (a 4 MiB
    arena: ~25 faults instead of ~1,000, a few ms of a first predict; issue 14's cold start). numpy
    advises huge pages itself only from 4 MiB, and not with this alignment."""
    if n * 4 >= HUGE_ARENA_BYTES:
        arena = _huge(n)
        if arena is not None:
            return arena
    buf = np.empty(n + 16, np.float32)
    skip = (-buf.ctypes.data % 64) // 4
    return buf[skip:skip + n]


def _huge(n):
    """n float32 at the start of a 2 MiB-aligned region advised MADV_HUGEPAGE, or None where the OS has
    no such advice (the caller allocates as usual). Freed with the last view of it, like any array."""
    import mmap
    if not hasattr(mmap, "MADV_HUGEPAGE") or not hasattr(mmap, "MAP_ANONYMOUS"):
        return None
    nbytes = n * 4
    size = -(-nbytes // _HUGE) * _HUGE
    try:
        mm = mmap.mmap(-1, size + _HUGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        buf = np.frombuffer(mm, np.uint8)
        off = (-buf.ctypes.data) % _HUGE
        mm.madvise(mmap.MADV_HUGEPAGE, off, size)
    except (OSError, ValueError):
        return None
    return buf[off:off + nbytes].view(np.float32)
