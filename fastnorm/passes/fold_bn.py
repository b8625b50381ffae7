"""Fold eval-mode BatchNorm into the conv2d / conv_transpose2d / linear before it, in float64.

  s  = gamma / sqrt(running_var + eps)
  w' = w * s            (per output channel: dim 0 of a conv2d / linear weight; for a
                         conv_transpose2d (cin, cout/groups, kh, kw), dim 1 within each group)
  b' = (b - mean) * s + beta

A BN folds when its input comes from a conv2d, conv_transpose2d or linear with no fused activation, read by nothing
else and not a graph output. Other BNs stay as standalone scale/shift kernels.

The returned graph carries `fold_report`: one dict per batch_norm node of the input, in graph order,
{"bn", "into" (the node it folded into, or None), "code" and "reason" (why it did not fold, or None),
"max_abs_error"}. max_abs_error is what rounding the folded weights and bias to float32 can change
any output value by, against the float64 fold, for inputs of magnitude <= 1: per output channel,
sum over its fan-in of |w32' - w64'| plus |b32' - b64'| (the largest channel's).
"""
import numpy as np

from fastnorm.graph import batch1_shapes
from fastnorm.passes._merge import Merger
from fastnorm.passes.folded import FoldedWeight, FoldScratch


def _bn_params(graph, bn):
    w = graph.weights
    c = w[bn.inputs[1]].shape[0]
    mean = w[bn.inputs[1]].astype(np.float64)
    var = w[bn.inputs[2]].astype(np.float64)
    gamma = w[bn.inputs[3]].astype(np.float64) if len(bn.inputs) > 3 and bn.inputs[3] else np.ones(c)
    beta = w[bn.inputs[4]].astype(np.float64) if len(bn.inputs) > 4 and bn.inputs[4] else np.zeros(c)
    return mean, var, gamma, beta, float(bn.attrs.get("eps", 1e-5))


def fold_batchnorm(graph, shapes=None, _copy=True, _lazy=False):
    """shapes: infer_shapes(graph) at batch 1, when the caller has it; _copy=False rewrites graph itself
    (fastnorm.passes.optimize, on its own copy). _lazy=True (optimize) leaves a float32 conv2d / linear
    weight's fold as a FoldedWeight (fastnorm.passes.folded): its values are computed when read, and a
    packer reads them from a scratch buffer the graph's folds share, so a model's load writes each weight
    once, packed, instead of folded and then packed."""
    m = Merger(graph, _copy)
    scratch = FoldScratch() if _lazy else None
    pending = []
    g = m.graph
    if shapes is None:
        shapes = batch1_shapes(g)
    report = []
    for bn in g.nodes:
        if bn.op != "batch_norm":
            continue
        if bn.attrs.get("act") or bn.attrs.get("batch_stats"):
            report.append(_kept(m, bn, shapes))
            continue
        prev = m.absorbing_producer(bn, ("conv2d", "linear", "conv_transpose2d", "conv3d"))
        if prev is None or prev.attrs.get("residual") or (
                prev.op == "linear" and len(shapes[bn.inputs[0]]) != 2):
            report.append(_kept(m, bn, shapes))
            continue  # a linear's features are the last dim; BN's channels are dim 1: same only in 2D
        mean, var, gamma, beta, eps = _bn_params(g, bn)
        w = g.weights[prev.inputs[1]]
        cout = _out_channels(prev, w)
        if mean.shape[0] != cout:
            report.append(_kept(m, bn, shapes))
            continue
        with np.errstate(invalid="ignore", divide="ignore"):  # bad statistics: the doctor reports them
            s = gamma / np.sqrt(var + eps)
        b = (g.weights[prev.inputs[2]].astype(np.float64)
             if len(prev.inputs) > 2 and prev.inputs[2] else np.zeros(cout))
        w_name, b_name = prev.inputs[1] + "@" + bn.name, prev.name + ".bias@" + bn.name
        b64 = (b - mean) * s + beta
        g.weights[b_name] = b64.astype(np.float32)
        if prev.op != "conv_transpose2d" and w.dtype == np.float32:
            # output channels are rows: one pass in C (the same bits as the float64 form below)
            fw = FoldedWeight(w, s, scratch if scratch is not None else FoldScratch())
            if scratch is not None:
                g.weights[w_name] = fw
                err = None     # finish_fold_report: from the packer's fold when one ran first
                pending.append((len(report), fw, b64, g.weights[b_name]))
            else:
                g.weights[w_name] = fw.values()      # the fold records the row errors on the way
                err = _max_error(fw.row_errors(), b64, g.weights[b_name])
        else:
            w64 = _scale_out_channels(prev, w.astype(np.float64), s)
            g.weights[w_name] = w64.astype(np.float32)
            err = _fold_error(_out_first(prev, w64), _out_first(prev, g.weights[w_name]), b64, g.weights[b_name])
        report.append({"bn": bn.name, "into": prev.name, "code": None, "reason": None, "max_abs_error": err})
        prev.inputs = [prev.inputs[0], w_name, b_name]
        prev.attrs["folded"] = list(prev.attrs.get("folded", [])) + [bn.name]
        m.absorb(prev, bn)
    g = m.result()
    _drop_unused_weights(g)
    g.fold_report = report
    g.fold_pending = pending
    return g


