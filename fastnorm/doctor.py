"""The model doctor: what in a graph is probably not what its author meant, and how to fix it.

    for f in fastnorm.doctor.diagnose(graph):    # or model.doctor()
        print(f)                                  # severity, code, node, message and a one-line fix

Checks: BatchNorms normalising with batch statistics (exported in training mode); running statistics
left at their initial values, or holding NaN/Inf or negative variances; NaN/Inf gammas; a batch
dimension fixed to 1; every BatchNorm the fold pass could not fold, with the reason; and the largest
error folding introduced. Frontends may attach `graph.notes`, a list of (code, node, message) tuples,
which are reported too.
"""
import warnings

import numpy as np

from fastnorm import optable
from fastnorm._record import Record

SEVERITIES = ("error", "warning", "info")

# Folding errors above this (per unit input, see fold_bn) are worth a warning: the project's bound on
# a whole model's difference from PyTorch is 1e-4.
FOLD_ERROR_WARN = 1e-4

_KEPT = "kept as a fused scale/shift (costs one pass over the tensor)"
_FIXES = {
    "bn_batch_stats": "call model.eval() before export (torch.onnx.export(..., training=TrainingMode.EVAL)); "
                      "with track_running_stats=False, retrain with running statistics",
    "bn_default_stats": "load the trained state_dict (model.load_state_dict(...)) or run calibration "
                        "batches in train mode before export",
    "bn_nonfinite_stats": "the statistics are corrupt: reload the checkpoint or recalibrate",
    "bn_negative_var": "the statistics are corrupt: reload the checkpoint or recalibrate",
    "bn_nonfinite_affine": "the weights are corrupt: reload the checkpoint",
    "fixed_batch": "export with dynamic_axes={%r: {0: 'batch'}} (torch.onnx.export) to accept any batch",
    "fold_error": "load with optimize=False to keep BatchNorm unfolded, or check for near-zero running_var "
                  "with a large gamma",
    "fold_summary": "nothing to do",
}
_SEVERITY = {"bn_batch_stats": "warning", "bn_default_stats": "warning", "bn_nonfinite_stats": "error",
             "bn_negative_var": "error", "bn_nonfinite_affine": "error", "fixed_batch": "warning",
             "bn_not_folded": "info", "fold_error": "warning", "fold_summary": "info"}
# the ONNX frontend's notes (fastnorm/frontends/onnx/)
_FIXES.update({
    "fixed_batch_generalized": "nothing to do: every op is batch-independent, any batch runs",
    "batch1_reshape": "nothing to do; export with dynamic_axes to make the batch explicit",
    "batch_sizes": "nothing to do; export with dynamic_axes to make the batch explicit",
    "bn_declared_outputs": "nothing to do (inference uses the running statistics)",
    "squeeze_batch": "nothing to do",
    "checker": "the model loaded anyway; re-export with a current exporter to be sure",
    "dynamic_spatial": "nothing to do: each new input size is converted and planned on its first predict",
})
_SEVERITY.update({k: "info" for k in ("fixed_batch_generalized", "batch1_reshape", "batch_sizes",
                                      "bn_declared_outputs", "squeeze_batch", "checker", "dynamic_spatial")})
# the torch frontends' notes (fastnorm/frontends/torch_export, fastnorm.api.from_torch)
_FIXES.update({
    "torch_static_batch": "make the forward batch-independent (no reshape or branch on x.shape[0]) to accept "
                          "any batch, or call from_torch with the batch size you will predict with",
    "torch_fx_fallback": "nothing to do; the message says why torch.export did not load the model",
})
_SEVERITY.update({"torch_static_batch": "warning", "torch_fx_fallback": "info"})
_KEPT_FIXES = {  # fold_bn's reason codes -> the one-line fix
    "graph_input": _KEPT + "; or normalise the input in your preprocessing",
    "shared": _KEPT + ": the conv's raw output is needed by its other reader",
    "producer_act": _KEPT + "; a BatchNorm cannot move across an activation",
    "bn_act": _KEPT,
    "producer_residual": _KEPT,
    "linear_nd": _KEPT + "; flatten to (N, features) before the linear to let it fold",
    "channels": _KEPT,
    "unsupported": _KEPT,
    "batch_stats": _FIXES["bn_batch_stats"],
}
_ACTIVATIONS = optable.names(optable.ACTIVATION)
_LAYERS = optable.names(optable.LAYER)   # conv2d, conv_transpose2d, linear: what a BatchNorm folds into


