"""A batch split among threads: each thread runs its own samples through the whole network, one thread
inside every kernel, instead of every kernel splitting each layer's work among the threads.

At batch 16 on 2 threads a layer-by-layer run keeps the whole batch's activations in flight: the 16
samples' 112x112 maps of an early MobileNet-style block (16 x 1.6 MB) stream through memory between
layers, and every layer ends on a barrier. With the batch split, thread t runs samples [t m, (t + 1) m)
(m = n / threads) on its own arena; no barrier at all, and the early layers can go one sample (or a few)
at a time, so that a layer's output is still in the core's L2 when the next reads it.

Going one sample at a time costs the weights: each pass reads them again, so a late layer (few pixels,
megabytes of weights: ResNet-18's 3x3 512 -> 512 at 7x7 holds 9.4 MB) should see all m samples at once.
So the graph is cut where one activation alone crosses from the early part to the late part (between
two blocks): the prefix runs `c` samples at a time, the suffix all m at once, and the cut is the one a
traffic estimate (bytes read from beyond L2, per thread) finds least:

    prefix: its weights m / c times (once if they fit in half of L2); each node's activations (inputs
            and output) of c samples nothing if they fit in half of L2, m / c passes at half the
            cost if they fit in the thread's share of L3 (at most L3_SHARE_CAP), else m / c passes
    suffix: its weights once; each node's activations of m samples as above
    the cut: its activation four times over (out as NCHW, in again as NHWC)

Without the L3 term ResNeXt-50 was left unsplit (its 56x56x256 maps, 3.2 MB a sample, never fit in
L2; a cut after its second stage ran 0.91x of no cut); with it ResNet-18 cuts after its second stage
and runs 1.01-1.03x of no cut (compute-bound, its 3x3 convs lose a little at 1 sample a run). Weights
read again by the prefix are not counted as coming from L3: a whole sample's activations pass between
two reads of one weight. Measured (Xeon, 2 vCPUs, batch 16, 2 threads; bench/adhoc/batch_split.py):
bench/RESULTS.md, "Session 19".

FASTNORM_BATCH_SPLIT: "0" never splits (every layer threaded as before); unset or "auto" splits by the
estimate; "whole" splits without a cut (each thread all its samples at once); "cut:K,C" cuts before
node K with chunks of C samples (for measurements).
"""
import math
import os

import numpy as np

from fastnorm import _C, denormals
from fastnorm.graph import Graph, TensorSpec, infer_shapes

ENV = "FASTNORM_BATCH_SPLIT"
CHUNKS = (1, 2, 4)     # samples at a time the prefix may take
_BUDGET = []           # cache_budget(), read once
MAX_TEAMS = _C.PLAN_MAX_TEAMS   # threads a split may take (run_teams' limit); more run unsplit
# "auto" splits only where the estimate's best cut saves this fraction of the weights' bytes over no cut:
# each thread reads all the weights where the threads of an unsplit run share them. Batch 4 on 2 threads
# (Xeon, bench/adhoc/batch_split.py --batch 4): ResNet-18 (saving 0.17 of its weights) ran 1.05-1.07x
# the unsplit run split, ResNet-50 (0.24) 0.98-0.99x, RegNetX-400MF and ResNeXt-50 (0.39) 0.84 / 0.89x,
# EfficientNet-B0 (1.9) 0.84x; at batch 16 every model measured saves 1.2-14 (ResNet-18 0.98x).
MIN_SAVING = 0.3
_AXIS_ATTRS = ("dim", "axes", "start_dim")


def mode():
    """The FASTNORM_BATCH_SPLIT setting: ("off",), ("auto",), ("whole",) or ("cut", K, C)."""
    env = os.environ.get(ENV, "auto").strip().lower()
    if env in ("", "auto", "1"):
        return ("auto",)
    if env == "0":
        return ("off",)
    if env == "whole":
        return ("whole",)
    if env.startswith("cut:"):
        try:
            k, c = (int(v) for v in env[4:].split(","))
        except ValueError:
            k = c = -1
        if k >= 0 and c >= 1:
            return ("cut", k, c)
    raise ValueError("%s: expected 0, auto, whole or cut:K,C, got %r" % (ENV, os.environ.get(ENV)))


def _touches_batch(node, rank):
    """Whether node acts along axis 0 (it would mix samples; shapes alone do not show a softmax over it)."""
    if node.op == "batch_norm" and node.attrs.get("batch_stats"):
        return True
    if node.op == "transpose":
        perm = node.attrs.get("perm") or ()
        return len(perm) > 0 and perm[0] != 0
    if node.op == "layer_norm" and node.attrs.get("normalized_ndim", 1) >= rank:
        return True
    for a in _AXIS_ATTRS:
        v = node.attrs.get(a)
        if v is None:
            continue
        for d in (v if isinstance(v, (list, tuple)) else (v,)):
            if isinstance(d, int) and (d == 0 or (rank and d == -rank)):
                return True
    return False


