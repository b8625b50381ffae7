"""Record rewrites: passes over a lowered plan's record list, run in PASSES order before memory
planning. Each takes the plan (records, node_of_record, buffer table) and the graph it came from,
and rewrites the list in place; lowering itself never edits a record it already emitted.
"""
import math
import os

import numpy as np

from fastnorm import _C

# Also fuse the 1x1 expand conv before a DWCONV_PW record's depthwise conv when its output is at least
# this big: each band then recomputes a halo of (kh - 1) expanded rows, which only pays when the
# expanded tensor would otherwise leave L2 (MobileNetV2 at batch 16: 10-80 MB per block). 2 MiB (was
# 4): MobileNetV3-Large's 16->64 expand at 112x112 (3.2 MB) joins its block, with DWPW_MIN_BYTES 512
# KiB (lower_conv.py). bench/bench_ab.py dwpw-small, 1 thread, CPU-time medians in turns, Xeon
# (session 13): 0.982 of before on AVX-512, 0.952 on AVX2 (tools/cpuid_avx2.c), 0.961 at 2 threads;
# MobileNetV2 1.003 (its blocks were fused already). Lower still (0 / 0) lost 6.5% on MobileNetV2.
DWPW_EXPAND_MIN_BYTES = 2 << 20
# A DWCONV_PW record that took no expand conv in (Xception's, MobileNetV1's and VoVNet's separable
# convs: the depthwise input is not a 1x1 conv's output) whose 1x1 conv keeps or widens the channels
# goes back to two records when its depthwise output is smaller than DWPW_PLAIN_MIN_BYTES: the fusion
# then saves one write and one read of a tensor that L3 holds, while the banded 1x1 conv, called once
# per few rows, writes as many channels or more per pixel and ran slower than one call over the whole
# image. Narrow pairs (at most DWPW_PLAIN_NARROW channels) and projections (fewer output channels than
# input: MobileNetV2's first block 32 -> 16, EfficientNet-Lite0's 144 -> 24 at 56x56) stay fused, their
# 1x1 convs having few products per byte they read. Measured (AMD Zen 4, 1 thread, the two plans in
# turns in one process, CPU-time medians, session 31; bench/bench_ab.py dwpw-plain): fused / unfused at
# batch 1, AVX2 / AVX-512: Xception-lite 1.05-1.08 / 1.03 (its 64ch pair at 112x112, 3.2 MB: 1.74 vs
# 1.39 ms), ESE-VoVNet19b-dw 1.00-1.03 / 1.00; per record, EfficientNet-Lite0's 144 -> 24 0.85 / 0.94,
# Xception's 32 -> 64 at 112x112 0.96, MobileNetV1-0.5's 16 -> 32 0.97, its 64 -> 128 at 56x56 1.02;
# whole models with every plain pair split: MobileNetV2-1.4, EfficientNet-Lite0, MnasNet 1.006-1.012 /
# 1.004-1.009 worse. At batch 16 (AVX2, per record) 32ch and 64ch at 112x112 (25 and 51 MB) won fused
# (0.84, 0.96), hence the size bound. Blocks with their expand conv (fuse_dwpw_expand) stay fused:
# MobileNetV3-Large 0.96 / 0.99, EfficientNet-Lite0 0.98 / 0.99.
DWPW_PLAIN_MIN_BYTES = 16 << 20
DWPW_PLAIN_NARROW = 32
# Fold a global average pool into the depthwise conv before it (dwconv_takes_pool) only from this many
# output pixels per sample: below, the image is still in L2 when the pool reads it and the row sums
# cost the conv as much as the pool did (AVX-512, 1 thread: 672ch 14x14 4.2 us vs the pool's 4.1,
# 1152ch 7x7 2.2 vs 1.9; at 28x28 120ch 3.7 vs 5.8, 240ch 5.2 vs 6.4; at 56x56 144ch 6.0 vs 54).
DWCONV_MEAN_MIN_PIXELS = 400
# A DWCONV2D record (a depthwise conv another 1x1 conv does not alone read: squeeze-and-excitation
# blocks, whose pool and gate read it too) takes the 1x1 expand conv before it in (dwconv_takes_expand)
# from this many bytes of expanded tensor, the bound fuse_dwpw_expand uses: below, the tensor stays in
# L2 (or mostly) between the two records. On Zen 4 lower bounds (1 MiB down to 200 KB, EfficientNet-B0's
# 56x56 and 28x28 blocks too) measured the same as 2 MiB; untried on a 512 KiB L2 (Zen 3).
DW_EXPAND_MIN_BYTES = 2 << 20
# ... and only a conv that widens its input at least this many times: the saving is the expanded tensor's
# trip through L3, the cost a GEMM called once per band; ESE-VoVNet19b-dw's stem 64 -> 64 at 112x112
# ran 1.004-1.005 of apart banded (bench_ab.py dw-expand --model ese_vovnet19b_dw), EfficientNet's
# 16 -> 96 0.975-0.982.
DW_EXPAND_MIN_RATIO = 2
# The dense conv records (direct and every Winograd): NHWC output, a pixel stride ldy they can write at.
CONV_RECORDS = (_C.OP_CONV2D, _C.OP_WINOGRAD3X3, _C.OP_WINOGRAD2X3, _C.OP_WINOGRAD1D)
# Records whose kernels read each residual element before writing that output element: they may write
# their output over a residual nothing reads afterwards (set to () to turn residual_in_place off).
RESIDUAL_IN_PLACE = CONV_RECORDS + (_C.OP_DWCONV2D, _C.OP_DWCONV_PW)


