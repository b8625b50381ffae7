"""Parallel conv branches on one input, summed, as one conv: the training-time blocks of RepVGG, MobileOne,
ACNet and their kin, exported without their re-parameterization (y = conv3x3(x) + conv1x1(x) + bn(x), each
conv with its BN folded in by fold_batchnorm).

Convolution is linear in its weights, so sum_i conv(x; W_i, b_i) = conv(x; sum_i W_i', sum_i b_i), where
W_i' is W_i centred in the largest kernel: branch i's kernel sits at rows T - t_i .. of the merged one (T,
t_i the top paddings), which must leave it inside with the bottom padding in step (a 1x1 conv padded 0
beside a 3x3 padded 1). A BatchNorm of x itself (the identity branch of RepVGG / MobileOne) is a conv
whose kernel holds gamma / sqrt(var + eps) at the tap that reads the output's own pixel, with
beta - mean * scale as its bias. That needs stride 1 and as many output as input channels (each output
channel then reads its own input channel, in its group). x itself among the addends stays one: the
residual epilogue adds it exactly.

The merged weights are summed in float64 and rounded once to float32: the answer moves by float32
rounding (the branches' sum was rounded per branch before), within the model bound. A merge applies to
an add tree (adds without an activation, each read only by the next) whose leaves are such branches of
one x, read only by the tree; at most one other leaf stays, added to the merged conv's output.
FASTNORM_MERGE_BRANCHES=0 turns the pass off (read when a model is optimized).
"""
import os

import numpy as np


def merge_branches(graph, shapes, _copy=True):
    """graph with parallel conv branches merged (module doc); shapes: the graph's value shapes at batch 1
    (entries for the merged convs' new values are added). Run after fold_batchnorm, before the residual
    and activation fusions."""
    g = graph.copy() if _copy else graph
    if os.environ.get("FASTNORM_MERGE_BRANCHES", "1") == "0":
        return g
    producers = g.producers()
    consumers = g.consumers()
    outputs = {t.name for t in g.outputs}
    removed = set()
    report = {r["bn"]: r for r in getattr(g, "fold_report", None) or []}

    def single(v):
        return v not in outputs and len(consumers.get(v, [])) == 1

    def inner_add(v):
        p = producers.get(v)
        return (p is not None and p.op == "add" and not p.attrs and len(p.inputs) == 2 and single(v)
                and shapes.get(v) == shapes.get(p.outputs[0]))

    for root in list(g.nodes):
        if root.op != "add" or root.attrs or len(root.inputs) != 2 or root.name in removed:
            continue
        out = root.outputs[0]
        if inner_add(out) and consumers[out][0].op == "add" and consumers[out][0].name not in removed:
            continue     # inside a larger tree: its root merges it
        tree, leaves = _tree(root, producers, inner_add)
        merged = _merge_tree(g, shapes, root, tree, leaves, producers, single, report)
        if merged:
            removed.update(merged)
    if removed:
        g.nodes = [n for n in g.nodes if n.name not in removed]
        used = {v for n in g.nodes for v in n.inputs}
        for k in [k for k in g.weights if k not in used]:
            del g.weights[k]
    return g


def _tree(root, producers, inner_add):
    """(the add nodes of the tree under root, its leaf values)."""
    tree, leaves, todo = [], [], [root]
    while todo:
        n = todo.pop()
        tree.append(n)
        for v in n.inputs:
            if inner_add(v):
                todo.append(producers[v])
            else:
                leaves.append(v)
    return tree, leaves


def _branch(g, shapes, v, producers, single):
    """(kind, x, node) of leaf v: ("conv", x, conv2d) / ("bn", x, batch_norm) read only by the tree, or
    ("other", v, None). x itself among the leaves stays an addend: the residual epilogue adds it exactly,
    where as a centre tap of 1 it would round the conv's own centre weight."""
    p = producers.get(v)
    if p is not None and single(v) and not p.attrs.get("act"):
        if p.op == "conv2d" and not p.attrs.get("residual") and p.inputs[1] in g.weights and \
                tuple(p.attrs.get("dilation", [1, 1])) == (1, 1) and len(p.inputs) <= 3:
            return "conv", p.inputs[0], p
        if p.op == "batch_norm" and not p.attrs.get("batch_stats") and len(shapes.get(p.inputs[0], ())) == 4 \
                and all(w in g.weights for w in p.inputs[1:] if w):
            return "bn", p.inputs[0], p
    return "other", v, None


