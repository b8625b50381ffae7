"""Lowering of the conv family: conv2d (the generic indirect GEMM, or the depthwise, first-layer and
Winograd kernels where they apply), linear (a 1x1 conv over rows) and conv_transpose2d.

A depthwise conv (groups == in == out channels) becomes a DWCONV2D record, or, with the 1x1 conv
that alone reads its output, one DWCONV_PW record (the 1x1 expand conv before it joins in the
rewrite pass fastnorm.plan.rewrites.fuse_dwpw_expand). A first-layer conv (1..4 input channels,
groups 1, dilation 1) becomes a CONV_FIRST record reading its input through a zero-padded planar
copy (an arena buffer); fastnorm.plan.rewrites.conv_first_reads_nchw lets it read the model's NCHW
input directly.
"""
import collections
import math
import os

import numpy as np

from fastnorm import _C
from fastnorm.errors import UnsupportedError
from fastnorm.graph import Node, act_tuple, epilogue_kind
from fastnorm.passes.folded import FoldedWeight, with_dense
from fastnorm.plan.lower_shape import emit_copy

# Fuse a depthwise conv with the 1x1 conv after it when the depthwise output is at least this big:
# below, it stays in L2 between the two ops anyway and the banded schedule only adds fork/joins.
# 512 KiB (was 1 MiB): with rewrites.DWPW_EXPAND_MIN_BYTES, MobileNetV3-Large's 56x56 blocks form
# DWCONV_PW records (figures there). FASTNORM_DWPW=0 turns the fusion off (read when a plan is built).
DWPW_MIN_BYTES = 512 << 10

# Winograd F(4x4, 3x3) for 3x3 stride-1 convs (src_c/conv/fn_winograd.h) where it measured faster
# than the direct indirect GEMM (1 thread, AVX-512, caches cold: 64ch 56x56 1.8x, 128ch 28x28 1.7x,
# 256ch 14x14 1.35x, 16ch 56x56 1.25x, 64->16 1.8x; but 3->64 0.7x, 512ch 7x7 at batch 1 (4 tiles)
# 0.77x, 64ch 4x4 (1 tile) 0.7x, 256ch 7x7 0.66x). FASTNORM_WINOGRAD=0 turns it off; it is read when
# a plan is built, so a model built after setting it uses the direct path.
WINOGRAD_MIN_CHANNELS = 16   # cin and cout: below, the GEMMs are too thin to pay for the transforms
WINOGRAD_MIN_TILES = 8       # 4x4 output tiles, batch included: fewer, and streaming the 4x larger
                             # transformed weights costs more than the multiplies saved
# Thin 3x3 convs (8..15 channels on a side, at least 8 on both: DiracNet's 16->8, SCNet's 12->12) at
# images of 28x28 and up: F(4x4, 3x3) only (F(2x2, 3x3) lost to the direct conv there). Measured (AMD
# Zen 4, 1 thread, python bench/adhoc/winograd_thin.py 2 30 / 1 30, thread-CPU medians, direct / F(4x4)):
# AVX-512 16->8 at 224x224 1.53x, 8->8 1.34x, 12->12 1.75x, 16->8 at 112x112 1.56x, 8->16 1.47x,
# 12->24 2.04x, at 56x56 and 28x28 1.30-1.74x; AVX2 the same but 12->12 1.02-1.05x and 12->24 1.40x
# (cin % 8: masked stores in the transforms); F(2x2, 3x3) 0.63-1.25x.
WINOGRAD_THIN_MIN_CHANNELS = 8
WINOGRAD_THIN_MIN_TILES = 49
WINOGRAD_MIN_COVERAGE = 0.5  # outputs / (16 x tiles): partial edge tiles compute discarded outputs
# Winograd F(2x2, 5x5) for 5x5 stride-1 convs (the same driver, kernel size from the desc): 36
# products per 4 outputs instead of 100. Measured (1 thread, padding 2, CPU-time minima, AVX2 under
# tools/cpuid_avx2.c / AVX-512): 48->64 35x35 1.93x / 1.90x, 192ch 17x17 2.2x / 1.95x, 256ch 7x7
# 1.8x / 1.6x, 16ch 35x35 1.2x, 32->4 1.4x / 1.3x, 16->8 1.2x / 1.25x, 512ch 4x4 (4 tiles) ~1.0-1.2x;
# but 8->8 0.93x, 4->32 0.67x, 12ch 1.03x, 64ch 1x1 or 2x2 (1 tile) 0.8x / 0.67x, 128ch 3x3 (4 tiles,
# 9 of 16 outputs kept) 1.08x / 0.88x, 256ch 2x2 0.68x.
# Winograd F(2x2, 3x3) (src_c/conv/fn_winograd.h) for the 3x3 convs above with fewer input channels
# among a graph's first convs: there F(4x4, 3x3)'s float32 error is 3-4x the direct conv's (its GEMM
# sums products larger than the outputs they cancel to), F(2x2, 3x3)'s the direct conv's, at 1.45-1.6x
# F(4x4, 3x3)'s time. An early layer's error passes through every layer after it (Inception-v3's
# 32-channel stem at 139x139: 1.22-1.27e-4 of max |output| from torch with F(4x4, 3x3), 0.80-0.96e-4
# with F(2x2, 3x3)); taking it for every such conv bought no more there and cost the held-out U-Net
# 15%, SqueezeNet 8%, EfficientNetV2-B0 5% (first four: 8%, 2%, 2.5%; Inception-v3 3.7% either way).
WINOGRAD2_MAX_CIN = 48
WINOGRAD2_FIRST_CONVS = 4     # conv2d nodes in graph order; None: every conv
WINOGRAD5_MIN_CIN = 16        # K of the 36 GEMMs: below, the transforms cost what the GEMMs save
WINOGRAD5_MIN_COUT = 4
WINOGRAD5_MIN_TILES = 4       # 2x2 output tiles, batch included
WINOGRAD5_MIN_COVERAGE = 0.6  # outputs / (4 x tiles)