class Finding(Record):
    FIELDS = ("severity", "code", "node", "message", "fix")

    def __init__(self, severity, code, node, message, fix):
        self.severity = severity      # 'error' | 'warning' | 'info'
        self.code = code              # stable identifier, e.g. 'bn_default_stats'
        self.node = node              # the node (or input) it is about, or None
        self.message = message
        self.fix = fix                # one line

    def __str__(self):
        where = " %s:" % self.node if self.node else ":"
        return "%s [%s]%s %s\n    fix: %s" % (self.severity, self.code, where, self.message, self.fix)


def diagnose(graph, optimized=None):
    """Findings for `graph` (the source graph), errors first. `optimized` is the graph the passes made
    from it (fastnorm.passes.optimize), if already at hand; without it the passes run here. An
    optimized graph without a `fold_report` is taken as not optimised (optimize=False)."""
    if optimized is None:
        from fastnorm.passes import optimize
        optimized = optimize(graph)
    findings = _inputs(graph) + _bn_statistics(graph) + _folding(graph, optimized)
    seen = {(f.code, f.node) for f in findings}
    for note in getattr(graph, "notes", None) or []:
        f = _note(note)
        if f is not None and (f.code, f.node) not in seen:
            seen.add((f.code, f.node))
            findings.append(f)
    return sorted(findings, key=lambda f: SEVERITIES.index(f.severity))


def bn_fates(graph, optimized):
    """What became of each source BatchNorm, in graph order: dicts {bn, fate, into, reason,
    max_abs_error}; fate is 'folded' (into a conv/linear), 'fused' (absorbed by another node),
    'standalone' (a scale/shift kernel; `reason` says why) or 'removed'."""
    report = {r["bn"]: r for r in getattr(optimized, "fold_report", None) or []}
    optimised = getattr(optimized, "fold_report", None) is not None
    by_name = {n.name: n for n in optimized.nodes}
    absorbed = {}
    for n in optimized.nodes:
        for key, v in n.attrs.items():
            if isinstance(v, list) and key != "act":
                for b in v:
                    if isinstance(b, str):
                        absorbed.setdefault(b, (n, key))
    out = []
    for bn in graph.nodes:
        if bn.op != "batch_norm":
            continue
        r = report.get(bn.name, {})
        row = {"bn": bn.name, "fate": "removed", "into": None, "reason": r.get("reason"),
               "max_abs_error": r.get("max_abs_error")}
        if bn.name in absorbed:
            node, key = absorbed[bn.name]
            row.update(fate="folded" if key == "folded" else "fused", into="%s (%s)" % (node.name, node.op))
        elif bn.name in by_name:
            node = by_name[bn.name]
            row["fate"] = "standalone"
            row["into"] = "scale/shift" + ("+" + node.attrs["act"][0] if node.attrs.get("act") else "")
            if not optimised:
                row["reason"] = "optimize=False"
        out.append(row)
    return out


# ------------------------------------------------------------------------------------------ checks
def _finding(code, node, message, fix=None, severity=None):
    return Finding(severity or _SEVERITY[code], code, node, message, fix or _FIXES[code])


def _inputs(graph):
    out = []
    for t in graph.inputs:
        if len(t.shape) >= 1 and t.shape[0] == 1:
            out.append(_finding(
                "fixed_batch", t.name,
                "input %r has its batch dimension fixed to 1 (shape %s): predict accepts only batch 1"
                % (t.name, list(t.shape)), _FIXES["fixed_batch"] % t.name))
    return out