def _merge_tree(g, shapes, root, tree, leaves, producers, single, report):
    """Merge the branches of one x among leaves into one conv writing the tree's output (or, with one
    other leaf left, a value root adds to it); the names of the nodes it replaced, or None."""
    out = root.outputs[0]
    groups = {}
    for v in leaves:
        kind, x, node = _branch(g, shapes, v, producers, single)
        if shapes.get(v) != shapes.get(out):
            kind, x, node = "other", v, None
        groups.setdefault((x, kind == "other"), []).append((kind, v, node))
    best = None
    for key, members in groups.items():
        convs = [m for m in members if m[0] == "conv"]
        if convs and len(members) >= 2 and (best is None or len(members) > len(groups[best])):
            best = key
    if best is None:
        return None
    members = groups[best]
    rest = [v for key, ms in groups.items() if key != best for _, v, _ in ms]
    best = best[0]
    if len(rest) > 1:
        return None
    plan = _plan(g, shapes, best, members)
    if plan is None:
        return None
    ref, w64, b64 = plan
    if rest and rest[0] in g.weights:
        # a constant added too (a block's `y = 0` start, a per-channel offset): into the bias
        c = _channel_constant(g.weights[rest[0]], b64.shape[0])
        if c is not None:
            b64 = b64 + c
            rest = []
    convs = [node for kind, _, node in members if kind == "conv"]
    w_name, b_name = ref.name + ".merged_weight", ref.name + ".merged_bias"
    g.weights[w_name] = w64.astype(np.float32)
    g.weights[b_name] = b64.astype(np.float32)
    folded = [b for c in convs for b in c.attrs.get("folded", [])]
    for kind, _, node in members:
        if kind == "bn":
            folded.append(node.name)
            r = report.get(node.name)
            if r is not None:
                r.update(into=ref.name, code=None, reason=None, max_abs_error=0.0)
    for r in report.values():
        if r.get("into") in {c.name for c in convs}:
            r["into"] = ref.name
    ref.inputs = [best, w_name, b_name]
    if folded:
        ref.attrs["folded"] = folded
    gone = {n.name for n in tree} | {node.name for kind, _, node in members if node is not None and node is not ref}
    if rest:
        mid = ref.name + "::merged"
        ref.outputs = [mid]
        shapes[mid] = shapes[out]
        root.inputs = [mid, rest[0]]
        gone.discard(root.name)
    else:
        ref.outputs = [out]
    # ref stays where it was: after x, before the tree's readers (and before the kept add)
    producers[ref.outputs[0]] = ref
    return gone


def _plan(g, shapes, x, members):
    """(the conv node that becomes the merged one, merged weight, merged bias), both float64, or None
    when the branches do not line up (module doc)."""
    convs = [node for kind, _, node in members if kind == "conv"]
    stride = tuple(convs[0].attrs.get("stride", [1, 1]))
    groups = int(convs[0].attrs.get("groups", 1))
    cout = g.weights[convs[0].inputs[1]].shape[0]
    cin_g = g.weights[convs[0].inputs[1]].shape[1]
    for c in convs:
        w = g.weights[c.inputs[1]]
        if (tuple(c.attrs.get("stride", [1, 1])) != stride or int(c.attrs.get("groups", 1)) != groups
                or len(w.shape) != 4 or w.shape[0] != cout or w.shape[1] != cin_g):
            return None
    kh = max(g.weights[c.inputs[1]].shape[2] for c in convs)
    kw = max(g.weights[c.inputs[1]].shape[3] for c in convs)
    big = [c for c in convs if g.weights[c.inputs[1]].shape[2:] == (kh, kw)]
    if not big:
        return None
    ref = big[0]
    t, l, b, r = (int(v) for v in ref.attrs.get("padding", [0, 0, 0, 0]))
    w64 = np.zeros((cout, cin_g, kh, kw))
    b64 = np.zeros(cout)
    for c in convs:
        w = g.weights[c.inputs[1]]
        ct, cl, cb, cr = (int(v) for v in c.attrs.get("padding", [0, 0, 0, 0]))
        dt, dl, db, dr = t - ct, l - cl, b - cb, r - cr
        if min(dt, dl, db, dr) < 0 or dt + w.shape[2] + db != kh or dl + w.shape[3] + dr != kw:
            return None
        w64[:, :, dt:dt + w.shape[2], dl:dl + w.shape[3]] += np.asarray(w, np.float64)
        if len(c.inputs) > 2 and c.inputs[2]:
            b64 += np.asarray(g.weights[c.inputs[2]], np.float64)
    others = [(kind, node) for kind, _, node in members if kind != "conv"]
    if others:
        cin = shapes[x][1]
        if stride != (1, 1) or cin != cout or not (0 <= t < kh and 0 <= l < kw) or cin_g * groups != cin:
            return None
        ch = np.arange(cout)
        for kind, node in others:
            scale, shift = _bn_affine(g, node, cout)
            if scale is None:
                return None
            w64[ch, ch % cin_g, t, l] += scale
            b64 += shift
    if not (np.isfinite(w64).all() and np.isfinite(b64).all()):
        return None
    return ref, w64, b64


def _bn_affine(g, bn, c):
    w = g.weights
    mean = np.asarray(w[bn.inputs[1]], np.float64)
    var = np.asarray(w[bn.inputs[2]], np.float64)
    if mean.shape != (c,) or var.shape != (c,):
        return None, None
    gamma = np.asarray(w[bn.inputs[3]], np.float64) if len(bn.inputs) > 3 and bn.inputs[3] else np.ones(c)
    beta = np.asarray(w[bn.inputs[4]], np.float64) if len(bn.inputs) > 4 and bn.inputs[4] else np.zeros(c)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = gamma / np.sqrt(var + float(bn.attrs.get("eps", 1e-5)))
    return s, beta - mean * s


def _channel_constant(w, c):
    """w (a constant added to a (N, c, H, W) value) as c per-channel offsets in float64, or None when it
    varies along another axis."""
    a = np.asarray(w, np.float64)
    if a.size == 1:
        return np.full(c, float(a.reshape(-1)[0]))
    shape = (1,) * (4 - a.ndim) + a.shape if a.ndim <= 4 else None
    if shape is None or shape[0] != 1 or shape[2:] != (1, 1) or shape[1] != c:
        return None
    return a.reshape(c)