# 1-D Winograd F(6,3) / F(4,5) / F(3,7) for 1xk / kx1 stride-1 convs (src_c/conv/fn_winograd1d.h) where
# it measured faster than the direct conv (1 thread, batch 1, AVX2 under tools/cpuid_avx2.c / AVX-512:
# 192ch 17x17 1x7 1.6x / 1.4x, 128ch 1.56x / 1.48x, 384ch 8x8 1x3 1.3x / 1.1x, 48ch 35x35 5x1 2.0x / 2.0x,
# 256ch 6x6 1x7 1.64x / 1.14x, 32ch 17x17 1x7 1.1x / 1.1x; but 192ch 3x3 7x1 (6 tiles) 1.6x / 0.78x,
# 384ch 4x4 1x3 (4 tiles) 0.83x / 0.51x, 384ch 2x2 0.24x / 0.17x: the transformed weights, 8 / k times
# the direct conv's, stream for too few tiles). Those are warm-cache figures: in Inception-v3, where each
# conv's weights come from L3 / DRAM, 384ch 8x8 1x3 (16 tiles, 4.7 MB of transformed weights) lost:
# 4 convs 2.15 -> 2.85 ms (AVX2), 1.39 -> 2.15 ms (AVX-512); so with caches flushed between calls
# (AVX2 / AVX-512): batch 1 (16 tiles) 0.75x / 0.88x, batch 2 (32) 0.93x / 0.98x, batch 4 (64) 1.08x /
# 1.11x; 192ch 17x17 1x7 (102 tiles) 1.74x / 1.69x. FASTNORM_WINOGRAD=0 turns it off too.
# Image-facing patch embeddings (1..4 input channels, stride == kernel, no padding) as a gather and a 1x1
# conv (_lower_patchify) from this many products per output (kh * kw * cin), per ISA (default: the
# rest). Measured against the first-layer kernel (Xeon, 1 thread, conv + GELU at 224x224, CPU-time
# medians, new / old): AVX-512 4x4x3 -> 40 1.50, -> 96 1.21, -> 128 1.07, -> 192 1.00, 7x7x3 -> 256
# 0.85, 16x16x3 -> 768 0.48; AVX2 0.72, 0.98, 0.78, 0.90, 0.62, 0.52. Convs with more input channels
# (ConvNeXt's 2x2/2 downsampling) stay on the indirect GEMM, whose row taps read kw x cin at a time
# (40 -> 80 at 56x56, AVX-512: 0.081 ms against 0.121 as gather + 1x1).
PATCHIFY_MIN_K = {"avx512": 96}
PATCHIFY_MIN_K_DEFAULT = 16
WINOGRAD1D_KS = (3, 5, 7)
WINOGRAD1D_MIN_CHANNELS = 32  # cin and cout (16ch 35x35 1x3: 1.15x, 32ch: 1.03-1.1x, a thin margin)
WINOGRAD1D_MIN_TILES = 64     # tiles of m outputs along the axis, batch included
WINOGRAD1D_MAX_WORK = 0.75    # points x tiles / (k x outputs): partial edge tiles compute discarded outputs


def _lower_conv2d(plan, node, graph, loc, cache):
    """Reads a channel window of an NHWC image in place on the generic path (fields xoff, ldx: the
    window's first channel and its buffer's pixel stride); the special kernels get a copy. A conv
    with kernel taps that read only padding at this input size runs without them (_dead_taps)."""
    live = _live_taps(plan, node, graph)
    if live is not None:
        node, graph, cache = _without_dead_taps(node, graph, cache, live)
    window = None
    if loc[node.inputs[0]][1] == "nhwc_win" and not _special_path(plan, node, graph):
        window = loc[node.inputs[0]][0], plan.win[node.inputs[0]][:2]
        loc[node.inputs[0]] = (window[0], "nhwc")  # for _conv_operands; restored below
    elif loc[node.inputs[0]][1] == "nhwc_win":
        plan.nhwc(node, node.inputs[0], loc)
    try:
        _lower_conv2d_nhwc(plan, node, graph, loc, cache, window)
    finally:
        if window is not None:
            loc[node.inputs[0]] = (window[0], "nhwc_win")


_lower_conv2d.reads_windows = True