def buffers_of(rec):
    """Every buffer a record reads or writes."""
    bufs = [b for b in (rec.get("in"), rec.get("in2"), rec.get("out"), rec.get("gate"), rec.get("out2"))
            if b is not None and b >= 0]
    cat = rec.get("cat")
    if cat is not None:
        bufs += [b for b in cat[0] if b is not None and b >= 0]
    return bufs


class _Uses:
    """Which records read and which write each buffer, built once per pass (one walk of the records,
    so that a pass stays linear in their number), when the pass first asks: readers[b] and writers[b]
    are record indices in order; a record that writes b (its out, or out2) is not one of its readers."""

    def __init__(self, plan):
        self._plan = plan
        self._readers = self._writers = None

    @property
    def readers(self):
        if self._readers is None:
            self._build()
        return self._readers

    @property
    def writers(self):
        if self._writers is None:
            self._build()
        return self._writers

    def _build(self):
        # buffers_of inlined, without a list per record: the passes build this five times per plan
        # (DenseNet-121, 1,000 records with 30-input cats: ~1 ms of its plan). A record writes out
        # and, a depthwise conv that also gives its mean (dwconv_takes_pool), out2.
        readers, writers = {}, {}
        for j, q in enumerate(self._plan.records):
            out = q.get("out")
            out2 = q.get("out2")
            if out2 is not None and out2 < 0:
                out2 = None
            cat = q.get("cat")
            for b in (q.get("in"), q.get("in2"), q.get("gate")) if cat is None else \
                    (q.get("in"), q.get("in2"), q.get("gate"), *cat[0]):
                if b is not None and b >= 0 and b != out and b != out2:
                    r = readers.get(b)
                    if r is None:
                        readers[b] = [j]
                    elif r[-1] != j:
                        r.append(j)
            for o in (out, out2):
                if o is not None and o >= 0:
                    w = writers.get(o)
                    if w is None:
                        writers[o] = [j]
                    else:
                        w.append(j)
        self._readers, self._writers = readers, writers

    def of(self, buf):
        """(readers, writers) of buf."""
        return self.readers.get(buf, []), self.writers.get(buf, [])


def _drop(plan, doomed):
    if not doomed:
        return
    keep = [i for i in range(len(plan.records)) if i not in doomed]
    plan.records = [plan.records[i] for i in keep]
    plan.node_of_record = [plan.node_of_record[i] for i in keep]


def fuse_dwpw_expand(plan, graph):
    """A DWCONV_PW record whose depthwise input is a 1x1 CONV2D's output that nothing else reads takes
    that conv in as its expand conv (conv_ex, act_ex, weights_ex) and reads the conv's input."""
    uses = _Uses(plan)
    doomed = set()
    for i, r in enumerate(plan.records):
        j = None
        if (r["type"] == _C.OP_DWCONV_PW and r.get("weights_ex") is None
                and r["n"] * r["h"] * r["w"] * r["c"] * 4 >= DWPW_EXPAND_MIN_BYTES):
            j = _expand_conv(plan, uses, i)
        if j is not None:
            _take_expand(plan, uses, i, j, doomed)
    _drop(plan, doomed)


def _take_expand(plan, uses, i, j, doomed):
    """Record i takes the 1x1 expand conv record j in: it reads j's input, j goes."""
    r, ex = plan.records[i], plan.records[j]
    r["in"] = ex["in"]
    r.update(conv_ex=ex["conv"], act_ex=ex["act"], weights_ex=ex["weights"])
    plan.absorbed_into.setdefault(plan.node_of_record[i], []).insert(0, plan.node_of_record[j])
    doomed.add(j)
    readers = uses.readers.setdefault(ex["in"], [])
    readers[:] = sorted(set(readers) - {j} | {i})
    uses.readers[ex["out"]] = []
    uses.writers[ex["out"]] = []


# what _emit_dwconv_pw (lower_conv.py) writes: a record with more (an expand conv, ...) stays whole
_PLAIN_DWPW_KEYS = {"type", "in", "in2", "out", "n", "h", "w", "c", "oh", "ow", "conv", "act", "weights",
                    "conv2", "act2", "weights2"}


