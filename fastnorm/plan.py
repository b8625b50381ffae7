"""Lower an optimised Graph to a C plan: op records over numbered buffers, one arena, one nogil call.

Inside the plan, 4D activations are NHWC (channels-last: a conv is then an indirect GEMM over pixels
and a BN a vector scale/shift per pixel); inputs and outputs stay NCHW, converted at the edges. A
flatten of an NHWC tensor that feeds linear layers costs nothing: the linear weights' columns are
permuted once to (h, w, c) order instead.
"""
import threading
import time

import numpy as np

from fastnorm import _C
from fastnorm import _plan_dwconv
from fastnorm._plan_dwconv import OP_DWCONV2D, lower_dwconv as _lower_dwconv  # noqa: F401 (op 22)
from fastnorm._plan_conv_first import lower_conv_first as _lower_conv_first  # op 24
from fastnorm.errors import UnsupportedError
from fastnorm.graph import act_tuple, infer_shapes

OP_CONV2D, OP_SCALE_SHIFT, OP_ACT, OP_MAXPOOL2D, OP_TO_NHWC, OP_TO_NCHW, OP_COPY = 1, 2, 3, 4, 5, 6, 7
(OP_ACTK, OP_PRELU, OP_SOFTMAX, OP_GROUP_NORM, OP_LAYER_NORM, OP_BINARY, OP_CAT, OP_AVGPOOL2D,
 OP_ADAPTIVE_POOL2D, OP_PAD2D, OP_INTERP2D, OP_CHANNEL_SHUFFLE, OP_PIXEL_SHUFFLE) = range(8, 21)
OP_GROUP_NORM_MAXPOOL = 25
OP_WINOGRAD3X3 = 23
OP_CONV_TRANSPOSE2D = 21
# records whose kernels read each residual element before writing that output element
_RESIDUAL_IN_PLACE = (OP_CONV2D, OP_WINOGRAD3X3, OP_DWCONV2D, _plan_dwconv.OP_DWCONV_PW)
ALIGN = 16  # floats: 64-byte aligned buffers in the arena


class WeightCache:
    """Packed weights per (node, ISA, variant), shared by the plans of every input shape."""

    def __init__(self):
        self._packed = {}
        self._lock = threading.Lock()

    def get(self, key, make):
        with self._lock:
            v = self._packed.get(key)
        if v is None:
            v = make()
            with self._lock:
                v = self._packed.setdefault(key, v)
        return v