def _bn_statistics(graph):
    w = graph.weights
    bns = [bn for bn in graph.nodes if bn.op == "batch_norm"]
    fast = _bn_statistics_common(bns, w)
    if fast is not None:
        return fast
    out = []
    for bn in bns:
        name = bn.name
        ins = list(bn.inputs) + [""] * (5 - len(bn.inputs))
        if bn.attrs.get("batch_stats"):
            out.append(_finding(
                "bn_batch_stats", name,
                "BatchNorm normalises with each batch's own statistics (exported in training mode, or "
                "track_running_stats=False): outputs depend on the rest of the batch, and it cannot be folded"))
        else:
            mean, var = w.get(ins[1]), w.get(ins[2])
            if mean is not None and var is not None:
                out += _running_stats(name, np.asarray(mean, np.float64), np.asarray(var, np.float64),
                                      float(bn.attrs.get("eps", 1e-5)))
        for i, what in ((3, "weight (gamma)"), (4, "bias (beta)")):
            a = w.get(ins[i])
            if a is not None and not np.isfinite(a).all():
                bad = int(np.count_nonzero(~np.isfinite(a)))
                if bad:
                    out.append(_finding("bn_nonfinite_affine", name, "%s holds %d NaN/Inf of %d values"
                                        % (what, bad, a.size)))
    return out


def _bn_statistics_common(bns, w):
    """_bn_statistics's findings in the common case, every BatchNorm's statistics checked at once (a
    few NumPy calls for the whole graph instead of ~10 per BatchNorm: DenseNet-121's 62, ~1 ms of a
    load): every BN in eval mode, its statistics non-empty, finite and var >= 0, its gamma and beta
    finite. Then the only possible finding is bn_default_stats. None where that case does not hold (the
    per-BN checks then run and name what they find)."""
    names, means, variances, affine = [], [], [], []
    for bn in bns:
        if bn.attrs.get("batch_stats"):
            return None
        ins = list(bn.inputs) + [""] * (5 - len(bn.inputs))
        mean, var = w.get(ins[1]), w.get(ins[2])
        if mean is not None and var is not None:
            mean, var = np.ravel(mean), np.ravel(var)
            if not mean.size or not var.size:
                return None
            names.append(bn.name)
            means.append(mean)
            variances.append(var)
        affine += [np.ravel(a) for a in (w.get(ins[3]), w.get(ins[4])) if a is not None]
    if not names:
        return [] if not affine or np.isfinite(np.concatenate(affine)).all() else None
    m, v = np.concatenate(means), np.concatenate(variances)
    if not (np.isfinite(m).all() and np.isfinite(v).all() and v.min() >= 0):
        return None
    if affine and not np.isfinite(np.concatenate(affine)).all():
        return None
    # per BN: any mean != 0 or any var != 1 (not its initial statistics)
    moved = (np.logical_or.reduceat(m != 0, np.cumsum([0] + [a.size for a in means[:-1]]))
             | np.logical_or.reduceat(v != 1, np.cumsum([0] + [a.size for a in variances[:-1]])))
    return [_default_stats(name) for name, mv in zip(names, moved) if not mv]


def _running_stats(name, mean, var, eps):
    # the common case in a few NumPy calls instead of a dozen and an errstate (DenseNet-121's 62 BNs:
    # 1 ms of every load): finite statistics, no negative variance; then only the default-stats check
    if mean.size and var.size and np.isfinite(mean).all() and np.isfinite(var).all() and var.min() >= 0:
        return [_default_stats(name)] if not np.any(mean) and np.all(var == 1) else []
    out = []
    bad = [(what, int(np.count_nonzero(~np.isfinite(a))), a.size)
           for what, a in (("running_mean", mean), ("running_var", var))]
    bad = [b for b in bad if b[1]]
    if bad:
        out.append(_finding("bn_nonfinite_stats", name, "%s: every output of those channels is NaN/Inf"
                            % "; ".join("%s holds %d NaN/Inf of %d values" % b for b in bad)))
    with np.errstate(invalid="ignore"):
        neg = int(np.count_nonzero(var < 0))
        dead = int(np.count_nonzero(var + eps <= 0))
    if neg:
        out.append(_finding(
            "bn_negative_var", name, "running_var has %d negative value(s) (min %.3g)%s"
            % (neg, np.nanmin(var), "; var + eps <= 0 in %d channel(s), whose outputs are NaN/Inf" % dead
               if dead else "")))
    elif mean.size and not bad and not np.any(mean) and np.all(var == 1):
        out.append(_default_stats(name))
    return out


def _default_stats(name):
    return _finding("bn_default_stats", name, "running statistics are at their initial values (mean all 0, "
                    "var all 1): never trained or stats not loaded")