def split_plain_dwpw(plan, graph):
    """A DWCONV_PW record without an expand conv, of more than DWPW_PLAIN_NARROW channels, whose 1x1 conv
    has as many output channels as input or more and whose depthwise output is under DWPW_PLAIN_MIN_BYTES
    becomes the DWCONV2D and CONV2D records the two convs lower to unfused (the same kernels, hence the
    same bits), the depthwise output in a buffer of its own."""
    records, nodes = [], []
    for r, node in zip(plan.records, plan.node_of_record):
        if (r["type"] != _C.OP_DWCONV_PW or not set(r) <= _PLAIN_DWPW_KEYS
                or len(plan.absorbed_into.get(node, ())) != 1 or r["c"] <= DWPW_PLAIN_NARROW
                or r["conv2"][1] < r["c"] or r["n"] * r["oh"] * r["ow"] * r["c"] * 4 >= DWPW_PLAIN_MIN_BYTES):
            records.append(r)
            nodes.append(node)
            continue
        (pw,) = plan.absorbed_into.pop(node)  # without an expand conv: the projection alone
        plan.absorbed.discard(pw)
        n, c, oh, ow = r["n"], r["c"], r["oh"], r["ow"]
        mid = plan.new_buf(n * oh * ow * c)
        records.append({"type": _C.OP_DWCONV2D, "in": r["in"], "in2": -1, "out": mid, "n": n, "h": r["h"],
                        "w": r["w"], "c": c, "oh": oh, "ow": ow, "conv": r["conv"], "act": r["act"],
                        "weights": r["weights"]})
        records.append({"type": _C.OP_CONV2D, "in": mid, "in2": r["in2"], "out": r["out"], "n": n, "h": oh,
                        "w": ow, "c": c, "oh": oh, "ow": ow, "conv": r["conv2"], "act": r["act2"],
                        "weights": r["weights2"]})
        nodes += [node, pw]
    plan.records, plan.node_of_record = records, nodes


def _expand_conv(plan, uses, i):
    """The index of the 1x1 stride-1 CONV2D record (no residual, no padding) that alone feeds record
    i's input with its c channels, if any."""
    r = plan.records[i]
    b = r["in"]
    readers, writers = uses.of(b)
    if (len(writers) != 1 or writers[0] > i or plan.buf_external[b] is not None
            or readers != [i] or r.get("in2") == b):
        return None
    j = writers[0]
    ex = plan.records[j]
    if (ex["type"] != _C.OP_CONV2D or ex.get("in2", -1) >= 0 or plan.node_of_record[j] is None
            or ex.get("ldx") or ex.get("post") is not None):  # a conv reading a channel window keeps its input
        return None
    cin, cout, groups, kh, kw, sh, sw = ex["conv"][:7]
    if (cout, groups, kh, kw, sh, sw) != (r["c"], 1, 1, 1, 1, 1) or any(ex["conv"][9:]):
        return None
    return j


def dwconv_takes_pool(plan, graph):
    """Squeeze-and-excitation: a global average pool (ADAPTIVE_POOL2D avg to 1x1, or an AVGPOOL2D whose
    one window is the whole image) of a DWCONV2D record's output is dropped; the depthwise conv writes
    the per-channel means to the pool's output buffer (out2), summing each output row just after
    computing it (src_c/conv/dwconv.c fn_dwconv2d_mean_nhwc). The output may have other readers (the
    gate's multiply, or the 1x1 conv that took it in, conv_reads_gated). Before, the pool read the
    whole output back: EfficientNet-B0's 144ch 56x56 = 1.8 MB, past L2 (its 17 pools ~0.23 ms of a
    7.5 ms predict, AVX-512, 1 thread). Images under DWCONV_MEAN_MIN_PIXELS keep their pool.
    FASTNORM_DWCONV_MEAN=0 turns it off (read when a plan is built).
    A DWCONV_PW record never qualifies: it is made only when the 1x1 conv alone reads the depthwise
    output, and an SE block's is also read by its pool."""
    if os.environ.get("FASTNORM_DWCONV_MEAN", "1") == "0":
        return
    uses = _Uses(plan)
    doomed = set()
    for i, r in enumerate(plan.records):
        if not _global_avg_pool(r):
            continue
        src, dst = r["in"], r["out"]
        writers = uses.writers.get(src, [])
        if len(writers) != 1 or writers[0] > i or uses.writers.get(dst, []) != [i]:
            continue
        j = writers[0]
        q = plan.records[j]
        if (q["type"] != _C.OP_DWCONV2D or q.get("out2", -1) >= 0 or q["out"] != src
                or q["oh"] * q["ow"] < DWCONV_MEAN_MIN_PIXELS
                or dst in (q["in"], q.get("in2", -1))
                or (q["n"], q["oh"], q["ow"], q["c"]) != (r["n"], r["h"], r["w"], r["c"])):
            continue
        q["out2"] = dst
        plan.absorbed_into.setdefault(plan.node_of_record[j], []).append(plan.node_of_record[i])
        doomed.add(i)
        uses.writers[dst] = [j]
    _drop(plan, doomed)