class Plan:
    """One input shape on one ISA: records, buffer table and arena layout."""

    def __init__(self, graph, input_shapes, isa, cache):
        self.isa = isa
        self.input_shapes = input_shapes
        self.shapes = infer_shapes(graph, input_shapes)
        self.output_shapes = {t.name: self.shapes[t.name] for t in graph.outputs}
        self._lower(graph, cache)
        self._residual_in_place()
        self._plan_memory()
        self.cplan = _C.CPlan(isa, self.records, len(self.buf_sizes))
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
    def _new_buf(self, size):
        self.buf_sizes.append(int(size))
        self.buf_external.append(None)
        return len(self.buf_sizes) - 1

    def _lower(self, graph, cache):
        self.records = []
        self.buf_sizes, self.buf_external = [], []
        self.node_of_record = []
        self._flat_src = {}  # flattened NHWC value -> its (n, c, h, w) image shape
        loc = {}          # value -> (buffer id, layout) ; layout "nchw" / "nhwc" / "flat_hwc" / "plain"
        self.input_bufs, self.output_bufs = {}, {}
        for t in graph.inputs:
            shape = self.shapes[t.name]
            b = self._new_buf(np.prod(shape))
            self.buf_external[b] = ("input", t.name)
            self.input_bufs[t.name] = b
            if len(shape) == 4:
                nb = self._new_buf(np.prod(shape))
                n, c, h, w = shape
                self._emit(None, type=OP_TO_NHWC, **{"in": b, "out": nb}, n=n, c=c, h=h, w=w)
                loc[t.name] = (nb, "nhwc")
            else:
                loc[t.name] = (b, "plain")
        graph_outputs = {t.name for t in graph.outputs}
        self._absorbed = set()  # nodes a lowering already ran as part of its own record
        self.absorbed_into = {}  # node name -> the nodes its record also runs (for profiles)
        for node in graph.nodes:
            if node.name in self._absorbed:
                continue
            lower = LOWER.get(node.op)
            if lower is None:
                raise UnsupportedError("node %r: op %r has no kernel" % (node.name, node.op))
            lower(self, node, graph, loc, cache)
        for t in graph.outputs:
            b, layout = loc[t.name]
            shape = self.shapes[t.name]
            out = self._new_buf(np.prod(shape))
            self.buf_external[out] = ("output", t.name)
            self.output_bufs[t.name] = out
            if layout == "nhwc":
                n, c, h, w = shape
                self._emit(None, type=OP_TO_NCHW, **{"in": b, "out": out}, n=n, c=c, h=h, w=w)
            elif layout == "flat_hwc":
                n, c, h, w = self._flat_src[t.name]
                self._emit(None, type=OP_TO_NCHW, **{"in": b, "out": out}, n=n, c=c, h=h, w=w)
            else:
                self._emit(None, type=OP_COPY, **{"in": b, "out": out}, n=int(np.prod(shape)))
        self._retarget_output_copies(graph_outputs)

    def _const_buf(self, array):
        """A buffer bound to a weight array (an operand of add/mul), passed like an input."""
        a = np.ascontiguousarray(array, np.float32)
        if not a.flags.writeable:
            a = a.copy()  # the plan binds external buffers writable; a loaded (read-only) weight is copied
        b = self._new_buf(a.size)
        self.buf_external[b] = ("const", a)
        return b

    def _nhwc(self, node, value, loc):
        """Buffer of a 4D image value in NHWC, converting a plain NCHW one (once) if needed."""
        b, layout = loc[value]
        if layout == "nhwc":
            return b
        shape = self.shapes[value]
        if layout != "plain" or len(shape) != 4:
            raise UnsupportedError("node %r: expects a 4D image, got %s of shape %s"
                                   % (node.name, layout, list(shape)))
        n, c, h, w = shape
        nb = self._new_buf(n * c * h * w)
        self._emit(None, type=OP_TO_NHWC, **{"in": b, "out": nb}, n=n, c=c, h=h, w=w)
        loc[value] = (nb, "nhwc")
        return nb

    def _plain(self, node, value, loc):
        """Buffer of a value in its logical (NCHW, row-major) layout, converting if needed."""
        b, layout = loc[value]
        if layout == "plain":
            return b
        n, c, h, w = self._flat_src[value] if layout == "flat_hwc" else self.shapes[value]
        nb = self._new_buf(n * c * h * w)
        self._emit(None, type=OP_TO_NCHW, **{"in": b, "out": nb}, n=n, c=c, h=h, w=w)
        loc[value] = (nb, "plain")
        return nb

    def _emit(self, node, **rec):
        self.records.append(rec)
        self.node_of_record.append(node.name if node is not None else None)

    def _retarget_output_copies(self, graph_outputs):
        """A trailing COPY from a buffer only that copy reads: let the producer write the output."""
        keep = []
        for i, r in enumerate(self.records):
            if r["type"] == OP_COPY and self.buf_external[r["out"]] is not None:
                src = r["in"]
                readers = [j for j, q in enumerate(self.records)
                           if src in _buffers_of(q) and q.get("out") != src]
                writers = [j for j, q in enumerate(self.records) if q.get("out") == src]
                if (readers == [i] and len(writers) == 1 and self.buf_external[src] is None
                        and self.records[writers[0]]["type"] != OP_COPY):
                    self.records[writers[0]]["out"] = r["out"]
                    continue
            keep.append(i)
        self.records = [self.records[i] for i in keep]
        self.node_of_record = [self.node_of_record[i] for i in keep]

    # ------------------------------------------------------------------------------ memory
    def _residual_in_place(self):
        """A conv record whose fused residual is that buffer's last read writes its output over it.

        The kernels read each residual element before writing the same output element, so this is
        exact; it saves the fresh output buffer's write-allocate traffic (a ResNet bottleneck's
        64->256 1x1 at 56x56 reads 3.2 MB of residual and writes 3.2 MB of output)."""
        import os
        if os.environ.get("FASTNORM_RESIDUAL_IN_PLACE", "1") == "0":  # off for A/B runs (bench/bench_ab.py)
            return
        last = {}
        for i, r in enumerate(self.records):
            for b in _buffers_of(r):
                last[b] = i
        for i, r in enumerate(self.records):
            res, out = r.get("in2", -1), r.get("out", -1)
            if (r["type"] not in _RESIDUAL_IN_PLACE or res is None or res < 0 or res == r["in"]
                    or self.buf_external[res] is not None or self.buf_external[out] is not None
                    or last.get(res) != i or self.buf_sizes[res] != self.buf_sizes[out]):
                continue
            for q in self.records[i:]:
                for key in ("in", "in2", "out"):
                    if q.get(key) == out:
                        q[key] = res
                if "cat" in q and out in q["cat"][0]:
                    q["cat"] = ([res if b == out else b for b in q["cat"][0]],) + tuple(q["cat"][1:])
            last[res] = last.get(out, i)

    def _plan_memory(self):
        """Liveness over the record sequence, then first-fit offsets in one arena."""
        nb = len(self.buf_sizes)
        first, last = [None] * nb, [None] * nb
        for i, r in enumerate(self.records):
            for b in _buffers_of(r):
                first[b] = i if first[b] is None else first[b]
                last[b] = i
        order = sorted((b for b in range(nb) if self.buf_external[b] is None and first[b] is not None),
                       key=lambda b: -self.buf_sizes[b])
        placed = []  # (offset, size, first, last)
        self.offsets = np.full(nb, 0, dtype=np.int64)
        top = 0
        for b in order:
            size = -(-self.buf_sizes[b] // ALIGN) * ALIGN
            off = 0
            for o, s, f, l in sorted(placed):
                if l < first[b] or f > last[b]:
                    continue  # lifetimes do not overlap
                if off + size <= o:
                    break
                off = max(off, o + s)
            placed.append((off, size, first[b], last[b]))
            self.offsets[b] = off
            top = max(top, off + size)
        self.arena_floats = top

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

    def run1(self, x, nthreads):
        """The single-input, single-output fast path: x is a C-contiguous float32 array of the plan's
        input shape; returns the output array."""
        xb, yb, oshape = self.single_io
        out = np.empty(oshape, np.float32)
        arena, scratch = self._take_arena(nthreads)
        try:
            self.cplan.run_io(x, xb, out, yb, arena, scratch, nthreads)
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
                self.cplan.run(external, arena, scratch, nthreads)
            else:
                for i in range(len(self.records)):
                    t0 = time.perf_counter()
                    self.cplan.run(external, arena, scratch, nthreads, i, i + 1)
                    timings.append((i, time.perf_counter() - t0))
        finally:
            self._arenas.append((arena, scratch))
        return outputs


def _empty_on_line(n):
    """n float32 starting on a 64-byte line. numpy's large arrays start 16 bytes past one, so every
    buffer of the arena (offsets are multiples of 16 floats) would too, and each of a kernel's zmm
    loads and stores would split two lines (the depthwise conv lost 10-20% to that)."""
    buf = np.empty(n + 16, np.float32)
    skip = (-buf.ctypes.data % 64) // 4
    return buf[skip:skip + n]


def _buffers_of(rec):
    """Every buffer a record reads or writes."""
    bufs = [rec.get(k, -1) for k in ("in", "in2", "out")]
    if "cat" in rec:
        bufs += list(rec["cat"][0])
    return [b for b in bufs if b is not None and b >= 0]


# ---------------------------------------------------------------------------------- lowerings
def _lower_conv2d(plan, node, graph, loc, cache):
    if _lower_dwconv(plan, node, graph, loc, cache):  # depthwise, multiplier 1: its own kernel
        return
    if _lower_conv_first(plan, node, graph, loc, cache):  # 1..4 input channels: its own kernel
        return
    if _winograd_pays(plan, node, graph):
        return _lower_winograd(plan, node, graph, loc, cache)
    b, (n, c, h, w), (cout, oh, ow), wt, bias, desc = _conv_operands(plan, node, graph, loc)
    a = node.attrs
    packed = cache.get((node.name, plan.isa, "conv"), lambda: _C.conv2d_pack(
        plan.isa, desc, np.ascontiguousarray(wt, np.float32),
        None if bias is None else np.ascontiguousarray(bias, np.float32)))
    out = plan._new_buf(n * oh * ow * cout)
    res = -1
    if a.get("residual"):
        res = plan._nhwc(node, node.inputs[3], loc)
    plan._emit(node, type=OP_CONV2D, **{"in": b, "in2": res, "out": out}, n=n, h=h, w=w, c=c, oh=oh,
               ow=ow, conv=desc, act=act_tuple(a.get("act")), weights=packed)
    loc[node.outputs[0]] = (out, "nhwc")


# Winograd F(4x4, 3x3) for 3x3 stride-1 convs (src_c/conv/fn_winograd.h) where it measured faster
# than the direct indirect GEMM (1 thread, AVX-512, caches cold: 64ch 56x56 1.8x, 128ch 28x28 1.7x,
# 256ch 14x14 1.35x, 16ch 56x56 1.25x, 64->16 1.8x; but 3->64 0.7x, 512ch 7x7 at batch 1 (4 tiles)
# 0.77x, 64ch 4x4 (1 tile) 0.7x, 256ch 7x7 0.66x). FASTNORM_WINOGRAD=0 turns it off; it is read when
# a plan is built, so a model built after setting it uses the direct path.
WINOGRAD_MIN_CHANNELS = 16   # cin and cout: below, the GEMMs are too thin to pay for the transforms
WINOGRAD_MIN_TILES = 8       # 4x4 output tiles, batch included: fewer, and streaming the 4x larger
                             # transformed weights costs more than the multiplies saved
WINOGRAD_MIN_COVERAGE = 0.5  # outputs / (16 x tiles): partial edge tiles compute discarded outputs


def _winograd_pays(plan, node, graph):
    import os
    if os.environ.get("FASTNORM_WINOGRAD", "1") == "0":
        return False
    a = node.attrs
    wt = graph.weights.get(node.inputs[1])
    if wt is None or wt.ndim != 4 or tuple(wt.shape[2:]) != (3, 3):
        return False
    if (a.get("groups", 1) != 1 or list(a.get("stride", [1, 1])) != [1, 1]
            or list(a.get("dilation", [1, 1])) != [1, 1]):
        return False
    n, cin, _, _ = plan.shapes[node.inputs[0]]
    _, cout, oh, ow = plan.shapes[node.outputs[0]]
    if cin < WINOGRAD_MIN_CHANNELS or cout < WINOGRAD_MIN_CHANNELS:
        return False
    tiles = n * -(-oh // 4) * -(-ow // 4)
    return tiles >= WINOGRAD_MIN_TILES and oh * ow * n >= WINOGRAD_MIN_COVERAGE * 16 * tiles


def _lower_winograd(plan, node, graph, loc, cache):
    """conv2d (3x3, stride 1) as an OP_WINOGRAD3X3 record; same fields as OP_CONV2D."""
    b = plan._nhwc(node, node.inputs[0], loc)
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, cout, oh, ow = plan.shapes[node.outputs[0]]
    wt = graph.weights[node.inputs[1]]
    a = node.attrs
    desc = (c, cout, 1, 3, 3, 1, 1, 1, 1, *a.get("padding", [0, 0, 0, 0]))
    bias = graph.weights[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None
    packed = cache.get((node.name, plan.isa, "winograd3x3"), lambda: _C.winograd3x3_pack(
        plan.isa, desc, np.ascontiguousarray(wt, np.float32),
        None if bias is None else np.ascontiguousarray(bias, np.float32)))
    out = plan._new_buf(n * oh * ow * cout)
    res = plan._nhwc(node, node.inputs[3], loc) if a.get("residual") else -1
    plan._emit(node, type=OP_WINOGRAD3X3, **{"in": b, "in2": res, "out": out}, n=n, h=h, w=w, c=c,
               oh=oh, ow=ow, conv=desc, act=act_tuple(a.get("act")), weights=packed)
    loc[node.outputs[0]] = (out, "nhwc")


def _lower_linear(plan, node, graph, loc, cache):
    b, layout = loc[node.inputs[0]]
    xs = plan.shapes[node.inputs[0]]
    wt = graph.weights[node.inputs[1]]
    out_f, in_f = wt.shape
    rows = int(np.prod(xs[:-1]))
    variant = "linear"
    if layout == "flat_hwc":
        # input is an NHWC image flattened in (h, w, c) order: permute the weight's columns to match
        _, c, h, w = plan._flat_src[node.inputs[0]]
        variant = ("linear_hwc", c, h, w)
    elif layout not in ("plain",):
        raise UnsupportedError("node %r: linear input must be 2D, got a %s tensor" % (node.name, layout))
    bias = graph.weights[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None
    desc = (in_f, out_f, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)

    def make():
        w2 = np.asarray(wt, np.float32)
        if variant != "linear":
            w2 = w2.reshape(out_f, c, h, w).transpose(0, 2, 3, 1).reshape(out_f, in_f)
        return _C.conv2d_pack(plan.isa, desc, np.ascontiguousarray(w2).reshape(out_f, in_f, 1, 1),
                              None if bias is None else np.ascontiguousarray(bias, np.float32))

    packed = cache.get((node.name, plan.isa, variant), make)
    out = plan._new_buf(rows * out_f)
    plan._emit(node, type=OP_CONV2D, **{"in": b, "out": out}, n=rows, h=1, w=1, c=in_f, oh=1, ow=1,
               conv=desc, act=act_tuple(node.attrs.get("act")), weights=packed)
    loc[node.outputs[0]] = (out, "plain")


def _lower_batch_norm(plan, node, graph, loc, cache):
    if node.attrs.get("batch_stats"):
        return _lower_group_norm(plan, node, graph, loc, cache)
    b, layout = loc[node.inputs[0]]
    shape = plan.shapes[node.inputs[0]]
    c = shape[1]
    if layout == "nhwc":
        outer, inner = shape[0] * shape[2] * shape[3], 1
    elif layout == "plain":
        outer, inner = shape[0], int(np.prod(shape[2:])) if len(shape) > 2 else 1
    else:
        raise UnsupportedError("node %r: batch_norm on a flattened image" % node.name)
    w = graph.weights

    def make():
        opt = lambda i: (np.ascontiguousarray(w[node.inputs[i]], np.float32)
                         if len(node.inputs) > i and node.inputs[i] else None)
        return _C.bnorm_prepare(opt(1), opt(2), opt(3), opt(4), float(node.attrs.get("eps", 1e-5)))

    scale, shift = cache.get((node.name, "bn"), make)
    out = plan._new_buf(int(np.prod(shape)))
    plan._emit(node, type=OP_SCALE_SHIFT, **{"in": b, "out": out}, outer=outer, c=c, inner=inner,
               act=act_tuple(node.attrs.get("act")), weights=scale, weights2=shift)
    loc[node.outputs[0]] = (out, layout)


def _lower_act(plan, node, graph, loc, cache):
    b, layout = loc[node.inputs[0]]
    size = int(np.prod(plan.shapes[node.inputs[0]]))
    act = ["relu"] if node.op == "relu" else ["clamp", node.attrs.get("min"), node.attrs.get("max")]
    out = plan._new_buf(size)
    plan._emit(node, type=OP_ACT, **{"in": b, "out": out}, n=size, act=act_tuple(act))
    loc[node.outputs[0]] = (out, layout)
    if layout == "flat_hwc":
        plan._flat_src[node.outputs[0]] = plan._flat_src[node.inputs[0]]


def _maxpool_desc(node):
    """fn_pool2d_desc of a max_pool2d node: kernel, stride, dilation, padding (top, left)."""
    a = node.attrs
    k = a["kernel"]
    return (k[0], k[1], *a.get("stride", k), *a.get("dilation", [1, 1]), *a.get("padding", [0, 0]))


def _lower_max_pool2d(plan, node, graph, loc, cache):
    b = plan._nhwc(node, node.inputs[0], loc)
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, _, oh, ow = plan.shapes[node.outputs[0]]
    desc = _maxpool_desc(node)
    out = plan._new_buf(n * oh * ow * c)
    plan._emit(node, type=OP_MAXPOOL2D, **{"in": b, "out": out}, n=n, h=h, w=w, c=c, oh=oh, ow=ow,
               pool=desc)
    loc[node.outputs[0]] = (out, "nhwc")


def _lower_flatten(plan, node, graph, loc, cache):
    b, layout = loc[node.inputs[0]]
    shape = plan.shapes[node.inputs[0]]
    out_shape = plan.shapes[node.outputs[0]]
    if layout == "nhwc":
        if len(out_shape) != 2:
            raise UnsupportedError("node %r: flatten of an image must keep the batch dim" % node.name)
        plan._flat_src[node.outputs[0]] = shape
        loc[node.outputs[0]] = (b, "flat_hwc")   # same memory, (h, w, c) order
    elif layout == "flat_hwc":
        plan._flat_src[node.outputs[0]] = plan._flat_src[node.inputs[0]]
        loc[node.outputs[0]] = (b, "flat_hwc")
    else:
        loc[node.outputs[0]] = (b, "plain")      # row-major reshape: same memory


def _lower_reshape(plan, node, graph, loc, cache):
    """A row-major reshape: the same memory once the value is in its logical layout."""
    loc[node.outputs[0]] = (plan._plain(node, node.inputs[0], loc), "plain")


def _lower_transpose(plan, node, graph, loc, cache):
    """NCHW <-> NHWC permutes cost nothing: an image held NHWC *is* the permuted tensor, row-major."""
    if node.attrs["perm"] == [0, 2, 3, 1]:
        loc[node.outputs[0]] = (plan._nhwc(node, node.inputs[0], loc), "plain")
    else:
        loc[node.outputs[0]] = (plan._plain(node, node.inputs[0], loc), "nhwc")


def _opt_weight(graph, node, i):
    v = node.inputs[i] if len(node.inputs) > i else ""
    return np.ascontiguousarray(graph.weights[v], np.float32) if v else None


def _gamma_beta(graph, node, first, count):
    """gamma and beta as the norm drivers take them: both or neither (ones/zeros for a missing one)."""
    g, b = _opt_weight(graph, node, first), _opt_weight(graph, node, first + 1)
    if g is None and b is None:
        return None, None
    return (g if g is not None else np.ones(count, np.float32),
            b if b is not None else np.zeros(count, np.float32))


def _lower_group_norm(plan, node, graph, loc, cache):
    """group_norm, instance_norm (input statistics) and batch_norm with batch statistics: one NHWC
    driver; batch statistics are per-channel groups over every pixel of every sample (n = 1)."""
    shape = plan.shapes[node.inputs[0]]
    c = shape[1]
    act = act_tuple(node.attrs.get("act"))
    eps = float(node.attrs.get("eps", 1e-5))
    if node.op == "instance_norm" and not node.attrs.get("use_input_stats", True):
        # running statistics: a per-channel scale/shift like eval BatchNorm
        b = plan._nhwc(node, node.inputs[0], loc) if len(shape) == 4 else loc[node.inputs[0]][0]
        scale, shift = cache.get((node.name, "in_running"), lambda: _C.bnorm_prepare(
            _opt_weight(graph, node, 1), _opt_weight(graph, node, 2), _opt_weight(graph, node, 3),
            _opt_weight(graph, node, 4), eps))
        if len(shape) != 4:
            raise UnsupportedError("node %r: instance_norm expects a 4D image" % node.name)
        out = plan._new_buf(int(np.prod(shape)))
        plan._emit(node, type=OP_SCALE_SHIFT, **{"in": b, "out": out}, outer=shape[0] * shape[2] * shape[3],
                   c=c, inner=1, act=act, weights=scale, weights2=shift)
        loc[node.outputs[0]] = (out, "nhwc")
        return
    first = {"group_norm": 1, "instance_norm": 3, "batch_norm": 3}[node.op]
    gamma, beta = cache.get((node.name, "gamma_beta"), lambda: _gamma_beta(graph, node, first, c))
    if len(shape) == 4:
        b = plan._nhwc(node, node.inputs[0], loc)
        n, hw = shape[0], shape[2] * shape[3]
        layout = "nhwc"
    elif len(shape) == 2 and loc[node.inputs[0]][1] == "plain":
        b, n, hw, layout = loc[node.inputs[0]][0], shape[0], 1, "plain"
    else:
        raise UnsupportedError("node %r: %s on a %dD tensor" % (node.name, node.op, len(shape)))
    groups = {"group_norm": node.attrs.get("num_groups"), "instance_norm": c, "batch_norm": c}[node.op]
    pool = _pool_after(plan, node, graph) if node.op != "batch_norm" and layout == "nhwc" else None
    if pool is not None:
        # normalise (+ act) and max-pool in one pass: the normalised tensor is never written out
        n, _, h, w = shape
        _, _, oh, ow = plan.shapes[pool.outputs[0]]
        desc = _maxpool_desc(pool)
        out = plan._new_buf(n * oh * ow * c)
        plan._emit(node, type=OP_GROUP_NORM_MAXPOOL, **{"in": b, "out": out}, n=n, h=h, w=w, c=c,
                   oh=oh, ow=ow, groups=groups, eps=eps, act=act, weights=gamma, weights2=beta, pool=desc)
        plan._absorbed.add(pool.name)
        plan.absorbed_into.setdefault(node.name, []).append(pool.name)
        loc[pool.outputs[0]] = (out, "nhwc")
        return
    if node.op == "batch_norm":
        n, hw = 1, n * hw  # statistics over every sample
    out = plan._new_buf(int(np.prod(shape)))
    plan._emit(node, type=OP_GROUP_NORM, **{"in": b, "out": out}, n=n, h=1, w=hw, c=c, groups=groups,
               eps=eps, act=act, weights=gamma, weights2=beta)
    loc[node.outputs[0]] = (out, layout)


def _pool_after(plan, node, graph):
    """The max_pool2d that alone reads this norm's output (not a graph output), if any."""
    if node.outputs[0] in {t.name for t in graph.outputs}:
        return None
    readers = graph.consumers().get(node.outputs[0], [])
    if len(readers) != 1 or readers[0].op != "max_pool2d":
        return None
    return readers[0]


def _lower_layer_norm(plan, node, graph, loc, cache):
    shape = plan.shapes[node.inputs[0]]
    eps = float(node.attrs.get("eps", 1e-5 if node.op == "layer_norm" else 1e-6))
    act = act_tuple(node.attrs.get("act"))
    b, layout = loc[node.inputs[0]]
    if node.op == "layer_norm_channels":
        if len(shape) != 4:
            raise UnsupportedError("node %r: layer_norm_channels expects a 4D image" % node.name)
        b = plan._nhwc(node, node.inputs[0], loc)
        c = shape[1]
        gamma, beta = cache.get((node.name, "gamma_beta"), lambda: _gamma_beta(graph, node, 1, c))
        outer, inner, layout = shape[0] * shape[2] * shape[3], c, "nhwc"
    else:
        k = node.attrs.get("normalized_ndim", 1)
        inner = int(np.prod(shape[len(shape) - k:]))
        outer = int(np.prod(shape[:len(shape) - k]))
        if layout == "nhwc" and k == 3:
            # per-sample over (C, H, W): the NHWC slab holds the same values in (H, W, C) order
            _, c, h, w = shape

            def make():
                g, bb = _gamma_beta(graph, node, 1, inner)
                perm = lambda a: None if a is None else np.ascontiguousarray(
                    a.reshape(c, h, w).transpose(1, 2, 0).reshape(-1))
                return perm(g), perm(bb)
            gamma, beta = cache.get((node.name, "gamma_beta_hwc"), make)
        else:
            b = plan._plain(node, node.inputs[0], loc)
            layout = "plain"
            gamma, beta = cache.get((node.name, "gamma_beta"), lambda: _gamma_beta(graph, node, 1, inner))
    out = plan._new_buf(int(np.prod(shape)))
    plan._emit(node, type=OP_LAYER_NORM, **{"in": b, "out": out}, outer=outer, inner=inner, eps=eps,
               act=act, weights=gamma, weights2=beta)
    loc[node.outputs[0]] = (out, layout)


def _act_params(node):
    """(kind, fn_act_params tuple) for an elementwise activation node (src_c/act/fn_act.h)."""
    from fastnorm.ops import _act as A
    a = node.attrs
    op = node.op
    if op == "leaky_relu":
        return A.K_LEAKY_RELU, A.params(slope=a.get("negative_slope", 0.01))
    if op in ("elu", "celu"):
        alpha = float(a.get("alpha", 1.0))
        return A.K_ELU, A.params(alpha=alpha, input_scale=1.0 / alpha if op == "celu" else 1.0)
    if op == "selu":
        return A.K_ELU, A.params(alpha=A.SELU_ALPHA * A.SELU_SCALE, scale=A.SELU_SCALE)
    if op == "gelu":
        return (A.K_GELU_TANH if a.get("approximate", "none") == "tanh" else A.K_GELU), A.params()
    if op == "softplus":
        return A.K_SOFTPLUS, A.params(beta=a.get("beta", 1.0), threshold=a.get("threshold", 20.0))
    kinds = {"sigmoid": A.K_SIGMOID, "tanh": A.K_TANH, "silu": A.K_SILU, "hardsigmoid": A.K_HARDSIGMOID,
             "hardswish": A.K_HARDSWISH, "mish": A.K_MISH}
    return kinds[op], A.params()


def _lower_actk(plan, node, graph, loc, cache):
    b, layout = loc[node.inputs[0]]
    size = int(np.prod(plan.shapes[node.inputs[0]]))
    kind, p = _act_params(node)
    out = plan._new_buf(size)
    plan._emit(node, type=OP_ACTK, **{"in": b, "out": out}, n=size, kind=kind, actp=p)
    loc[node.outputs[0]] = (out, layout)
    if layout == "flat_hwc":
        plan._flat_src[node.outputs[0]] = plan._flat_src[node.inputs[0]]


def _axis_split(shape, layout, dim):
    """(outer, len, inner) of logical axis `dim` in the value's physical layout."""
    phys = shape
    if layout == "nhwc":
        phys = (shape[0], shape[2], shape[3], shape[1])
        dim = {0: 0, 1: 3, 2: 1, 3: 2}[dim]
    return int(np.prod(phys[:dim])), int(phys[dim]), int(np.prod(phys[dim + 1:]))


def _lower_prelu(plan, node, graph, loc, cache):
    shape = plan.shapes[node.inputs[0]]
    b, layout = loc[node.inputs[0]]
    if layout == "flat_hwc":
        b, layout = plan._plain(node, node.inputs[0], loc), "plain"
    w = np.ascontiguousarray(graph.weights[node.inputs[1]], np.float32).reshape(-1)
    c = shape[1] if len(shape) > 1 else 1
    if w.size == 1:
        w = cache.get((node.name, "prelu"), lambda: np.full(c, w[0], np.float32))
    outer, cc, inner = _axis_split(shape, layout, 1) if len(shape) > 1 else (shape[0], 1, 1)
    out = plan._new_buf(int(np.prod(shape)))
    plan._emit(node, type=OP_PRELU, **{"in": b, "out": out}, outer=outer, c=cc, inner=inner, weights=w)
    loc[node.outputs[0]] = (out, layout)


def _lower_softmax(plan, node, graph, loc, cache):
    shape = plan.shapes[node.inputs[0]]
    b, layout = loc[node.inputs[0]]
    if layout == "flat_hwc":
        b, layout = plan._plain(node, node.inputs[0], loc), "plain"
    dim = node.attrs["dim"] % max(len(shape), 1)
    outer, ln, inner = _axis_split(shape, layout, dim)
    out = plan._new_buf(int(np.prod(shape)))
    plan._emit(node, type=OP_SOFTMAX, **{"in": b, "out": out}, outer=outer, c=ln, inner=inner,
               kind=int(node.op == "log_softmax"))
    loc[node.outputs[0]] = (out, layout)


def _lower_binary(plan, node, graph, loc, cache):
    out_shape = plan.shapes[node.outputs[0]]
    rank = len(out_shape)
    image = rank == 4 and any(v in loc and loc[v][1] == "nhwc" for v in node.inputs)
    perm = (0, 2, 3, 1) if image else tuple(range(rank))
    operands = []
    for v in node.inputs:
        shape = plan.shapes[v]
        if v in graph.weights:
            b, layout = plan._const_buf(graph.weights[v]), "plain"
        elif image and len(shape) == 4:
            b, layout = plan._nhwc(node, v, loc), "nhwc"
        else:
            b, layout = plan._plain(node, v, loc), "plain"
        full = (1,) * (rank - len(shape)) + tuple(shape)
        # element strides of the logical dims in this operand's memory
        phys_order = (0, 2, 3, 1) if layout == "nhwc" else tuple(range(rank))
        strides = [0] * rank
        step = 1
        for d in reversed(phys_order):
            strides[d] = step
            step *= full[d]
        strides = [0 if full[d] == 1 and out_shape[d] != 1 else strides[d] for d in range(rank)]
        operands.append((b, [strides[d] for d in perm]))
    kind = _C.BIN_ADD if node.op == "add" else _C.BIN_MUL
    out = plan._new_buf(int(np.prod(out_shape)))
    plan._emit(node, type=OP_BINARY, **{"in": operands[0][0], "in2": operands[1][0], "out": out},
               kind=kind, act=act_tuple(node.attrs.get("act")),
               binary=(tuple(int(out_shape[d]) for d in perm), tuple(operands[0][1]), tuple(operands[1][1])))
    loc[node.outputs[0]] = (out, "nhwc" if image else "plain")


def _lower_cat(plan, node, graph, loc, cache):
    out_shape = plan.shapes[node.outputs[0]]
    dim = node.attrs.get("dim", 0) % len(out_shape)
    image = len(out_shape) == 4 and dim == 1
    bufs, inner = [], []
    for v in node.inputs:
        shape = plan.shapes[v]
        if image:
            bufs.append(plan._nhwc(node, v, loc))
            inner.append(shape[1])
        else:
            bufs.append(plan._plain(node, v, loc))
            inner.append(int(np.prod(shape[dim:])))
    outer = out_shape[0] * out_shape[2] * out_shape[3] if image else int(np.prod(out_shape[:dim]))
    out = plan._new_buf(int(np.prod(out_shape)))
    plan._emit(node, type=OP_CAT, **{"in": bufs[0], "out": out}, outer=outer, cat=(bufs, inner))
    loc[node.outputs[0]] = (out, "nhwc" if image else "plain")


def _lower_pool(plan, node, graph, loc, cache):
    b = plan._nhwc(node, node.inputs[0], loc)
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, _, oh, ow = plan.shapes[node.outputs[0]]
    out = plan._new_buf(n * oh * ow * c)
    rec = {"in": b, "out": out}
    if node.op == "avg_pool2d":
        a = node.attrs
        kh, kw = a["kernel"]
        sh, sw = a.get("stride", a["kernel"])
        ph, pw = a.get("padding", [0, 0])
        # torch pads symmetrically; the driver clips the ceil_mode overhang past that itself
        plan._emit(node, type=OP_AVGPOOL2D, **rec, n=n, h=h, w=w, c=c, oh=oh, ow=ow,
                   avg=(kh, kw, sh, sw, ph, pw, ph, pw, int(a.get("count_include_pad", True)),
                        int(a.get("divisor_override") or 0)))
    else:
        plan._emit(node, type=OP_ADAPTIVE_POOL2D, **rec, n=n, h=h, w=w, c=c, oh=oh, ow=ow,
                   kind=1 if node.op == "adaptive_avg_pool2d" else 0)
    loc[node.outputs[0]] = (out, "nhwc")


def _lower_pad(plan, node, graph, loc, cache):
    b = plan._nhwc(node, node.inputs[0], loc)
    n, c, h, w = plan.shapes[node.inputs[0]]
    l, r, t, bt = node.attrs["pads"]
    mode = {"constant": _C.PAD_CONSTANT, "reflect": _C.PAD_REFLECT, "replicate": _C.PAD_REPLICATE}[
        node.attrs.get("mode", "constant")]
    out = plan._new_buf(int(np.prod(plan.shapes[node.outputs[0]])))
    plan._emit(node, type=OP_PAD2D, **{"in": b, "out": out}, n=n, h=h, w=w, c=c, kind=mode,
               pads=(t, bt, l, r), value=float(node.attrs.get("value", 0.0)))
    loc[node.outputs[0]] = (out, "nhwc")


def _lower_interpolate(plan, node, graph, loc, cache):
    from fastnorm.ops._glue import _INTERP_MODES
    b = plan._nhwc(node, node.inputs[0], loc)
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, _, oh, ow = plan.shapes[node.outputs[0]]
    a = node.attrs
    mode = _INTERP_MODES[a.get("mode", "nearest")]
    ac = bool(a.get("align_corners")) if a.get("mode") == "bilinear" else False
    scales = a.get("scale_factor") if a.get("size") is None else [None, None]

    def make():
        ty = _C.interp_axis(mode, h, oh, -1.0 if scales[0] is None else float(scales[0]), ac)
        tx = _C.interp_axis(mode, w, ow, -1.0 if scales[1] is None else float(scales[1]), ac)
        return tuple(ty[:2]) + tuple(tx[:2]) + tuple(ty[2:]) + tuple(tx[2:])
    tabs = cache.get((node.name, "interp", h, w), make)
    out = plan._new_buf(n * oh * ow * c)
    plan._emit(node, type=OP_INTERP2D, **{"in": b, "out": out}, n=n, h=h, w=w, c=c, oh=oh, ow=ow,
               kind=mode, interp=tabs)
    loc[node.outputs[0]] = (out, "nhwc")


def _lower_shuffle(plan, node, graph, loc, cache):
    n, c, h, w = plan.shapes[node.inputs[0]]
    out = plan._new_buf(n * c * h * w)
    if node.op == "channel_shuffle":
        b = plan._nhwc(node, node.inputs[0], loc)
        plan._emit(node, type=OP_CHANNEL_SHUFFLE, **{"in": b, "out": out}, n=n, h=h, w=w, c=c,
                   groups=node.attrs["groups"])
        loc[node.outputs[0]] = (out, "nhwc")
        return
    b = plan._plain(node, node.inputs[0], loc)
    r = node.attrs["factor"]
    inverse = node.op == "pixel_unshuffle"
    # the driver takes the small extents: output channels and input size for a shuffle
    cs, hs, ws = (c, h // r, w // r) if inverse else (c // (r * r), h, w)
    plan._emit(node, type=OP_PIXEL_SHUFFLE, **{"in": b, "out": out}, n=n, c=cs, h=hs, w=ws, groups=r,
               kind=int(inverse))
    loc[node.outputs[0]] = (out, "plain")


def _conv_operands(plan, node, graph, loc):
    """(NHWC input buffer, input (n, c, h, w), output (cout, oh, ow), weight, bias or None, the C
    descriptor (cin, cout, groups, kh, kw, stride, dilation, padding)) of a conv2d or conv_transpose2d."""
    b = plan._nhwc(node, node.inputs[0], loc)
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, cout, oh, ow = plan.shapes[node.outputs[0]]
    wt = graph.weights[node.inputs[1]]
    a = node.attrs
    desc = (c, cout, a.get("groups", 1), wt.shape[2], wt.shape[3], *a.get("stride", [1, 1]),
            *a.get("dilation", [1, 1]), *a.get("padding", [0, 0, 0, 0]))
    bias = graph.weights[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None
    return b, (n, c, h, w), (cout, oh, ow), wt, bias, desc


def _lower_conv_transpose2d(plan, node, graph, loc, cache):
    # conv2d's descriptor read as the transposed conv's; output_padding is implied by oh, ow
    b, (n, c, h, w), (cout, oh, ow), wt, bias, desc = _conv_operands(plan, node, graph, loc)
    a = node.attrs
    packed = cache.get((node.name, plan.isa, "conv_transpose"), lambda: _C.conv_transpose2d_pack(
        plan.isa, desc, np.ascontiguousarray(wt, np.float32),
        None if bias is None else np.ascontiguousarray(bias, np.float32)))
    out = plan._new_buf(n * oh * ow * cout)
    plan._emit(node, type=OP_CONV_TRANSPOSE2D, **{"in": b, "out": out}, n=n, h=h, w=w, c=c, oh=oh, ow=ow,
               conv=desc, act=act_tuple(a.get("act")), weights=packed)
    loc[node.outputs[0]] = (out, "nhwc")


LOWER = {
    "conv2d": _lower_conv2d,
    "linear": _lower_linear,
    "batch_norm": _lower_batch_norm,
    "relu": _lower_act,
    "clamp": _lower_act,
    "max_pool2d": _lower_max_pool2d,
    "flatten": _lower_flatten,
    "reshape": _lower_reshape,
    "transpose": _lower_transpose,
    "group_norm": _lower_group_norm,
    "instance_norm": _lower_group_norm,
    "layer_norm": _lower_layer_norm,
    "layer_norm_channels": _lower_layer_norm,
    "prelu": _lower_prelu,
    "softmax": _lower_softmax,
    "log_softmax": _lower_softmax,
    "add": _lower_binary,
    "mul": _lower_binary,
    "cat": _lower_cat,
    "avg_pool2d": _lower_pool,
    "adaptive_avg_pool2d": _lower_pool,
    "adaptive_max_pool2d": _lower_pool,
    "pad": _lower_pad,
    "interpolate": _lower_interpolate,
    "pixel_shuffle": _lower_shuffle,
    "pixel_unshuffle": _lower_shuffle,
    "channel_shuffle": _lower_shuffle,
}
LOWER["conv_transpose2d"] = _lower_conv_transpose2d
for _op in ("leaky_relu", "elu", "celu", "selu", "gelu", "softplus", "sigmoid", "tanh", "silu",
            "hardsigmoid", "hardswish", "mish"):
    LOWER[_op] = _lower_actk