def _one_image_input(graph):
    """One 4D input of dynamic batch (a fixed one, a graph traced at one, may be folded into its
    shapes) and one output."""
    return (len(graph.inputs) == 1 and len(graph.outputs) == 1 and len(graph.inputs[0].shape) == 4
            and graph.inputs[0].shape[0] is None)


def separable(graph, shapes1, shapes3):
    """Whether every sample of graph's batch runs apart from the others: _one_image_input, every
    value's dim 0 the batch (shapes at batch 1 and 3 agree), no node acting along axis 0."""
    if not _one_image_input(graph):
        return False
    for n in graph.nodes:
        for v in n.inputs:
            if v and v not in graph.weights and (not shapes1[v] or shapes1[v][0] != 1 or shapes3[v][0] != 3):
                return False
        for v in n.outputs:
            if not shapes1[v] or shapes1[v][0] != 1 or shapes3[v][0] != 3:
                return False
        if _touches_batch(n, len(shapes1[n.outputs[0]])):
            return False
    return True


def cuts(graph, shapes1):
    """[(k, value)]: node k starts a suffix that reads one 4D value of the prefix nodes[:k] (or the
    input) and nothing else of it; the graph output is not made in the prefix."""
    nodes = graph.nodes
    last_read = {}
    for i, n in enumerate(nodes):
        for v in n.inputs:
            if v and v not in graph.weights:
                last_read[v] = i
    out_name = graph.outputs[0].name
    live = {graph.inputs[0].name}
    found = []
    made_output = False
    for k in range(1, len(nodes)):
        for v in nodes[k - 1].outputs:
            live.add(v)
            made_output |= v == out_name
        live = {v for v in live if last_read.get(v, -1) >= k}
        if made_output:
            break
        if len(live) == 1:
            (v,) = live
            if len(shapes1[v]) == 4 and v != graph.inputs[0].name:
                found.append((k, v))
    return found


def _bytes(shape):
    return 4 * int(math.prod(shape))


L3_SHARE_CAP = 4 << 20   # bytes of L3 a thread counts on at most (a VM's sysfs may report the host's whole L3)
L3_COST = 0.5            # a byte from L3 against one from memory


def estimate(graph, shapes1, m, l2, l3=0):
    """(k, value, c) of the least traffic (the module's estimate) for m samples a thread, an L2 of l2
    bytes and l3 bytes of L3 a thread; k 0 for no cut (every node at m), value None for no suffix
    (every node c samples at a time)."""
    return _costs(graph, shapes1, m, l2, l3)[0][1:]