def dwconv_takes_expand(plan, graph):
    """A DWCONV2D record (no residual, no post) whose input is a 1x1 stride-1 CONV2D's output that
    nothing else reads, at least DW_EXPAND_MIN_BYTES of it and DW_EXPAND_MIN_RATIO times the conv's
    input channels, takes that conv in as its expand conv
    (conv_ex, act_ex, weights_ex) and reads the conv's input: the C side (src_c/conv/dwpw.c
    fn_dwconv_pw_mean_nhwc) makes the expanded rows a band at a time in per-thread scratch and the
    depthwise rows from them, with the SE pool's means (out2, dwconv_takes_pool) as before. This is
    fuse_dwpw_expand for the depthwise convs whose output a 1x1 conv does not alone read
    (EfficientNet's squeeze-and-excitation blocks: 16->96 at 112x112, 4.8 MB expanded, written and
    read back from L3 between the records). Results are bit-identical to the two records.
    FASTNORM_DW_EXPAND=0 turns it off (read when a plan is built)."""
    if os.environ.get("FASTNORM_DW_EXPAND", "1") == "0":
        return
    uses = _Uses(plan)
    doomed = set()
    for i, r in enumerate(plan.records):
        if (r["type"] != _C.OP_DWCONV2D or r.get("weights_ex") is not None or r.get("in2", -1) >= 0
                or r.get("post") is not None or r.get("res_late")
                or r["n"] * r["h"] * r["w"] * r["c"] * 4 < DW_EXPAND_MIN_BYTES):
            continue
        j = _expand_conv(plan, uses, i)
        if j is None:
            continue
        ex = plan.records[j]
        if (ex.get("gate", -1) >= 0 or ex.get("weights2") is not None or ex.get("xoff") or ex.get("yoff")
                or ex.get("ldy") or ex["in"] in (r["out"], r.get("out2", -1))
                or ex["conv"][1] < DW_EXPAND_MIN_RATIO * ex["conv"][0]):
            continue
        _take_expand(plan, uses, i, j, doomed)
    _drop(plan, doomed)


def _global_avg_pool(r):
    """r averages each channel of an NHWC image over the whole image (an (n, 1, 1, c) output)."""
    if r["type"] == _C.OP_ADAPTIVE_POOL2D:
        return r.get("kind") == _C.POOL_KINDS["avg"] and (r["oh"], r["ow"]) == (1, 1) and r["h"] * r["w"] > 0
    if r["type"] != _C.OP_AVGPOOL2D or (r["oh"], r["ow"]) != (1, 1) or r["h"] * r["w"] == 0:
        return False
    kh, kw, sh, sw, pt, pl, pb, pr, count_pad, div = r["avg"]
    # one window, the image itself, no padding: sum / (h * w) (count_include_pad does not matter)
    return (kh, kw, pt, pl, pb, pr, div) == (r["h"], r["w"], 0, 0, 0, 0, 0)


def conv_reads_gated(plan, graph):
    """Squeeze-and-excitation: a BINARY multiply of an NHWC image by an (n, 1, 1, c) gate whose only
    reader is a 1x1 CONV2D (groups 1, whole image, not windowed) is dropped; the conv reads the image
    and multiplies each row by the gate as it copies the tile, or on large images scales a copy of its
    weights by each sample's gate (field gate, src_c/conv/conv2d.c). The image is then read once, by
    the conv, instead of read and written by the multiply and read again."""
    uses = _Uses(plan)
    doomed = set()
    for i, r in enumerate(plan.records):
        if r["type"] != _C.OP_BINARY or r.get("kind") != _C.BIN_MUL or r.get("act", (0,))[0] != 0:
            continue
        shape, sa, sb = r["binary"]
        if len(shape) != 4:
            continue
        n, h, w, c = shape
        image, gate = (h * w * c, w * c, c, 1), (c, 0, 0, 1)
        if (tuple(sa), tuple(sb)) == (image, gate):
            xb, gb = r["in"], r["in2"]
        elif (tuple(sa), tuple(sb)) == (gate, image):
            xb, gb = r["in2"], r["in"]
        else:
            continue
        if h * w == 1 or xb == gb:
            continue
        j = _sole_1x1_reader(plan, uses, i)
        if j is None:
            continue
        q = plan.records[j]
        if (tuple(q[k] for k in ("n", "h", "w", "oh", "ow", "c")) == (n * h * w, 1, 1, 1, 1, c)
                and q.get("yoff", 0) == 0):
            # a linear over the rows of an (n, h, w, c) tensor (ConvNeXt-V2's GRN gate before pwconv2):
            # the same rows as a 1x1 conv over n images, whose samples the gate tells apart
            q.update(n=n, h=h, w=w, oh=h, ow=w)
        if tuple(q[k] for k in ("n", "h", "w", "c")) != (n, h, w, c):
            continue
        plan.records[j]["in"], plan.records[j]["gate"] = xb, gb
        _absorb(plan, j, i, doomed)
    _drop(plan, doomed)


