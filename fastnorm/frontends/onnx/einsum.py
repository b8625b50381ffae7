"""Handler: Einsum, for the equations that are a permute or a matrix product in disguise.

One operand: a permute ("ij->ji", "nchw->nhwc"). Two operands: every index is a batch index (in both
operands and the output), a contracted one (in both, not the output) or a free one (in one operand and
the output); the operands are permuted to (batch, free, contracted) / (batch, contracted, free), their
groups merged by reshapes, multiplied by the IR's matmul (two activations) or linear (an activation by
a constant, whose batch indices must then be absent), and the result reshaped and permuted to the
output's order. Diagonals (an index twice in one operand), sums over an index of one operand, and three
or more operands are refused by name.

Equations follow ONNX (and numpy): letters a-z and A-Z, spaces ignored, at most one "..." per term
standing for the dims its operand has beyond its letters (right-aligned across operands, a dim of 1
broadcast); without "->" the output is the "..." dims, then the letters that occur once, in ASCII order.
"""
import math
from collections import Counter

import numpy as np

from fastnorm.frontends.onnx._base import (BATCH, BatchDep, Malformed, Unsupported, attr_str, emit_permute,
    emit_reshape)
from fastnorm.frontends.onnx.shape import op_transpose

_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
MAX_EQUATION = 1024     # characters: an equation is a few dozen; a longer one is a hostile file's


def _split_term(eq, term):
    """(letters before '...', whether it has '...', letters after)."""
    head, dots, tail = term.partition("...")
    if "..." in tail:
        raise Malformed("equation %r: term %r has more than one '...'" % (eq, term))
    for ch in head + tail:
        if ch not in _LETTERS:
            raise Malformed("equation %r: %r is not an index letter (a-z, A-Z)" % (eq, ch))
    return list(head), bool(dots), list(tail)


def parse_equation(eq, ranks):
    """(terms, output): one list of labels per operand of the given ranks, and the output's. A label is a
    letter, or ('...', i) for the i-th of the broadcast dims the ellipses stand for."""
    if len(eq) > MAX_EQUATION:
        raise Malformed("equation of %d characters (at most %d)" % (len(eq), MAX_EQUATION))
    s = eq.replace(" ", "")
    lhs, arrow, rhs = s.partition("->")
    if "->" in rhs or "-" in lhs + rhs or ">" in lhs + rhs:
        raise Malformed("equation %r: '-' and '>' only as one '->'" % eq)
    parts = lhs.split(",")
    if len(parts) != len(ranks):
        raise Malformed("equation %r has %d operand terms for %d inputs" % (eq, len(parts), len(ranks)))
    split = [_split_term(eq, t) for t in parts]
    n_dots = []
    for (head, dots, tail), r, t in zip(split, ranks, parts):
        n = r - len(head) - len(tail)
        if n < 0 or (n and not dots):
            raise Malformed("equation %r: term %r for a %dD operand" % (eq, t, r))
        n_dots.append(n)
    e = max(n_dots, default=0)
    terms = [head + [("...", e - n + i) for i in range(n)] + tail for (head, _, tail), n in zip(split, n_dots)]
    if arrow:
        head, dots, tail = _split_term(eq, rhs)
        if e and not dots:
            raise Malformed("equation %r: the output has no '...' for the operands' %d broadcast dims" % (eq, e))
        out = head + ([("...", i) for i in range(e)] if dots else []) + tail
        seen = {lab for t in terms for lab in t}
        for lab in head + tail:
            if lab not in seen:
                raise Malformed("equation %r: output index %r is in no operand" % (eq, lab))
        if len(set(out)) != len(out):
            raise Malformed("equation %r: an output index is repeated" % eq)
    else:
        counts = Counter(lab for t in terms for lab in t if isinstance(lab, str))
        out = [("...", i) for i in range(e)] + sorted(lab for lab, k in counts.items() if k == 1)
    return terms, out