def _costs(graph, shapes1, m, l2, l3):
    """((traffic, k, value, c) of the best split, the traffic of no cut, the weights' bytes)."""
    nodes = graph.nodes
    half = l2 // 2
    w = np.array([sum(graph.weights[v].nbytes for v in n.inputs if v in graph.weights) for n in nodes], float)
    a = np.array([sum(_bytes(shapes1[v]) for v in n.inputs if v and v not in graph.weights)
                  + sum(_bytes(shapes1[v]) for v in n.outputs) for n in nodes], float)

    def act(c):  # each node's activation bytes over m samples, c at a time: none from L2, L3 ones cheaper
        return np.where(c * a <= half, 0.0, np.where(c * a <= l3, L3_COST, 1.0) * m * a)
    acts = {c: act(c) for c in CHUNKS}
    wpre = np.concatenate([[0.0], np.cumsum(w)])
    suffix = np.concatenate([[0.0], np.cumsum(act(m))])
    best = (wpre[-1] + suffix[-1], 0, None, m)      # no cut: all m samples at once
    for k, v in cuts(graph, shapes1) + [(len(nodes), None)]:
        for c in CHUNKS:
            if m % c or c >= m:
                continue
            # the prefix's weights: read m / c times unless they stay in L2 (every activation passes
            # between two reads of one weight, so L3 is not counted on for them)
            cost = (m // c) * wpre[k] if wpre[k] > half else wpre[k]
            cost += acts[c][:k].sum() + wpre[-1] - wpre[k] + suffix[-1] - suffix[k]
            if v is not None:
                cost += 4 * m * _bytes(shapes1[v])
            if cost < best[0]:
                best = (cost, k, v, c)
    return best, wpre[-1] + suffix[-1], wpre[-1]


def cache_budget():
    """(L2 bytes, L3 bytes a thread counts on) for estimate()."""
    from fastnorm.plan.core import cache_info
    l3, sharing = cache_info(3)
    return cache_info(2)[0] or (1 << 20), min(l3 // sharing, L3_SHARE_CAP)


def cut_graph(graph, k, value):
    """(prefix, suffix) Graphs of a cut (k, value) from cuts(); the nodes and weights are shared."""
    pre_nodes, suf_nodes = graph.nodes[:k], graph.nodes[k:]

    def weights_of(nodes):
        return {v: graph.weights[v] for n in nodes for v in n.inputs if v in graph.weights}
    mid = TensorSpec(value, (None,) + (None,) * 3)
    prefix = Graph(list(graph.inputs), [mid], pre_nodes, weights_of(pre_nodes))
    suffix = Graph([mid], list(graph.outputs), suf_nodes, weights_of(suf_nodes))
    return prefix, suffix


class SplitRunner:
    """Runs a plan's input of batch n on `teams` threads, n / teams samples each (module docstring).
    stages: [(Plan, samples per run)], the first reading the input, each the previous one's output."""

    def __init__(self, whole, stages, teams, mid_shapes):
        self.whole = whole
        self.teams = teams
        self.stages = stages
        self.mid_shapes = mid_shapes    # per stage boundary: the shape of one team's buffer
        self._pool = []     # free per-team resources: [(arena, scratch) per stage] + boundary buffers

    def _take(self):
        try:
            return self._pool.pop()
        except IndexError:
            pass
        from fastnorm.plan.core import _empty_on_line
        res = [p._take_arena(1) for p, _ in self.stages]
        mids = [_empty_on_line(int(math.prod(s))).reshape(s) for s in self.mid_shapes]
        return res, mids

    def run1(self, x, nthreads):
        if nthreads != self.teams:
            return self.whole.run1(x, nthreads)
        oshape = self.whole.single_io[2]
        out = np.empty(oshape, np.float32)
        m = x.shape[0] // self.teams
        taken = [self._take() for _ in range(self.teams)]
        try:
            teams = []
            for t, (res, mids) in enumerate(taken):
                steps = []
                src = x[t * m:(t + 1) * m]
                for s, (plan, c) in enumerate(self.stages):
                    dst = mids[s] if s < len(mids) else out[t * m:(t + 1) * m]
                    pxb, pyb, _ = plan.single_io
                    arena, scratch = res[s]
                    for i in range(0, m, c):
                        steps.append((plan.cplan, src[i:i + c], pxb, dst[i:i + c], pyb, arena, scratch))
                    src = dst
                teams.append(steps)
            _C.run_teams(teams, denormals.flush)
        finally:
            self._pool.extend(taken)
        return out


def runner(model_graph, whole, shape, nthreads, cache):
    """A SplitRunner for plan `whole` (input shape `shape`) on nthreads threads, or None where the batch
    does not split evenly, the graph is not separable by samples or FASTNORM_BATCH_SPLIT says no."""
    from fastnorm.plan.core import Plan
    if not _BUDGET:
        _BUDGET.extend(cache_budget())
    n = shape[0]
    how = mode()
    if (how[0] == "off" or nthreads < 2 or nthreads > MAX_TEAMS or n < nthreads or n % nthreads
            or whole.single_io is None):
        return None
    graph = model_graph
    if not _one_image_input(graph):     # (before infer_shapes at other batches)
        return None
    name = graph.inputs[0].name
    shapes1 = infer_shapes(graph, {name: (1,) + tuple(shape[1:])})
    shapes3 = infer_shapes(graph, {name: (3,) + tuple(shape[1:])})
    if not separable(graph, shapes1, shapes3):
        return None
    m = n // nthreads
    if how[0] == "whole":
        k, value, c = 0, None, m
    elif how[0] == "cut":
        k, c = how[1], how[2]
        value = dict(cuts(graph, shapes1)).get(k)
        if (k != len(graph.nodes) and value is None) or m % c:
            raise ValueError("%s=cut:%d,%d: node %d is not a cut of this graph, or %d samples a thread are not "
                             "a multiple of %d" % (ENV, k, c, k, m, c))
    else:
        (cost, k, value, c), nocut, weights = _costs(graph, shapes1, m, *_BUDGET)
        if nocut - cost < MIN_SAVING * weights:
            return None
    isa = whole.isa
    if k == 0:
        stages, mids = [(Plan(graph, {name: (m,) + tuple(shape[1:])}, isa, cache), m)], []
    elif value is None:     # every node c samples at a time
        stages, mids = [(Plan(graph, {name: (c,) + tuple(shape[1:])}, isa, cache), c)], []
    else:
        prefix, suffix = cut_graph(graph, k, value)
        mid = (m,) + tuple(shapes1[value][1:])
        stages = [(Plan(prefix, {name: (c,) + tuple(shape[1:])}, isa, cache), c),
                  (Plan(suffix, {value: mid}, isa, cache), m)]
        mids = [mid]
    if any(p.single_io is None for p, _ in stages):
        return None
    return SplitRunner(whole, stages, nthreads, mids)