def _sole_1x1_reader(plan, uses, i):
    """The index of the 1x1 CONV2D (groups 1, whole image, not windowed, no gate, no pre-activation)
    that is the only reader of record i's output, as its input, or None."""
    out = plan.records[i]["out"]
    readers, writers = uses.of(out)
    if plan.buf_external[out] is not None or len(readers) != 1 or writers != [i]:
        return None
    q = plan.records[readers[0]]
    if (q["type"] != _C.OP_CONV2D or q["in"] != out or q.get("in2", -1) == out or q.get("gate", -1) >= 0
            or q.get("weights2") is not None or q.get("xoff") or q.get("ldx")
            or tuple(q["conv"][2:5]) != (1, 1, 1)):
        return None
    return readers[0]


def _absorb(plan, j, i, doomed):
    """Record j took record i's work: i goes, and j's node is named after i's too."""
    plan.absorbed_into.setdefault(plan.node_of_record[j], []).insert(0, plan.node_of_record[i])
    doomed.add(i)


def conv_reads_preact(plan, graph):
    """Pre-activation (DenseNet's BN -> ReLU -> 1x1 conv): an NHWC SCALE_SHIFT record (eval batch_norm,
    its act none or a clamp) whose only reader is a 1x1 CONV2D (groups 1, no padding, whole image, not
    windowed, no gate) is dropped; the conv reads the BN's input and applies the scale, shift and clamp
    as its driver copies a tile's rows (weights2 = scale then shift, act2 the clamp; src_c/conv/conv2d.c).
    The image is then read once, by the conv, instead of read and written by the BN and read again."""
    uses = _Uses(plan)
    doomed = set()
    for i, r in enumerate(plan.records):
        if r["type"] != _C.OP_SCALE_SHIFT or r.get("inner") != 1 or r.get("act", (0,))[0] > 1:
            continue
        j = _sole_1x1_reader(plan, uses, i)
        q = plan.records[j] if j is not None else None
        if q is None or any(q["conv"][9:]) or q["conv"][0] != r["c"] or q["n"] * q["h"] * q["w"] != r["outer"]:
            continue   # padding would show the BN of the zero row; the shapes must agree
        q["in"] = r["in"]
        q["weights2"] = np.concatenate([r["weights"], r["weights2"]]).astype(np.float32)
        q["act2"] = r.get("act", (0, 0.0, 0.0))
        _absorb(plan, j, i, doomed)
    _drop(plan, doomed)


def _post_on():
    return os.environ.get("FASTNORM_CONV_POST", "1") != "0"


def conv_takes_post(plan, graph):
    """An eval BatchNorm after a conv's activation (ConvMixer: conv -> GELU -> BN, which cannot fold
    into the conv's weights): an NHWC SCALE_SHIFT record (no act of its own) whose input is the output
    of a CONV2D or DWCONV2D record that only it reads is dropped; the conv applies the scale and shift
    to each output tile after its activation, while the tile is in L1 (field post, 2 x cout floats,
    src_c/fastnorm.h fn_post). The output is written once instead of written, read and written again.
    An add after it then becomes the conv's late residual (conv_takes_residual_add).
    FASTNORM_CONV_POST=0 turns both off (read when a plan is built)."""
    if not _post_on():
        return
    uses = _Uses(plan)
    doomed = set()
    for i, r in enumerate(plan.records):
        if r["type"] != _C.OP_SCALE_SHIFT or r.get("inner") != 1 or r.get("act", (0,))[0] != 0:
            continue
        readers, writers = uses.of(r["in"])
        if readers != [i] or len(writers) != 1 or writers[0] > i or plan.buf_external[r["in"]] is not None:
            continue
        j = writers[0]
        q = plan.records[j]
        if (q["type"] not in (_C.OP_CONV2D, _C.OP_DWCONV2D) or q.get("post") is not None or q.get("res_late")
                or q.get("out2", -1) >= 0 or q.get("ldy") or q.get("yoff") or q["out"] != r["in"]):
            continue
        cout = q["conv"][1]
        if cout != r["c"] or q["n"] * q["oh"] * q["ow"] != r["outer"]:
            continue
        q["post"] = np.concatenate([r["weights"], r["weights2"]]).astype(np.float32)
        q["out"] = r["out"]
        plan.absorbed_into.setdefault(plan.node_of_record[j], []).append(plan.node_of_record[i])
        doomed.add(i)
        uses.writers[r["out"]] = [j]
        uses.readers[r["in"]] = uses.writers[r["in"]] = []
    _drop(plan, doomed)