def op_einsum(c, node, attrs):
    eq = attr_str(attrs.get("equation"), None)
    if eq is None:
        raise Malformed("attribute 'equation' is required")
    ins = list(node.input)
    if not ins or not all(ins):
        raise Malformed("Einsum %r: an operand is missing" % eq)
    if len(ins) > 2:
        raise Unsupported("Einsum %r with %d operands (one or two run)" % (eq, len(ins)))
    acts = [c.is_act(v) for v in ins]
    if not any(acts):
        raise Unsupported("Einsum %r of constants that do not fold" % eq)
    shapes, consts = [], []
    for i, v in enumerate(ins):
        if acts[i]:
            shapes.append(tuple(c.shape[v]))
            consts.append(None)
        else:
            k = c.fweight(node, i, "operand %d" % i, True)
            shapes.append(tuple(k.shape))
            consts.append(k)
    terms, out = parse_equation(eq, [len(s) for s in shapes])
    for t in terms:
        twice = [lab for lab, n in Counter(t).items() if n > 1]
        if twice:
            raise Unsupported("Einsum %r (a diagonal: index %r twice in one operand)" % (eq, twice[0]))
    if not out:
        raise Unsupported("Einsum %r (a scalar result)" % eq)
    if len(ins) == 1:
        if set(out) != set(terms[0]):
            lost = [lab for lab in terms[0] if lab not in out]
            raise Unsupported("Einsum %r (a sum over index %r)" % (eq, _show(lost[0])))
        return op_transpose(c, node, {"perm": [terms[0].index(lab) for lab in out]})
    _two(c, node, eq, ins, acts, shapes, consts, terms, out)


def _show(lab):
    return "..." if isinstance(lab, tuple) else lab


def _two(c, node, eq, ins, acts, shapes, consts, terms, out):
    names = [c.ir[v] if a else None for v, a in zip(ins, acts)]
    shapes = [list(s) for s in shapes]
    terms = [list(t) for t in terms]
    # an index in both operands: the same size, or a broadcast '...' dim of 1 on one side, dropped there
    for lab in [lab for lab in terms[0] if lab in terms[1]]:
        sa, sb = shapes[0][terms[0].index(lab)], shapes[1][terms[1].index(lab)]
        if sa is sb or (sa is not BATCH and sb is not BATCH and sa == sb):
            continue
        if isinstance(lab, tuple) and 1 in (sa, sb):
            k = 0 if sa == 1 else 1
            j = terms[k].index(lab)
            before = tuple(shapes[k])
            del terms[k][j], shapes[k][j]
            if consts[k] is not None:
                consts[k] = consts[k].reshape(shapes[k])
            else:
                names[k], _ = emit_reshape(c, node, names[k], before, shapes[k])
            continue
        if BATCH in (sa, sb):
            raise BatchDep("Einsum %r: index %r is the batch in one operand and %s in the other"
                           % (eq, _show(lab), sb if sa is BATCH else sa))
        raise Malformed("Einsum %r: index %r is %d in operand 0 and %d in operand 1" % (eq, _show(lab), sa, sb))
    a, b = terms
    in_out = set(out)
    # an index of one operand only, not in the output, is summed over: refused on an activation
    for k, (t, other) in enumerate(((a, b), (b, a))):
        summed = [lab for lab in t if lab not in other and lab not in in_out]
        if summed and consts[k] is None:
            raise Unsupported("Einsum %r (a sum over index %r of one operand)" % (eq, _show(summed[0])))
        if summed:      # a constant's own index summed away: fold that sum into it
            axes = tuple(t.index(lab) for lab in summed)
            consts[k] = consts[k].astype(np.float64).sum(axis=axes).astype(np.float32)
            terms[k] = t = [lab for lab in t if lab not in summed]
            shapes[k] = list(consts[k].shape)
    if all(acts):
        _act_by_act(c, node, eq, names, shapes, terms, out)
    else:
        x = 0 if acts[0] else 1
        _act_by_const(c, node, eq, names[x], shapes[x], terms[x], consts[1 - x], terms[1 - x], out)