def finish_fold_report(graph):
    """Fill in the max_abs_error a lazy fold (_lazy=True) left for later: from the row errors the fold
    recorded when a packer first read the weight, or from a pass over it now. Idempotent."""
    pending = getattr(graph, "fold_pending", None)
    if not pending:
        return
    for i, fw, b64, b32 in pending:
        graph.fold_report[i]["max_abs_error"] = _max_error(fw.row_errors(), b64, b32)
    graph.fold_pending = []


def _fold_error(w64, w32, b64, b32, out_axis=0):
    """Largest output change float32 rounding of the folded weights/bias causes, for |input| <= 1.
    Overwrites w64 (no temporary the size of the weights: this runs over every folded weight)."""
    with np.errstate(invalid="ignore"):
        dw = np.subtract(w64, w32, out=w64)
        np.abs(dw, out=dw)
        per_channel = np.moveaxis(dw, out_axis, 0).reshape(dw.shape[out_axis], -1).sum(axis=1)
    return _max_error(per_channel, b64, b32)


def _max_error(per_channel, b64, b32):
    """The largest channel's weight rounding (per_channel) plus its bias rounding."""
    with np.errstate(invalid="ignore"):
        err = per_channel + np.abs(b32.astype(np.float64) - b64)
    return float(np.max(err)) if err.size else 0.0  # NaN for NaN statistics (the doctor reports those)


def _kept(m, bn, shapes):
    """The report entry of a BN that stays a standalone scale/shift: the first reason it cannot fold."""
    code, reason = _why_kept(m, bn, shapes)
    return {"bn": bn.name, "into": None, "code": code, "reason": reason, "max_abs_error": None}


def _why_kept(m, bn, shapes):
    x = bn.inputs[0]
    if bn.attrs.get("batch_stats"):
        return "batch_stats", "uses batch statistics, known only at run time"
    if bn.attrs.get("act"):
        return "bn_act", "already has a fused activation"
    prev = m.producers.get(x)
    if prev is None:
        return "graph_input", "normalises the graph input %r" % x
    if prev.op not in ("conv2d", "linear", "conv_transpose2d", "conv3d"):
        return "not_conv", "follows %s %r, not a conv/linear" % (prev.op, prev.name)
    readers = [n.name for n in m.consumers.get(x, []) if n is not bn]
    if readers:
        return "shared", "the output of %s %r is also read by %s" % (prev.op, prev.name, ", ".join(map(repr, readers)))
    if x in m.outputs:
        return "shared", "the output of %s %r is also a graph output" % (prev.op, prev.name)
    if prev.attrs.get("act"):
        return "producer_act", "%s %r already has a fused activation" % (prev.op, prev.name)
    if prev.attrs.get("residual"):
        return "producer_residual", "%s %r already adds a residual" % (prev.op, prev.name)
    if prev.op == "linear" and len(shapes[x]) != 2:
        return "linear_nd", ("linear %r has a %dD input: its features are the last dim, BN's channels dim 1"
                             % (prev.name, len(shapes[x])))
    if prev.op in ("conv2d", "linear", "conv3d") and bn.inputs[1] and (
            m.graph.weights[bn.inputs[1]].shape[0] != m.graph.weights[prev.inputs[1]].shape[0]):
        return "channels", "its channel count differs from %s %r's outputs" % (prev.op, prev.name)
    return "unsupported", "the pass does not fold into %s %r" % (prev.op, prev.name)


def _drop_unused_weights(g):
    used = {v for n in g.nodes for v in n.inputs}
    g.weights = {k: v for k, v in g.weights.items() if k in used}


def _out_channels(node, w):
    if node.op == "conv_transpose2d":
        return w.shape[1] * node.attrs.get("groups", 1)
    return w.shape[0]


def _scale_out_channels(node, w, s):
    """w times s[o] over each output channel o's weights."""
    if node.op == "conv_transpose2d":
        # w: (cin, cout_g, kh, kw); input channel ci of group ci // cin_g feeds o = g*cout_g + co
        groups = node.attrs.get("groups", 1)
        cin, cout_g = w.shape[:2]
        return (w.reshape(groups, cin // groups, cout_g, *w.shape[2:])
                * s.reshape(groups, 1, cout_g, 1, 1)).reshape(w.shape)
    return w * s.reshape((-1,) + (1,) * (w.ndim - 1))


def _out_first(node, w):
    """w with the output channel as its first axis (a view or a copy)."""
    if node.op == "conv_transpose2d":
        groups = node.attrs.get("groups", 1)
        cin, cout_g = w.shape[:2]
        return w.reshape(groups, cin // groups, cout_g, -1).transpose(0, 2, 1, 3).reshape(groups * cout_g, -1)
    return w