def conv_takes_residual_add(plan, graph):
    """A BINARY add of two dense operands of one shape, one of them the output of a CONV2D record
    (no residual, no activation, whole rows) that only the add reads, is dropped: the conv adds the
    other operand as its residual (in2) in its epilogue and writes the sum (and the add's activation).
    The graph pass fuse_residual_add does this for conv2d nodes; this also reaches a linear whose
    output comes to the add through a free layout change (ConvNeXt: fc2 -> permute -> s + x). The
    other operand must be complete when the conv runs: none of its writers comes after the conv.
    A conv that already applies an activation or a post (conv_takes_post), CONV2D or DWCONV2D, takes
    the add (with no act of its own) as a late residual instead (res_late: added after them)."""
    uses = _Uses(plan)
    doomed = set()
    post_on = _post_on()
    for i, r in enumerate(plan.records):
        if (r["type"] != _C.OP_BINARY or r.get("kind") != _C.BIN_ADD or r.get("xoff") or r.get("x2off")
                or r["in"] == r["in2"]):
            continue
        shape, sa, sb = r["binary"]
        dense = tuple(math.prod(shape[d + 1:]) for d in range(len(shape)))
        if tuple(sa) != dense or tuple(sb) != dense:
            continue
        for y, res in ((r["in"], r["in2"]), (r["in2"], r["in"])):
            readers, writers = uses.of(y)
            if readers != [i] or len(writers) != 1 or plan.buf_external[y] is not None:
                continue
            j = writers[0]
            q = plan.records[j]
            late = q.get("act", (0,))[0] != 0 or q.get("post") is not None
            if late and not post_on:
                continue
            if (q["type"] not in ((_C.OP_CONV2D, _C.OP_DWCONV2D) if late else (_C.OP_CONV2D,))
                    or q.get("in2", -1) >= 0 or q.get("ldy") or q.get("yoff") or q.get("out2", -1) >= 0
                    or q.get("weights_ex") is not None
                    or (late and (r.get("act", (0,))[0] != 0 or r["out"] in (res, q["in"])))
                    or any(w > j for w in uses.writers.get(res, []))
                    or q["n"] * q["oh"] * q["ow"] * q["conv"][1] != math.prod(shape)):
                continue
            if late:
                q.update({"in2": res, "out": r["out"], "res_late": 1})
            else:
                q.update({"in2": res, "out": r["out"], "act": r.get("act", (0, 0.0, 0.0))})
            plan.absorbed_into.setdefault(plan.node_of_record[j], []).append(plan.node_of_record[i])
            doomed.add(i)
            uses.readers[res] = sorted(set(uses.readers.get(res, [])) - {i} | {j})
            uses.writers[r["out"]] = [j]
            uses.readers[y] = uses.writers[y] = []
            break
    _drop(plan, doomed)


def conv_first_reads_nchw(plan, graph):
    """A model input's NCHW->NHWC record whose every reader is a CONV_FIRST record reading it as an
    NHWC image is dropped: they read the NCHW input as it is (their kernel copies it to a padded planar buffer either way).
    So is one that nothing reads (a patch embedding's gather reads the NCHW input: lower_conv._lower_patchify)."""
    uses = _Uses(plan)   # a model input's conversion reads an external buffer no other conversion writes
    doomed = set()
    for t, r in enumerate(plan.records):
        ext = plan.buf_external[r["in"]] if r["type"] == _C.OP_NCHW_TO_NHWC else None
        if ext is None or ext[0] != "input":
            continue
        readers = uses.of(r["out"])[0]
        if any(not _reads_nhwc_image(plan.records[k], r["out"]) for k in readers):
            continue
        if any((plan.records[k]["n"], plan.records[k]["h"], plan.records[k]["w"]) != (r["n"], r["h"], r["w"])
               for k in readers):
            continue   # a conversion of other extents (a video's frames: (n, c, t*h*w) rows) stays
        for k in readers:
            plan.records[k]["in"], plan.records[k]["kind"] = r["in"], 0
        doomed.add(t)
    _drop(plan, doomed)


def _reads_nhwc_image(rec, buf):
    """rec is a CONV_FIRST record that reads buf, as an NHWC image (kind 1), and only as its input."""
    return (rec["type"] == _C.OP_CONV_FIRST and rec["in"] == buf and rec.get("kind") == 1
            and rec.get("in2") != buf)