def _group(eq, sizes):
    """The size of dims merged into one: their product (1 for none); the batch merges with nothing."""
    if len(sizes) == 1:
        return sizes[0]
    if any(s is BATCH for s in sizes):
        raise BatchDep("Einsum %r merges the batch with other dims" % eq)
    return math.prod(sizes)


def _finish(c, node, eq, cur, shape, labels, out):
    """Permute the (IR value, shape) whose dims carry `labels` to the output's order and name it."""
    cur, shape = emit_permute(c, node, cur, shape, [labels.index(lab) for lab in out])
    c.rename(cur, node.output[0])


def _act_by_act(c, node, eq, names, shapes, terms, out):
    a, b = terms
    in_out = set(out)
    batch = [lab for lab in a if lab in b and lab in in_out]
    contr = [lab for lab in a if lab in b and lab not in in_out]
    free_a = [lab for lab in a if lab not in b]
    free_b = [lab for lab in b if lab not in a]
    size = {}
    for t, s in zip(terms, shapes):
        size.update(zip(t, s))
    bs = [size[lab] for lab in batch]
    m, k, n = (_group(eq, [size[lab] for lab in g]) for g in (free_a, contr, free_b))
    xa, sa = emit_permute(c, node, names[0], shapes[0], [a.index(lab) for lab in batch + free_a + contr])
    xa, sa = emit_reshape(c, node, xa, sa, bs + [m, k])
    xb, sb = emit_permute(c, node, names[1], shapes[1], [b.index(lab) for lab in batch + contr + free_b])
    xb, sb = emit_reshape(c, node, xb, sb, bs + [k, n])
    y = c.emit(node, "matmul", [xa, xb])                                          # (batch, m, n)
    labels = batch + free_a + free_b
    y, ys = emit_reshape(c, node, y, c.shape_of_ir(y), [size[lab] for lab in labels])
    _finish(c, node, eq, y, ys, labels, out)


def _act_by_const(c, node, eq, name, shape, xt, w, wt, out):
    """Activation x (indices xt) by constant w (indices wt): a linear whose weight is w as (free, contracted)."""
    in_out = set(out)
    shared = [lab for lab in xt if lab in wt and lab in in_out]
    for lab in shared:
        if w.shape[wt.index(lab)] != 1:
            raise Unsupported("Einsum %r (index %r batches the constant operand: a weight per %s; only a "
                              "constant without the activation's batch indices runs)"
                              % (eq, _show(lab), _show(lab)))
    if shared:      # a shared index of size 1 on both sides: free in the activation only
        keep = [i for i, lab in enumerate(wt) if lab not in shared]
        w = w.reshape([w.shape[i] for i in keep])
        wt = [wt[i] for i in keep]
    contr = [lab for lab in xt if lab in wt]
    free_x = [lab for lab in xt if lab not in wt]
    free_w = [lab for lab in wt if lab not in xt]
    size = dict(zip(xt, shape))
    size.update(zip(wt, w.shape))
    k = _group(eq, [size[lab] for lab in contr])
    nw = math.prod(size[lab] for lab in free_w)
    wm = np.transpose(w, [wt.index(lab) for lab in free_w + contr]).reshape(nw, k)      # (out, in)
    cur, cs = emit_permute(c, node, name, shape, [xt.index(lab) for lab in free_x + contr])
    cur, cs = emit_reshape(c, node, cur, cs, [size[lab] for lab in free_x] + [k])
    y = c.emit(node, "linear", [cur, c.weight(node, "weight", wm), ""])          # (free_x, nw)
    labels = free_x + free_w
    y, ys = emit_reshape(c, node, y, c.shape_of_ir(y), [size[lab] for lab in labels])
    _finish(c, node, eq, y, ys, labels, out)


# ONNX op type -> handler(converter, node, attrs)
HANDLERS = {
    "Einsum": op_einsum,
}
