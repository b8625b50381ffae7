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
from fastnorm.errors import UnsupportedError
from fastnorm.graph import act_tuple, infer_shapes

OP_CONV2D, OP_SCALE_SHIFT, OP_ACT, OP_MAXPOOL2D, OP_TO_NHWC, OP_TO_NCHW, OP_COPY = 1, 2, 3, 4, 5, 6, 7
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
        self._plan_memory()
        self.cplan = _C.CPlan(isa, self.records, len(self.buf_sizes))
        self._arenas = []  # free arenas; predict takes one and gives it back, so threads never share

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
        for node in graph.nodes:
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
                           if src in (q.get("in"), q.get("in2"))]
                writers = [j for j, q in enumerate(self.records) if q.get("out") == src]
                if (readers == [i] and len(writers) == 1 and self.buf_external[src] is None
                        and self.records[writers[0]]["type"] != OP_COPY):
                    self.records[writers[0]]["out"] = r["out"]
                    continue
            keep.append(i)
        self.records = [self.records[i] for i in keep]
        self.node_of_record = [self.node_of_record[i] for i in keep]

    # ------------------------------------------------------------------------------ memory
    def _plan_memory(self):
        """Liveness over the record sequence, then first-fit offsets in one arena."""
        nb = len(self.buf_sizes)
        first, last = [None] * nb, [None] * nb
        for i, r in enumerate(self.records):
            for key in ("in", "in2", "out"):
                b = r.get(key, -1)
                if b is None or b < 0:
                    continue
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
    def run(self, feeds, nthreads, timings=None):
        """Run the plan; with a `timings` list, run record by record and append (record, seconds)."""
        external = [None] * len(self.buf_sizes)
        outputs = {}
        for name, b in self.input_bufs.items():
            external[b] = feeds[name]
        for name, b in self.output_bufs.items():
            outputs[name] = external[b] = np.empty(self.output_shapes[name], np.float32)
        try:
            arena, scratch = self._arenas.pop()
        except IndexError:
            arena, scratch = np.empty(self.arena_floats, np.float32), np.empty(0, np.uint8)
        need = self.cplan.scratch_bytes(nthreads)
        if scratch.shape[0] < need:
            scratch = np.empty(need, np.uint8)
        try:
            if timings is None:
                self.cplan.run(external, arena, self.offsets, scratch, nthreads)
            else:
                for i in range(len(self.records)):
                    t0 = time.perf_counter()
                    self.cplan.run(external, arena, self.offsets, scratch, nthreads, i, i + 1)
                    timings.append((i, time.perf_counter() - t0))
        finally:
            self._arenas.append((arena, scratch))
        return outputs


# ---------------------------------------------------------------------------------- lowerings
def _lower_conv2d(plan, node, graph, loc, cache):
    b, layout = loc[node.inputs[0]]
    if layout != "nhwc":
        raise UnsupportedError("node %r: conv2d input must be a 4D image tensor" % node.name)
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, cout, oh, ow = plan.shapes[node.outputs[0]]
    wt = graph.weights[node.inputs[1]]
    a = node.attrs
    desc = (c, cout, a.get("groups", 1), wt.shape[2], wt.shape[3], *a.get("stride", [1, 1]),
            *a.get("dilation", [1, 1]), *a.get("padding", [0, 0, 0, 0]))
    bias = graph.weights[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None
    packed = cache.get((node.name, plan.isa, "conv"), lambda: _C.conv2d_pack(
        plan.isa, desc, np.ascontiguousarray(wt, np.float32),
        None if bias is None else np.ascontiguousarray(bias, np.float32)))
    out = plan._new_buf(n * oh * ow * cout)
    res = -1
    if a.get("residual"):
        res, res_layout = loc[node.inputs[3]]
        if res_layout != "nhwc":
            raise UnsupportedError("node %r: residual input must be a 4D image tensor" % node.name)
    plan._emit(node, type=OP_CONV2D, **{"in": b, "in2": res, "out": out}, n=n, h=h, w=w, c=c, oh=oh,
               ow=ow, conv=desc, act=act_tuple(a.get("act")), weights=packed)
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


def _lower_max_pool2d(plan, node, graph, loc, cache):
    b, layout = loc[node.inputs[0]]
    if layout != "nhwc":
        raise UnsupportedError("node %r: max_pool2d input must be a 4D image tensor" % node.name)
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, _, oh, ow = plan.shapes[node.outputs[0]]
    a = node.attrs
    k = a["kernel"]
    desc = (k[0], k[1], *a.get("stride", k), *a.get("dilation", [1, 1]), *a.get("padding", [0, 0]))
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


LOWER = {
    "conv2d": _lower_conv2d,
    "linear": _lower_linear,
    "batch_norm": _lower_batch_norm,
    "relu": _lower_act,
    "clamp": _lower_act,
    "max_pool2d": _lower_max_pool2d,
    "flatten": _lower_flatten,
}