def retarget_output_copies(plan, graph):
    """A trailing COPY from a buffer only that copy reads: let the producer write the output."""
    uses = _Uses(plan)   # a retarget changes the uses of two buffers no later COPY can qualify with
    doomed = set()
    for i, r in enumerate(plan.records):
        if r["type"] == _C.OP_COPY and plan.buf_external[r["out"]] is not None:
            src = r["in"]
            readers, writers = uses.of(src)
            if (readers == [i] and len(writers) == 1 and plan.buf_external[src] is None
                    and plan.records[writers[0]]["type"] != _C.OP_COPY):
                plan.records[writers[0]]["out"] = r["out"]
                doomed.add(i)
    _drop(plan, doomed)


CAT_MAX_INPUTS = 256  # fastnorm/_bind/plan.pxi refuses a cat record of more


def _cat_parts(rec):
    """(ins, inner) of an NHWC channel CAT record that reads whole images (no windows), else None."""
    if rec["type"] != _C.OP_CAT or len(rec["cat"]) == 4 and list(rec["cat"][3]) != list(rec["cat"][1]):
        return None
    ins, inner = list(rec["cat"][0]), list(rec["cat"][1])
    return (ins, inner) if min(ins) >= 0 else None


def cat_chain_in_one_buffer(plan, graph):
    """A chain of channel concats that each extend the one before (DenseNet's dense block: layer j
    reads cat(x0, y1, ..., yj), or x = cat(x, y) layer by layer; the block's output is the last)
    shares the last one's buffer F: each earlier concat is F's first channels, read in place by its
    convs (xoff 0, ldx: F's channels), and each input is copied into F once, by a CAT record left
    where the first concat that reads it was. conv_writes_cat_block then has the convs that produce
    the inputs write their block of F directly. Before, layer j copied all of x0, y1, ..., yj again:
    DenseNet-121's third block (24 layers) moved 15x the data, and its concats took ~8% of a predict
    (2.4 of 31 ms, AVX-512, 1 thread). A concat read by anything but a CONV2D's generic path (as its
    whole input, not already a window) or a later concat of its chain is left as it was; its inputs
    then keep their buffers (conv_writes_cat_block needs a sole reader)."""
    uses = _Uses(plan)
    cats = {}
    for i, r in enumerate(plan.records):
        parts = _cat_parts(r)
        if parts is not None and plan.buf_external[r["out"]] is None:
            cats[i] = parts
    if len(cats) < 2:
        return
    order = sorted(cats)
    # x = cat(x, y): an input another whole-image CAT wrote is read as that CAT's own inputs
    flat = {}
    for i in order:
        ins, inner = [], []
        for b, c in zip(*cats[i]):
            w = uses.writers.get(b, [])
            if (len(w) == 1 and w[0] in flat and plan.records[w[0]]["outer"] == plan.records[i]["outer"]):
                ins += flat[w[0]][0]
                inner += flat[w[0]][1]
            else:
                ins.append(b)
                inner.append(c)
        # a CAT record takes at most CAT_MAX_INPUTS inputs (the plan binder): past that, unflattened
        flat[i] = (ins, inner) if len(ins) <= CAT_MAX_INPUTS else cats[i]
    chains, taken = {}, set()
    for f in reversed(order):
        if f in taken:
            continue
        fins, finner = flat[f]
        members = []
        for i in order:
            ins, inner = flat[i]
            if (i < f and i not in taken and len(ins) < len(fins) and ins == fins[:len(ins)]
                    and inner == finner[:len(inner)] and plan.records[i]["outer"] == plan.records[f]["outer"]
                    and (not members or len(ins) > len(flat[members[-1]][0]))):
                members.append(i)
        while members:   # every reader of a member: a windowable conv or a CAT of the chain
            chain = set(members) | {f}
            ok = [i for i in members if _chain_readers_ok(plan, uses, i, chain)]
            if ok == members:
                break
            members = ok
        if members:
            chains[f] = members
            taken.update(members)
            taken.add(f)
    for f, members in chains.items():
        F = plan.records[f]
        fins, finner = flat[f]
        row, done = sum(finner), 0
        for i in members + [f]:
            r = plan.records[i]
            n_in = len(flat[i][0])
            if i != f:
                for q in uses.readers.get(r["out"], []):
                    if plan.records[q]["type"] == _C.OP_CONV2D:
                        plan.records[q].update({"in": F["out"], "xoff": 0, "ldx": row})
            ins = [b if done <= j < n_in else -1 for j, b in enumerate(fins)]
            left = [b for b in ins if b >= 0]
            r.update({"out": F["out"], "cat": (ins, list(finner)), "in": left[0] if left else -1})
            done = n_in
    _drop(plan, {i for f, members in chains.items() for i in members + [f]
                 if all(b < 0 for b in plan.records[i]["cat"][0])})


