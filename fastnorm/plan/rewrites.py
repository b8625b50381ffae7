"""Record rewrites: passes over a lowered plan's record list, run in PASSES order before memory
planning. Each takes the plan (records, node_of_record, buffer table) and the graph it came from,
and rewrites the list in place; lowering itself never edits a record it already emitted.
"""
import os

from fastnorm import _C

# Also fuse the 1x1 expand conv before a DWCONV_PW record's depthwise conv when its output is at least
# this big: each band then recomputes a halo of (kh - 1) expanded rows, which only pays when the
# expanded tensor would otherwise go to DRAM and back (MobileNetV2 at batch 16: 10-80 MB per block).
DWPW_EXPAND_MIN_BYTES = 4 << 20
# Records whose kernels read each residual element before writing that output element: they may write
# their output over a residual nothing reads afterwards (set to () to turn residual_in_place off).
RESIDUAL_IN_PLACE = (_C.OP_CONV2D, _C.OP_WINOGRAD3X3, _C.OP_DWCONV2D, _C.OP_DWCONV_PW)


def buffers_of(rec):
    """Every buffer a record reads or writes."""
    bufs = [rec.get(k, -1) for k in ("in", "in2", "out")]
    if "cat" in rec:
        bufs += list(rec["cat"][0])
    return [b for b in bufs if b is not None and b >= 0]


def _readers(plan, buf):
    """Indices of the records that read buffer buf."""
    return [j for j, q in enumerate(plan.records) if buf in buffers_of(q) and q.get("out") != buf]


def _writers(plan, buf):
    return [j for j, q in enumerate(plan.records) if q.get("out") == buf]


def _drop(plan, doomed):
    keep = [i for i in range(len(plan.records)) if i not in doomed]
    plan.records = [plan.records[i] for i in keep]
    plan.node_of_record = [plan.node_of_record[i] for i in keep]


def fuse_dwpw_expand(plan, graph):
    """A DWCONV_PW record whose depthwise input is a 1x1 CONV2D's output that nothing else reads takes
    that conv in as its expand conv (conv_ex, act_ex, weights_ex) and reads the conv's input."""
    i = 0
    while i < len(plan.records):
        r = plan.records[i]
        j = None
        if (r["type"] == _C.OP_DWCONV_PW and r.get("weights_ex") is None
                and r["n"] * r["h"] * r["w"] * r["c"] * 4 >= DWPW_EXPAND_MIN_BYTES):
            j = _expand_conv(plan, i)
        if j is not None:
            ex = plan.records[j]
            r["in"] = ex["in"]
            r.update(conv_ex=ex["conv"], act_ex=ex["act"], weights_ex=ex["weights"])
            plan.absorbed_into.setdefault(plan.node_of_record[i], []).insert(0, plan.node_of_record[j])
            _drop(plan, {j})
            i -= 1
        i += 1


def _expand_conv(plan, i):
    """The index of the 1x1 stride-1 CONV2D record (no residual, no padding) that alone feeds record
    i's input with its c channels, if any."""
    r = plan.records[i]
    b = r["in"]
    writers = _writers(plan, b)
    if (len(writers) != 1 or writers[0] > i or plan.buf_external[b] is not None
            or _readers(plan, b) != [i] or r.get("in2") == b):
        return None
    j = writers[0]
    ex = plan.records[j]
    if (ex["type"] != _C.OP_CONV2D or ex.get("in2", -1) >= 0 or plan.node_of_record[j] is None
            or ex.get("ldx")):  # a conv reading a channel window keeps its input
        return None
    cin, cout, groups, kh, kw, sh, sw = ex["conv"][:7]
    if (cout, groups, kh, kw, sh, sw) != (r["c"], 1, 1, 1, 1, 1) or any(ex["conv"][9:]):
        return None
    return j


def conv_first_reads_nchw(plan, graph):
    """A model input's NCHW->NHWC record whose every reader is a CONV_FIRST record reading it as an
    NHWC image is dropped: they read the NCHW input as it is (their kernel copies it to a padded planar buffer either way)."""
    doomed = set()
    for t, r in enumerate(plan.records):
        ext = plan.buf_external[r["in"]] if r["type"] == _C.OP_NCHW_TO_NHWC else None
        if ext is None or ext[0] != "input":
            continue
        readers = _readers(plan, r["out"])
        if not readers or any(not _reads_nhwc_image(plan.records[k], r["out"]) for k in readers):
            continue
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
    doomed = set()
    for i, r in enumerate(plan.records):
        if r["type"] == _C.OP_COPY and plan.buf_external[r["out"]] is not None:
            src = r["in"]
            writers = _writers(plan, src)
            if (_readers(plan, src) == [i] and len(writers) == 1 and plan.buf_external[src] is None
                    and plan.records[writers[0]]["type"] != _C.OP_COPY):
                plan.records[writers[0]]["out"] = r["out"]
                doomed.add(i)
    _drop(plan, doomed)


def conv_writes_cat_block(plan, graph):
    """A CONV2D record whose output only a channel concat (NHWC CAT record) reads writes its block of the
    concat's buffer in place (yoff: its first channel, ldy: the concat's channels); the CAT record copies
    only the other inputs (ins[j] = -1), and goes when none is left."""
    doomed = set()
    for i, r in enumerate(plan.records):
        if r["type"] != _C.OP_CAT or plan.buf_external[r["out"]] is not None:
            continue
        ins, inner = list(r["cat"][0]), list(r["cat"][1])
        row, off = sum(inner), 0
        for j, (b, c) in enumerate(zip(ins, inner)):
            w = _writers(plan, b)
            if (b >= 0 and ins.count(b) == 1 and len(w) == 1 and w[0] < i and plan.buf_external[b] is None
                    and _readers(plan, b) == [i]):
                conv = plan.records[w[0]]
                if (conv["type"] == _C.OP_CONV2D and not conv.get("ldy") and conv["conv"][1] == c
                        and conv["n"] * conv["oh"] * conv["ow"] == r["outer"] and conv.get("in2", -1) != b):
                    conv.update(out=r["out"], yoff=off, ldy=row)
                    ins[j] = -1
            off += c
        left = [b for b in ins if b >= 0]
        if not left:
            doomed.add(i)
        else:
            r["cat"] = (ins, inner)
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
    for i, r in enumerate(plan.records):
        res, out = r.get("in2", -1), r.get("out", -1)
        if (r["type"] not in RESIDUAL_IN_PLACE or res is None or res < 0 or res == r["in"] or r.get("ldy")
                or plan.buf_external[res] is not None or plan.buf_external[out] is not None
                or last.get(res) != i or plan.buf_sizes[res] != plan.buf_sizes[out]):
            continue
        for q in plan.records[i:]:
            for key in ("in", "in2", "out"):
                if q.get(key) == out:
                    q[key] = res
            if "cat" in q and out in q["cat"][0]:
                q["cat"] = ([res if b == out else b for b in q["cat"][0]],) + tuple(q["cat"][1:])
        last[res] = last.get(out, i)


PASSES = (fuse_dwpw_expand, conv_first_reads_nchw, retarget_output_copies, conv_writes_cat_block,
          residual_in_place)


def run(plan, graph):
    for rewrite in PASSES:
        rewrite(plan, graph)