def _folding(graph, optimized):
    if getattr(optimized, "fold_report", None) is None:
        return []  # not optimised: nothing was meant to fold
    nodes = {n.name: n for n in graph.nodes}
    readers = graph.consumers()
    producers = graph.producers()
    out, folded = [], []
    kept_nodes = None
    for r in optimized.fold_report:
        if r.get("into") is not None:
            folded.append(r)
            continue
        if r.get("code") == "batch_stats" or r["bn"] not in nodes:
            continue  # reported above as bn_batch_stats
        bn = nodes[r["bn"]]
        message, fix = "not folded: %s" % r["reason"], _KEPT_FIXES.get(r.get("code"), _KEPT)
        prev = producers.get(bn.inputs[0])
        if r.get("code") in ("not_conv", "shared", "graph_input") and _feeds_conv(bn, readers):
            message += " (pre-activation: BN -> act -> conv; a BN folds only into the layer before it)"
            if kept_nodes is None:     # once, not once per BN (DenseNet-121: 61 x 600 nodes, 0.8 ms of a load)
                kept_nodes = {n.name: n for n in optimized.nodes}
            kept = kept_nodes.get(bn.name)
            act = kept.attrs.get("act") if kept is not None else None
            fix = _KEPT + (", with the %s fused" % act[0] if act else "") + "; fine as is"
        elif r.get("code") == "not_conv":
            if prev is not None and prev.op == "cat":
                fix = _KEPT + "; to fold it, give each branch its own BN before the cat"
            elif prev is not None and prev.op in _ACTIVATIONS:
                fix = _KEPT + "; put BN before the activation (conv -> BN -> act) to let it fold"
        out.append(_finding("bn_not_folded", bn.name, message, fix))
    if folded:
        errs = [r for r in folded if r.get("max_abs_error") is not None and np.isfinite(r["max_abs_error"])]
        if errs:
            worst = max(errs, key=lambda r: r["max_abs_error"])
            msg = ("%d BatchNorm(s) folded; the largest error a fold introduced is %.2g (%s into %s; output "
                   "units per unit input, float32 weights vs the float64 fold)"
                   % (len(folded), worst["max_abs_error"], worst["bn"], worst["into"]))
            code = "fold_error" if worst["max_abs_error"] > FOLD_ERROR_WARN else "fold_summary"
            out.append(_finding(code, worst["bn"], msg))
    return out


def _feeds_conv(bn, readers):
    """BN -> (activation ->) conv/linear: a pre-activation block."""
    frontier = list(readers.get(bn.outputs[0], []))
    for _ in range(2):
        nxt = []
        for n in frontier:
            if n.op in _LAYERS:
                return True
            if n.op in _ACTIVATIONS:
                nxt += readers.get(n.outputs[0], [])
        frontier = nxt
    return False


def _note(note):
    """A frontend's (code, node, message) note as a Finding (severity and fix from the code if known)."""
    try:
        if isinstance(note, dict):
            code, node, message = note["code"], note.get("node"), note["message"]
        else:
            code, node, message = note[0], note[1], note[2]
    except (KeyError, IndexError, TypeError):
        return None
    fix = _FIXES.get(code, "see the message")
    if code == "fixed_batch" and "%r" in fix:
        fix = fix % (node or "input")
    return Finding(_SEVERITY.get(code, "warning"), str(code), node, str(message), fix)


# ------------------------------------------------------------------------------------------ warnings
def warn(findings):
    """Emit findings of severity warning/error as FastnormWarnings: one per code, naming every node."""
    from fastnorm.errors import FastnormWarning
    groups = {}
    for f in findings:
        if f.severity in ("error", "warning"):
            groups.setdefault(f.code, []).append(f)
    level = _user_stacklevel()
    for code, fs in groups.items():
        first = fs[0]
        others = [f.node for f in fs[1:] if f.node]
        also = ""
        if others:
            also = " (also %s%s)" % (", ".join(map(str, others[:8])),
                                     ", and %d more" % (len(others) - 8) if len(others) > 8 else "")
        warnings.warn("%s [%s] %s: %s%s. Fix: %s" % (first.severity, code, first.node, first.message, also,
                                                      first.fix), FastnormWarning, stacklevel=level)


def _user_stacklevel():
    """The stacklevel of warnings.warn in warn() that points at the first frame outside fastnorm."""
    import sys
    f = sys._getframe(1)   # warn()
    level = 1
    while f is not None and f.f_globals.get("__name__", "").split(".")[0] == "fastnorm":
        f = f.f_back
        level += 1
    return level