def _live_axis(size, out, k, stride, dil, before, after):
    """(first, last) kernel taps along one axis that read some input (tap t reads positions
    o * stride - before + t * dil, o < out), with the padding left once the others are dropped; None
    when every tap is live or the live ones are not a contiguous run needing no negative padding."""
    live = []
    for t in range(k):
        c = t * dil - before
        lo = max(0, -(c // stride) if c < 0 else 0)          # first o with o * stride + c >= 0
        hi = min(out - 1, (size - 1 - c) // stride) if size - 1 - c >= 0 else -1
        live.append(lo <= hi)
    if all(live) or not any(live):
        return None
    k0 = live.index(True)
    k1 = k - 1 - live[::-1].index(True)
    if not all(live[k0:k1 + 1]):
        return None
    b, a = before - k0 * dil, after - (k - 1 - k1) * dil
    return (k0, k1, b, a) if b >= 0 and a >= 0 else None


def _live_taps(plan, node, graph):
    """((k0h, k1h, k0w, k1w), padding) of a conv2d whose kernel taps outside rows k0h..k1h or columns
    k0w..k1w read only padding at this plan's input size (a dilated conv on a map no larger than its
    dilation: DeepLab's ASPP at rate 36 on a 32x32 map is a 1x1 conv; a 7x7 depthwise conv on a 2x2
    map is a 3x3 one), else None. FASTNORM_DEAD_TAPS=0 keeps every tap."""
    wt = graph.weights.get(node.inputs[1])
    if wt is None or wt.ndim != 4 or os.environ.get("FASTNORM_DEAD_TAPS", "1") == "0":
        return None
    kh, kw = int(wt.shape[2]), int(wt.shape[3])
    if kh * kw == 1:
        return None
    a = node.attrs
    sh, sw = (int(v) for v in a.get("stride", [1, 1]))
    dh, dw = (int(v) for v in a.get("dilation", [1, 1]))
    pt, pl, pb, pr = (int(v) for v in a.get("padding", [0, 0, 0, 0]))
    _, _, h, w = plan.shapes[node.inputs[0]]
    _, _, oh, ow = plan.shapes[node.outputs[0]]
    rows = _live_axis(h, oh, kh, sh, dh, pt, pb) or (0, kh - 1, pt, pb)
    cols = _live_axis(w, ow, kw, sw, dw, pl, pr) or (0, kw - 1, pl, pr)
    if (rows[0], rows[1], cols[0], cols[1]) == (0, kh - 1, 0, kw - 1):
        return None
    return (rows[0], rows[1], cols[0], cols[1]), [rows[2], cols[2], rows[3], cols[3]]


class _Overlay:
    """graph with extra weights (a conv's live taps) seen by one lowering; the graph is not changed."""

    def __init__(self, graph, extra):
        self._graph = graph
        self.weights = collections.ChainMap(extra, graph.weights)

    def __getattr__(self, name):
        return getattr(self._graph, name)


class _TaggedCache:
    """A WeightCache seen with `tag` appended to every key: the live-taps packing of a node is not its
    whole kernel's (another input size may keep every tap), and a prepacked file never stores it."""

    def __init__(self, cache, tag):
        self._cache, self._tag = cache, tag

    def get(self, key, make):
        return self._cache.get(tuple(key) + (self._tag,), make)


def _without_dead_taps(node, graph, cache, live):
    """(node, graph, cache) for lowering node with only its live taps: the weight cropped, the padding
    reduced by the taps dropped before each side; the output shape is the same."""
    (k0h, k1h, k0w, k1w), padding = live
    wname = node.inputs[1]
    tag = ("taps", k0h, k1h, k0w, k1w)
    cropped = np.ascontiguousarray(
        np.asarray(graph.weights[wname], dtype=np.float32)[:, :, k0h:k1h + 1, k0w:k1w + 1])
    name = "%s#taps%d-%d,%d-%d" % (wname, k0h, k1h, k0w, k1w)
    sub = Node(node.name, node.op, [node.inputs[0], name, *node.inputs[2:]], node.outputs,
               {**node.attrs, "padding": padding})
    return sub, _Overlay(graph, {name: cropped}), _TaggedCache(cache, tag)


def _special_path(plan, node, graph):
    """Whether the depthwise, first-layer or Winograd kernel takes this conv (they read whole images)."""
    wt = graph.weights.get(node.inputs[1])
    n, cin, _, _ = plan.shapes[node.inputs[0]]
    groups = node.attrs.get("groups", 1)
    depthwise = wt is not None and groups == cin and wt.shape[0] == cin and wt.shape[1] == 1
    return (depthwise or cin <= 4 or _winograd_pays(plan, node, graph) or _winograd1d_pays(plan, node, graph)
            or _phases(plan, node, graph) is not None)


def _lower_conv2d_nhwc(plan, node, graph, loc, cache, window):
    if window is None and _lower_dwconv(plan, node, graph, loc, cache):  # depthwise, multiplier 1: its own kernel
        return
    if window is None and _lower_patchify(plan, node, graph, loc, cache):  # stride == kernel: a GEMM
        return
    if _lower_conv_first(plan, node, graph, loc, cache):  # 1..4 input channels: its own kernel, any act
        return
    if _winograd_pays(plan, node, graph):
        _lower_winograd(plan, node, graph, loc, cache)
        return _actk_after(plan, node, loc)
    phases = _phases(plan, node, graph)
    if phases is not None:
        _lower_dilated_phases(plan, node, graph, loc, cache, *phases)
        return _actk_after(plan, node, loc)
    if _winograd1d_pays(plan, node, graph):
        _lower_winograd1d(plan, node, graph, loc, cache)
        return _actk_after(plan, node, loc)
    b, (n, c, h, w), (cout, oh, ow), wt, bias, desc = _conv_operands(plan, node, graph, loc)
    a = node.attrs
    packed = _packed(plan, cache, node, "conv", _C.conv2d_pack, desc, wt, bias)
    out = plan.new_buf(n * oh * ow * cout)
    res = -1
    if a.get("residual"):
        res = plan.nhwc(node, node.inputs[3], loc)
    win = {} if window is None else {"xoff": window[1][0], "ldx": window[1][1]}
    plan.emit(node, type=_C.OP_CONV2D, **{"in": b, "in2": res, "out": out}, n=n, h=h, w=w, c=c, oh=oh,
              ow=ow, conv=desc, act=act_tuple(a.get("act")), weights=packed, **win)
    loc[node.outputs[0]] = (out, "nhwc")


def _winograd_kernel(node, graph):
    """The (kh, kw) of a conv the Winograd kernels could take (constant weights, groups 1, stride 1,
    dilation 1, FASTNORM_WINOGRAD not 0), else None."""
    if os.environ.get("FASTNORM_WINOGRAD", "1") == "0":
        return None
    a = node.attrs
    wt = graph.weights.get(node.inputs[1])
    if wt is None or wt.ndim != 4:
        return None
    if (a.get("groups", 1) != 1 or list(a.get("stride", [1, 1])) != [1, 1]
            or list(a.get("dilation", [1, 1])) != [1, 1]):
        return None
    return tuple(wt.shape[2:])


def _winograd_pays(plan, node, graph):
    kernel = _winograd_kernel(node, graph)
    if kernel not in ((3, 3), (5, 5)):
        return False
    n, cin, _, _ = plan.shapes[node.inputs[0]]
    _, cout, oh, ow = plan.shapes[node.outputs[0]]
    if kernel == (5, 5):
        tiles = n * -(-oh // 2) * -(-ow // 2)
        return (cin >= WINOGRAD5_MIN_CIN and cout >= WINOGRAD5_MIN_COUT and tiles >= WINOGRAD5_MIN_TILES
                and oh * ow * n >= WINOGRAD5_MIN_COVERAGE * 4 * tiles)
    tiles = n * -(-oh // 4) * -(-ow // 4)
    if _winograd_thin(cin, cout):
        if tiles < WINOGRAD_THIN_MIN_TILES:
            return False
    elif cin < WINOGRAD_MIN_CHANNELS or cout < WINOGRAD_MIN_CHANNELS:
        return False
    return tiles >= WINOGRAD_MIN_TILES and oh * ow * n >= WINOGRAD_MIN_COVERAGE * 16 * tiles


def _winograd_thin(cin, cout):
    """A 3x3 conv below WINOGRAD_MIN_CHANNELS on a side that F(4x4, 3x3) still takes at large images."""
    return (min(cin, cout) < WINOGRAD_MIN_CHANNELS and cin >= WINOGRAD_THIN_MIN_CHANNELS
            and cout >= WINOGRAD_THIN_MIN_CHANNELS)


def _lower_winograd(plan, node, graph, loc, cache):
    """conv2d (3x3 or 5x5, stride 1) as a WINOGRAD3X3 record (F(2x2, 3x3): WINOGRAD2X3); same fields as
    CONV2D."""
    b = plan.nhwc(node, node.inputs[0], loc)
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, cout, oh, ow = plan.shapes[node.outputs[0]]
    res = plan.nhwc(node, node.inputs[3], loc) if node.attrs.get("residual") else -1
    out = _emit_winograd(plan, node, graph, cache, b, n, h, w, oh, ow, node.attrs.get("padding", [0, 0, 0, 0]),
                         res)
    loc[node.outputs[0]] = (out, "nhwc")


def _emit_winograd(plan, node, graph, cache, b, n, h, w, oh, ow, padding, res):
    """One Winograd record over NHWC buffer b of n h x w images (its output buffer). The packed weights
    do not depend on the padding: the phases of a dilated conv share the node's packing (and a
    prepacked file's)."""
    wt = graph.weights[node.inputs[1]]
    cout, c, k = wt.shape[0], wt.shape[1], wt.shape[2]
    desc = (c, cout, 1, k, k, 1, 1, 1, 1, *padding)
    bias = _bias(graph, node)
    if k == 3 and c < WINOGRAD2_MAX_CIN and not _winograd_thin(c, cout) and (WINOGRAD2_FIRST_CONVS is None
                                            or _conv_rank(plan, graph, node) < WINOGRAD2_FIRST_CONVS):
        variant, pack, op = "winograd2x3", _C.winograd2x3_pack, _C.OP_WINOGRAD2X3
    else:
        variant, pack, op = "winograd3x3", _C.winograd3x3_pack, _C.OP_WINOGRAD3X3
    packed = _packed(plan, cache, node, variant, pack, desc, wt, bias)
    out = plan.new_buf(n * oh * ow * cout)
    plan.emit(node, type=op, **{"in": b, "in2": res, "out": out}, n=n, h=h, w=w, c=c,
              oh=oh, ow=ow, conv=desc, act=_clamp_act(node), weights=packed)
    return out


def _phases(plan, node, graph):
    """(dh, dw) of a dilated 3x3 conv that runs as dh * dw undilated convs on the input's phases
    (rows y = dh * i + py, columns x = dw * j + px: space-to-batch, as TensorFlow's atrous conv), each
    on the Winograd kernel: stride 1, groups 1, every padding a multiple of its axis' dilation, and
    Winograd paying on the phases (FASTNORM_DILATED_PHASES=0 turns it off); else None. Sides that the
    dilation does not divide (DeepLab's 65x65 map of a 513x513 input) are zero-extended to a multiple
    first and the extra outputs cropped (_lower_dilated_phases)."""
    a = node.attrs
    dh, dw = (int(v) for v in a.get("dilation", [1, 1]))
    if (dh, dw) == (1, 1) or os.environ.get("FASTNORM_DILATED_PHASES", "1") == "0":
        return None
    wt = graph.weights.get(node.inputs[1])
    if (os.environ.get("FASTNORM_WINOGRAD", "1") == "0" or wt is None or wt.ndim != 4
            or tuple(wt.shape[2:]) != (3, 3) or a.get("groups", 1) != 1 or list(a.get("stride", [1, 1])) != [1, 1]):
        return None
    pt, pl, pb, pr = a.get("padding", [0, 0, 0, 0])
    n, cin, h, w = plan.shapes[node.inputs[0]]
    _, cout, oh, ow = plan.shapes[node.outputs[0]]
    if pt % dh or pb % dh or pl % dw or pr % dw:
        return None
    if cin < WINOGRAD_MIN_CHANNELS or cout < WINOGRAD_MIN_CHANNELS:
        return None
    qh, qw = _phase_out(h, dh, pt, pb), _phase_out(w, dw, pl, pr)
    if qh < 1 or qw < 1:
        return None
    m = n * dh * dw
    tiles = m * -(-qh // 4) * -(-qw // 4)
    # the outputs kept (not those of the zero extension) against the tiles computed
    if tiles < WINOGRAD_MIN_TILES or oh * ow * n < WINOGRAD_MIN_COVERAGE * 16 * tiles:
        return None
    return dh, dw


def _phase_out(size, d, before, after):
    """Outputs per phase along an axis of `size` inputs zero-extended to a multiple of dilation d."""
    return -(-size // d) + (before + after) // d - 2


def _lower_dilated_phases(plan, node, graph, loc, cache, dh, dw):
    """A dilated conv as its phases (_phases): one strided copy gathers the input's dh * dw phases as a
    batch of n * dh * dw images (phase-major), one Winograd record convolves them undilated with the
    padding divided by the dilation, one strided copy puts the outputs back in place (a fused residual
    is gathered into phases like the input). Sides the dilation does not divide: the input (and the
    residual) zero-extended to multiples first (PAD2D), the outputs past the conv's cropped last."""
    a = node.attrs
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, cout, oh, ow = plan.shapes[node.outputs[0]]
    pt, pl, pb, pr = a.get("padding", [0, 0, 0, 0])
    hh, ww = -(-h // dh) * dh, -(-w // dw) * dw
    qh, qw = _phase_out(h, dh, pt, pb), _phase_out(w, dw, pl, pr)
    ph, pw = hh // dh, ww // dw

    def extend(buf, h0, w0, h1, w1, cc):   # zeros below and right: (n, h0, w0, cc) -> (n, h1, w1, cc)
        if (h0, w0) == (h1, w1):
            return buf
        out = plan.new_buf(n * h1 * w1 * cc)
        plan.emit(node, type=_C.OP_PAD2D, **{"in": buf, "out": out}, n=n, h=h0, w=w0, c=cc,
                  kind=_C.PAD_CONSTANT, pads=(0, h1 - h0, 0, w1 - w0), value=0.0)
        return out

    def gather(buf, hh, ww, cc):   # NHWC (n, hh, ww, cc) -> (dh, dw, n, hh / dh, ww / dw, cc)
        strides = (ww * cc, cc, hh * ww * cc, dh * ww * cc, dw * cc, 1)
        return emit_copy(plan, node, buf, 0, strides, (dh, dw, n, hh // dh, ww // dw, cc), False)

    b = gather(extend(plan.nhwc(node, node.inputs[0], loc), h, w, hh, ww, c), hh, ww, c)
    res = -1
    if a.get("residual"):
        r = extend(plan.nhwc(node, node.inputs[3], loc), oh, ow, qh * dh, qw * dw, cout)
        res = gather(r, qh * dh, qw * dw, cout)
    o = _emit_winograd(plan, node, graph, cache, b, n * dh * dw, ph, pw, qh, qw,
                       [pt // dh, pl // dw, pb // dh, pr // dw], res)
    # out[n, i * dh + py, j * dw + px, :] = o[py, px, n, i, j, :]: the output as (n, qh, dh, qw, dw, cout)
    blk = qh * qw * cout
    strides = (blk, qw * cout, dw * n * blk, cout, n * blk, 1)
    out = emit_copy(plan, node, o, 0, strides, (n, qh, dh, qw, dw, cout), False)
    if (qh * dh, qw * dw) != (oh, ow):   # the zero extension's outputs: crop to (n, oh, ow, cout)
        fw = qw * dw * cout
        out = emit_copy(plan, node, out, 0, (qh * dh * fw, fw, cout, 1), (n, oh, ow, cout), False)
    loc[node.outputs[0]] = (out, "nhwc")


def _lower_conv3d(plan, node, graph, loc, cache):
    """conv3d (N, C, T, H, W) on the conv2d kernels, in frames: (N, T, H, W, C), NHWC images whose batch
    is N * T (layout "frames"; one image transpose from a plain input). A temporal conv (kT x 1 x 1, spatial
    stride 1, no spatial padding: R(2+1)D's) is one conv2d over the frames read as (N, T, H*W, C) images
    with a kT x 1 kernel. Otherwise, per temporal tap a, the frames it reads for every output frame
    (ot * stride + a * dilation, a PAD2D record padding the frames axis first) as a batch of N * OT
    images (one strided copy; none for one tap at stride 1 unpadded) and one conv2d of the spatial kernel
    w[:, :, a], lowered as any conv2d (direct, Winograd, depthwise...), the taps summed through its
    residual epilogue (bias on the first, the activation on the last). The output stays in frames when a
    conv3d alone reads it, else one image transpose puts it back as (N, O, OT, OH, OW)."""
    a = node.attrs
    x = node.inputs[0]
    n, c, t, h, w = plan.shapes[x]
    _, cout, ot, oh, ow = plan.shapes[node.outputs[0]]
    wt = graph.weights[node.inputs[1]]
    kt, kh, kw = (int(v) for v in wt.shape[2:])
    st, sh, sw = (int(v) for v in a.get("stride", [1, 1, 1]))
    dt, dh, dw = (int(v) for v in a.get("dilation", [1, 1, 1]))
    pf, pt, pl, pk, pb, pr = (int(v) for v in a.get("padding", [0] * 6))
    hwc = h * w * c
    if loc[x][1] == "frames":
        frames = loc[x][0]
    else:   # (n, c, t*h*w) -> (n, t*h*w, c): the image transpose on one row of pixels
        frames = plan.new_buf(n * t * hwc)
        plan.emit(node, type=_C.OP_NCHW_TO_NHWC, **{"in": plan.plain(node, x, loc), "out": frames}, n=n, c=c, h=1,
                  w=t * h * w)
    dense = np.asarray(wt, dtype=np.float32)
    bias = node.inputs[2] if len(node.inputs) > 2 else ""
    base = {"groups": a.get("groups", 1)}
    if a.get("act"):
        base["act"] = a["act"]

    def sub_conv(tag, g, ishape, oshape, attrs, weight, ins_extra=()):
        gname, wname, yname = ("%s#%s.%s" % (node.name, tag, k) for k in ("in", "w", "out"))
        plan.shapes[gname], plan.shapes[yname] = ishape, oshape
        loc[gname] = (g, "nhwc")
        sub = Node(node.name, "conv2d", [gname, wname, *ins_extra], [yname], attrs)
        _lower_conv2d(plan, sub, _Overlay(graph, {wname: weight}), loc, _TaggedCache(cache, ("conv3d", tag)))
        return yname

    if kh == kw == 1 and sh == sw == 1 and not (pt or pl or pb or pr):
        # the frames as (n, t, h*w, c) images: one conv2d with a kT x 1 kernel along the frames axis
        prev = sub_conv("t", frames, (n, c, t, h * w), (n, cout, ot, h * w),
                        dict(base, stride=[st, 1], padding=[pf, 0, pk, 0], dilation=[dt, 1]),
                        np.ascontiguousarray(dense[:, :, :, 0, :]), [bias])
    else:
        tp = t + pf + pk
        if pf or pk:   # zero frames before and after: the frames axis as the rows of an (n, t, h*w, c) image
            padded = plan.new_buf(n * tp * hwc)
            plan.emit(node, type=_C.OP_PAD2D, **{"in": frames, "out": padded}, n=n, h=t, w=h * w, c=c,
                      kind=_C.PAD_CONSTANT, pads=(pf, pk, 0, 0), value=0.0)
            frames = padded
        prev = None
        for tap in range(kt):
            if kt == 1 and st == 1 and tp == ot:
                g = frames
            else:
                g = emit_copy(plan, node, frames, tap * dt * hwc, (tp * hwc, st * hwc, w * c, c, 1),
                              (n, ot, h, w, c), False)
            attrs = {"stride": [sh, sw], "padding": [pt, pl, pb, pr], "dilation": [dh, dw], "groups": base["groups"]}
            if tap == kt - 1 and a.get("act"):
                attrs["act"] = a["act"]
            extra = [bias if tap == 0 else ""]
            if prev is not None:
                attrs["residual"] = True
                extra.append(prev)
            prev = sub_conv("t%d" % tap, g, (n * ot, c, h, w), (n * ot, cout, oh, ow), attrs,
                            np.ascontiguousarray(dense[:, :, tap]), extra)
    y = plan.nhwc(node, prev, loc)
    reader = plan.sole_reader(node.outputs[0])
    if reader is not None and reader.op == "conv3d" and reader.inputs[0] == node.outputs[0]:
        loc[node.outputs[0]] = (y, "frames")
        return
    out = plan.new_buf(n * ot * oh * ow * cout)
    plan.emit(node, type=_C.OP_NHWC_TO_NCHW, **{"in": y, "out": out}, n=n, c=cout, h=1, w=ot * oh * ow)
    loc[node.outputs[0]] = (out, "plain")


def _conv_rank(plan, graph, node):
    """node's place among graph's conv2d nodes in graph order (0: the first), counted once per plan."""
    ranks = getattr(plan, "_conv_ranks", None)
    if ranks is None:
        ranks = {n.name: i for i, n in enumerate(n for n in graph.nodes if n.op == "conv2d")}
        plan._conv_ranks = ranks
    return ranks.get(node.name, len(ranks))


def _winograd1d_pays(plan, node, graph):
    kernel = _winograd_kernel(node, graph)
    if kernel is None:
        return False
    kh, kw = kernel
    if not ((kh == 1 and kw in WINOGRAD1D_KS) or (kw == 1 and kh in WINOGRAD1D_KS)):
        return False
    n, cin, _, _ = plan.shapes[node.inputs[0]]
    _, cout, oh, ow = plan.shapes[node.outputs[0]]
    if cin < WINOGRAD1D_MIN_CHANNELS or cout < WINOGRAD1D_MIN_CHANNELS:
        return False
    k = max(kh, kw)
    npts = 9 if k == 7 else 8   # transform points (fn_winograd1d.h)
    m = npts + 1 - k            # outputs per tile
    tiles = n * (oh * -(-ow // m) if kh == 1 else -(-oh // m) * ow)
    return tiles >= WINOGRAD1D_MIN_TILES and npts * tiles <= WINOGRAD1D_MAX_WORK * k * n * oh * ow


def _lower_winograd1d(plan, node, graph, loc, cache):
    """conv2d (1xk / kx1, stride 1) as a WINOGRAD1D record; same fields as CONV2D."""
    b = plan.nhwc(node, node.inputs[0], loc)
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, cout, oh, ow = plan.shapes[node.outputs[0]]
    wt = graph.weights[node.inputs[1]]
    a = node.attrs
    desc = (c, cout, 1, wt.shape[2], wt.shape[3], 1, 1, 1, 1, *a.get("padding", [0, 0, 0, 0]))
    bias = _bias(graph, node)
    packed = _packed(plan, cache, node, "winograd1d", _C.winograd1d_pack, desc, wt, bias)
    out = plan.new_buf(n * oh * ow * cout)
    res = plan.nhwc(node, node.inputs[3], loc) if a.get("residual") else -1
    plan.emit(node, type=_C.OP_WINOGRAD1D, **{"in": b, "in2": res, "out": out}, n=n, h=h, w=w, c=c,
              oh=oh, ow=ow, conv=desc, act=_clamp_act(node), weights=packed)
    loc[node.outputs[0]] = (out, "nhwc")


def _lower_linear(plan, node, graph, loc, cache):
    b, layout = loc[node.inputs[0]]
    xs = plan.shapes[node.inputs[0]]
    wt = graph.weights[node.inputs[1]]
    out_f, in_f = wt.shape
    rows = int(math.prod(xs[:-1]))
    variant = "linear"
    if layout == "flat_hwc":
        # input is an NHWC image flattened in (h, w, c) order: permute the weight's columns to match
        _, c, h, w = plan.flat_src[node.inputs[0]]
        variant = ("linear_hwc", c, h, w)
    elif layout in ("nhwc", "nhwc_win"):
        b = plan.plain(node, node.inputs[0], loc)   # a 4D value held NHWC (a model input): rows are its W
    elif layout != "plain":
        raise UnsupportedError("node %r: linear input must be 2D, got a %s tensor" % (node.name, layout))
    bias = _bias(graph, node)
    desc = (in_f, out_f, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)

    def make():
        return with_dense(wt, pack) if isinstance(wt, FoldedWeight) else pack(np.asarray(wt, np.float32))

    def pack(w2):
        if variant == "linear" and not w2.flags.c_contiguous and w2.T.flags.c_contiguous and w2.flags.aligned:
            # ONNX MatMul's B, kept (in, out) by the frontend: packed as it is, no transposed copy
            return _C.conv2d_pack_kn(plan.isa, desc, w2.T,
                                     None if bias is None else np.ascontiguousarray(bias, np.float32))
        if variant != "linear":
            w2 = w2.reshape(out_f, c, h, w).transpose(0, 2, 3, 1).reshape(out_f, in_f)
        return _C.conv2d_pack(plan.isa, desc, np.ascontiguousarray(w2).reshape(out_f, in_f, 1, 1),
                              None if bias is None else np.ascontiguousarray(bias, np.float32))

    packed = cache.get((node.name, plan.isa, variant), make)
    out = plan.new_buf(rows * out_f)
    plan.emit(node, type=_C.OP_CONV2D, **{"in": b, "out": out}, n=rows, h=1, w=1, c=in_f, oh=1, ow=1,
              conv=desc, act=act_tuple(node.attrs.get("act")), weights=packed)
    loc[node.outputs[0]] = (out, "plain")


def _conv_operands(plan, node, graph, loc):
    """(NHWC input buffer, input (n, c, h, w), output (cout, oh, ow), weight, bias or None, the C
    descriptor (cin, cout, groups, kh, kw, stride, dilation, padding)) of a conv2d or conv_transpose2d."""
    b = plan.nhwc(node, node.inputs[0], loc)
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, cout, oh, ow = plan.shapes[node.outputs[0]]
    wt = graph.weights[node.inputs[1]]
    a = node.attrs
    desc = (c, cout, a.get("groups", 1), wt.shape[2], wt.shape[3], *a.get("stride", [1, 1]),
            *a.get("dilation", [1, 1]), *a.get("padding", [0, 0, 0, 0]))
    bias = _bias(graph, node)
    return b, (n, c, h, w), (cout, oh, ow), wt, bias, desc


def _lower_conv_transpose2d(plan, node, graph, loc, cache):
    # conv2d's descriptor read as the transposed conv's; output_padding is implied by oh, ow
    b, (n, c, h, w), (cout, oh, ow), wt, bias, desc = _conv_operands(plan, node, graph, loc)
    a = node.attrs
    packed = _packed(plan, cache, node, "conv_transpose", _C.conv_transpose2d_pack, desc, wt, bias)
    out = plan.new_buf(n * oh * ow * cout)
    plan.emit(node, type=_C.OP_CONV_TRANSPOSE2D, **{"in": b, "out": out}, n=n, h=h, w=w, c=c, oh=oh, ow=ow,
              conv=desc, act=act_tuple(a.get("act")), weights=packed)
    loc[node.outputs[0]] = (out, "nhwc")


def _lower_dwconv(plan, node, graph, loc, cache):
    """A depthwise conv with channel multiplier 1 as DWCONV2D or DWCONV_PW; False for any other conv
    (a multiplier > 1 stays on the grouped GEMM)."""
    n, c, h, w = plan.shapes[node.inputs[0]]
    wt = graph.weights[node.inputs[1]]
    a = node.attrs
    if not (a.get("groups", 1) == c == wt.shape[0] and wt.shape[1] == 1):
        return False
    b = plan.nhwc(node, node.inputs[0], loc)
    _, _, oh, ow = plan.shapes[node.outputs[0]]
    desc = (c, c, c, wt.shape[2], wt.shape[3], *a.get("stride", [1, 1]), *a.get("dilation", [1, 1]),
            *a.get("padding", [0, 0, 0, 0]))
    bias = _bias(graph, node)
    packed = cache.get((node.name, "dwconv"), lambda: with_dense(wt, lambda w32: _C.dwconv2d_pack(
        w32, None if bias is None else np.ascontiguousarray(bias, np.float32))))
    pw = None if a.get("residual") or n * oh * ow * c * 4 < DWPW_MIN_BYTES else \
        _pointwise_after(plan, node, graph, loc, c)
    if pw is not None:
        _emit_dwconv_pw(plan, node, pw, graph, loc, cache, b, (n, c, h, w), (oh, ow), desc, packed)
        return True
    out = plan.new_buf(n * oh * ow * c)
    res = plan.nhwc(node, node.inputs[3], loc) if a.get("residual") else -1
    plan.emit(node, type=_C.OP_DWCONV2D, **{"in": b, "in2": res, "out": out}, n=n, h=h, w=w, c=c,
              oh=oh, ow=ow, conv=desc, act=act_tuple(a.get("act")), weights=packed)
    loc[node.outputs[0]] = (out, "nhwc")
    return True


def _pointwise_after(plan, node, graph, loc, c):
    """The 1x1 conv (stride 1, no padding, groups 1) that alone reads this depthwise output."""
    if os.environ.get("FASTNORM_DWPW", "1") == "0" or c <= 4:
        return None
    pw = plan.sole_reader(node.outputs[0])
    if pw is None or pw.op != "conv2d":
        return None
    a = pw.attrs
    wt = graph.weights.get(pw.inputs[1])
    if (wt is None or wt.ndim != 4 or tuple(wt.shape[1:]) != (c, 1, 1) or pw.inputs[0] != node.outputs[0]
            or a.get("groups", 1) != 1 or list(a.get("stride", [1, 1])) != [1, 1]
            or list(a.get("dilation", [1, 1])) != [1, 1] or any(a.get("padding", [0, 0, 0, 0]))):
        return None
    if a.get("residual") and (pw.inputs[3] not in loc or pw.inputs[3] == node.outputs[0]):
        return None
    return pw


def _emit_dwconv_pw(plan, node, pw, graph, loc, cache, b, in_shape, out_hw, desc, packed):
    n, c, h, w = in_shape
    oh, ow = out_hw
    wt = graph.weights[pw.inputs[1]]
    cout = wt.shape[0]
    bias = _bias(graph, pw)
    desc2 = (c, cout, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)
    packed2 = _packed(plan, cache, pw, "conv", _C.conv2d_pack, desc2, wt, bias)
    res = plan.nhwc(pw, pw.inputs[3], loc) if pw.attrs.get("residual") else -1
    out = plan.new_buf(n * oh * ow * cout)
    plan.emit(node, type=_C.OP_DWCONV_PW, **{"in": b, "in2": res, "out": out}, n=n, h=h, w=w, c=c,
              oh=oh, ow=ow, conv=desc, act=act_tuple(node.attrs.get("act")), weights=packed,
              conv2=desc2, act2=act_tuple(pw.attrs.get("act")), weights2=packed2)
    plan.absorbed.add(pw.name)
    plan.absorbed_into.setdefault(node.name, []).append(pw.name)
    loc[pw.outputs[0]] = (out, "nhwc")


def _patchify_desc(plan, node, graph):
    """(kh, kw) of an image-facing patch-embedding conv (1..4 input channels, stride == kernel, no
    padding, dilation 1, groups 1, kernel past 1x1, at least PATCHIFY_MIN_K products per output for the
    plan's ISA, no fused residual), else None."""
    if os.environ.get("FASTNORM_PATCHIFY", "1") == "0":
        return None
    a = node.attrs
    wt = graph.weights.get(node.inputs[1])
    if wt is None or wt.ndim != 4 or a.get("residual") or a.get("groups", 1) != 1:
        return None
    kh, kw = wt.shape[2:]
    min_k = PATCHIFY_MIN_K.get(_C.ISA_NAMES[plan.isa], PATCHIFY_MIN_K_DEFAULT)
    if (list(a.get("stride", [1, 1])) != [kh, kw] or list(a.get("dilation", [1, 1])) != [1, 1]
            or any(a.get("padding", [0, 0, 0, 0])) or kh * kw < 2 or wt.shape[1] > 4
            or kh * kw * wt.shape[1] < min_k):
        return None
    return kh, kw


def _lower_patchify(plan, node, graph, loc, cache):
    """A patch embedding (ViT's 16x16/16, ConvNeXt's 4x4/4, ConvMixer's 7x7/7) as what it is: each
    output pixel's patch gathered into a row (one STRIDED_COPY record, kw floats a run from an NCHW
    input, kw x c from an NHWC one), then a 1x1 conv of K = kh x kw x c input channels on the dense
    GEMM path, whose epilogue takes an act, a BN after it and an add (rewrites.conv_takes_post).
    The generic kernels ran it as kh x kw taps of c channels (conv_first) or kh taps of kw x c (the
    indirect GEMM): short dot products. FASTNORM_PATCHIFY=0 turns it off (read when a plan is built)."""
    k = _patchify_desc(plan, node, graph)
    if k is None:
        return False
    kh, kw = k
    src = node.inputs[0]
    b, layout = loc[src]
    if layout not in ("plain", "nhwc"):
        return False
    if src in plan.input_bufs and plan.sole_reader(src) is node:
        # the model's NCHW input itself (its NHWC copy, unread, goes: rewrites.conv_first_reads_nchw)
        b, layout = plan.input_bufs[src], "plain"
    n, c, h, w = plan.shapes[src]
    _, cout, oh, ow = plan.shapes[node.outputs[0]]
    K = kh * kw * c
    if layout == "plain":   # rows (c, ky, kx): torch's weight order
        shape, strides = (n, oh, ow, c, kh, kw), (c * h * w, kh * w, kw, h * w, w, 1)
        order, variant = (0, 1, 2, 3), "patch_nchw"
    else:                   # rows (ky, kx, c)
        shape, strides = (n, oh, ow, kh, kw, c), (h * w * c, kh * w * c, kw * c, w * c, c, 1)
        order, variant = (0, 2, 3, 1), "patch_nhwc"
    rows = plan.new_buf(n * oh * ow * K)
    plan.emit(node, type=_C.OP_STRIDED_COPY, **{"in": b, "out": rows}, xoff=0, strided=(shape, strides))
    wt = graph.weights[node.inputs[1]]
    bias = _bias(graph, node)
    desc = (K, cout, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)
    packed = cache.get((node.name, plan.isa, variant), lambda: with_dense(wt, lambda w32: _C.conv2d_pack(
        plan.isa, desc, np.ascontiguousarray(np.asarray(w32, np.float32).transpose(order)).reshape(cout, K, 1, 1),
        None if bias is None else np.ascontiguousarray(bias, np.float32))))
    out = plan.new_buf(n * oh * ow * cout)
    plan.emit(node, type=_C.OP_CONV2D, **{"in": rows, "out": out}, n=n, h=oh, w=ow, c=K, oh=oh, ow=ow,
              conv=desc, act=act_tuple(node.attrs.get("act")), weights=packed)
    loc[node.outputs[0]] = (out, "nhwc")
    return True


def _lower_conv_first(plan, node, graph, loc, cache):
    """A conv with 1..4 input channels as CONV_FIRST (kind: the input is NHWC); False for others."""
    a = node.attrs
    if a.get("residual"):
        return False
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, cout, oh, ow = plan.shapes[node.outputs[0]]
    wt = graph.weights[node.inputs[1]]
    desc = (c, cout, a.get("groups", 1), wt.shape[2], wt.shape[3], *a.get("stride", [1, 1]),
            *a.get("dilation", [1, 1]), *a.get("padding", [0, 0, 0, 0]))
    if not _C.conv_first_supports(desc):
        return False
    b, layout = loc[node.inputs[0]]
    if layout not in ("nhwc", "plain"):
        b, layout = plan.nhwc(node, node.inputs[0], loc), "nhwc"
    bias = _bias(graph, node)
    packed = _packed(plan, cache, node, "conv_first", _C.conv_first_pack, desc, wt, bias)
    pad = plan.new_buf(_C.conv_first_pad_floats(desc, n, h, w))
    out = plan.new_buf(n * oh * ow * cout)
    plan.emit(node, type=_C.OP_CONV_FIRST, **{"in": b, "in2": pad, "out": out}, n=n, h=h, w=w, c=c,
              oh=oh, ow=ow, conv=desc, act=act_tuple(a.get("act")), weights=packed,
              kind=int(layout == "nhwc"))
    loc[node.outputs[0]] = (out, "nhwc")
    return True


def _clamp_act(node):
    """The act tuple for a kernel that applies only the clamp (Winograd): an
    epilogue past it (silu, gelu, ...) becomes the ACTK record _actk_after emits."""
    act = node.attrs.get("act")
    return act_tuple(None if epilogue_kind(act) else act)


def _actk_after(plan, node, loc):
    """After a kernel that took _clamp_act: the node's silu / gelu / ... as an ACTK record."""
    kind = epilogue_kind(node.attrs.get("act"))
    if kind is None:
        return
    b, layout = loc[node.outputs[0]]
    size = int(math.prod(plan.shapes[node.outputs[0]]))
    out = plan.new_buf(size)
    plan.emit(node, type=_C.OP_ACTK, **{"in": b, "out": out}, n=size, kind=getattr(_C, "ACTK_" + kind),
              actp=(0.0,) * 8)
    loc[node.outputs[0]] = (out, layout)


def _packed(plan, cache, node, variant, pack, desc, wt, bias):
    """Weights packed by pack(isa, desc, weight, bias), once per (node, ISA, variant)."""
    return cache.get((node.name, plan.isa, variant), lambda: with_dense(wt, lambda w32: pack(
        plan.isa, desc, w32, None if bias is None else np.ascontiguousarray(bias, np.float32))))


def _bias(graph, node):
    return graph.weights[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None


LOWER = {"conv2d": _lower_conv2d, "linear": _lower_linear, "conv_transpose2d": _lower_conv_transpose2d,
         "conv3d": _lower_conv3d}