def _chain_readers_ok(plan, uses, i, chain):
    """Whether every reader of CAT record i's output is a concat of its chain or a CONV2D that reads
    it as its whole input on the generic path (which can read a window of a wider buffer)."""
    out = plan.records[i]["out"]
    readers, writers = uses.of(out)
    if writers != [i]:
        return False
    for q in readers:
        c = plan.records[q]
        if q in chain:
            continue
        if (c["type"] != _C.OP_CONV2D or c["in"] != out or c.get("in2", -1) == out
                or c.get("gate", -1) == out or c.get("xoff") or c.get("ldx")):
            return False
    return True


def conv_writes_cat_block(plan, graph):
    """A CONV2D or WINOGRAD3X3 record whose output only a channel concat (NHWC CAT record) reads writes
    its block of the concat's buffer in place (yoff: its first channel, ldy: the concat's channels); the
    CAT record copies only the other inputs (ins[j] = -1), and goes when none is left."""
    doomed = set()
    uses = _Uses(plan)  # built before any record changes: the conv outputs moved below are never asked for
    for i, r in enumerate(plan.records):
        if r["type"] != _C.OP_CAT or plan.buf_external[r["out"]] is not None:
            continue
        ins, inner = list(r["cat"][0]), list(r["cat"][1])
        lds = list(r["cat"][3]) if len(r["cat"]) == 4 else inner   # a window read in place: lds[j] > c
        row, off = sum(inner), 0
        for j, (b, c) in enumerate(zip(ins, inner)):
            w = uses.writers.get(b, [])
            if (b >= 0 and ins.count(b) == 1 and lds[j] == c and len(w) == 1 and w[0] < i
                    and plan.buf_external[b] is None
                    and uses.readers.get(b, []) == [i]):
                conv = plan.records[w[0]]
                if (conv["type"] in CONV_RECORDS and not conv.get("ldy")
                        and conv["conv"][1] == c
                        and conv["n"] * conv["oh"] * conv["ow"] == r["outer"] and conv.get("in2", -1) != b):
                    conv.update(out=r["out"], yoff=off, ldy=row)
                    ins[j] = -1
            off += c
        left = [b for b in ins if b >= 0]
        if not left:
            doomed.add(i)
        else:
            r["cat"] = (ins, inner) + tuple(r["cat"][2:])
            r["in"] = left[0]
    _drop(plan, doomed)


def residual_in_place(plan, graph):
    """A conv record whose fused residual is that buffer's last read writes its output over it.

    The kernels read each residual element before writing the same output element, so this is
    exact; it saves the fresh output buffer's write-allocate traffic (a ResNet bottleneck's
    64->256 1x1 at 56x56 reads 3.2 MB of residual and writes 3.2 MB of output).
    FASTNORM_RESIDUAL_IN_PLACE=0 turns it off (read when a plan is built; bench/bench_ab.py)."""
    if os.environ.get("FASTNORM_RESIDUAL_IN_PLACE", "1") == "0":
        return
    last = {}
    for i, r in enumerate(plan.records):
        for b in buffers_of(r):
            last[b] = i
    # One walk: a record that takes its residual's buffer renames its output to it in itself and every
    # later record; `alias` holds those renames, applied to each record as the walk reaches it.
    alias = {}

    def resolve(b):
        chain = []
        while b in alias:
            chain.append(b)
            b = alias[b]
        for a in chain[:-1]:
            alias[a] = b            # path compression: chains stay short
        return b

    for i, r in enumerate(plan.records):
        if alias:
            _rename(r, resolve)
        res, out = r.get("in2", -1), r.get("out", -1)
        if (r["type"] not in RESIDUAL_IN_PLACE or res is None or res < 0 or res == r["in"] or res == out
                or r.get("ldy") or r.get("res_late")
                or plan.buf_external[res] is not None or plan.buf_external[out] is not None
                or last.get(res) != i or plan.buf_sizes[res] != plan.buf_sizes[out]):
            continue
        alias[out] = res
        _rename(r, resolve)
        last[res] = last.get(out, i)


def _rename(rec, resolve):
    for key in ("in", "in2", "out", "gate", "out2"):
        b = rec.get(key)
        if b is not None and b >= 0:
            rec[key] = resolve(b)
    if "cat" in rec:
        parts = [resolve(b) for b in rec["cat"][0]]
        if parts != list(rec["cat"][0]):
            rec["cat"] = (parts,) + tuple(rec["cat"][1:])


PASSES = (fuse_dwpw_expand, split_plain_dwpw, conv_takes_post, dwconv_takes_pool, dwconv_takes_expand, conv_reads_gated, conv_reads_preact, conv_takes_residual_add, conv_first_reads_nchw,
          retarget_output_copies, cat_chain_in_one_buffer, conv_writes_cat_block, residual_in_place)


def run(plan, graph):
    for rewrite in PASSES:
        rewrite(plan, graph)
