"""Graph -> Graph passes, each testable alone. `canonicalize` runs on every frontend's graph (fastnorm.api);
`optimize` runs the fusions in order when a Model is built."""
from fastnorm.graph import batch1_shapes
from fastnorm.passes.fold_affine import canonicalize, fold_affine, fuse_linear_bias, remove_dead_nodes
from fastnorm.passes.fold_bn import finish_fold_report, fold_batchnorm
from fastnorm.passes.fold_scale import fold_input_scale, fold_linear_scale
from fastnorm.passes.fuse import fuse_activations
from fastnorm.passes.fuse_grn import fuse_grn
from fastnorm.passes.fuse_residual import fuse_residual_add
from fastnorm.passes.merge_branches import merge_branches


def optimize(graph, shapes=None, _defer_report=False):
    """Fold BN into convs first, so that a conv -> BN -> add -> relu block fuses whole (and a layer
    scale into the linear before it).

    shapes: the graph's value shapes at batch 1 (infer_shapes, or limits.check_graph's result) when the
    caller has them. The passes only merge nodes (a value keeps its name and shape), so one inference
    serves them all. The result carries fold_batchnorm's `fold_report` (what each BN became, and why).

    The BN folds are lazy (fastnorm.passes.folded.FoldedWeight). _defer_report=True (Model) leaves the
    report's max_abs_error of each to finish_fold_report, called after the model's first plan: its
    packers' folds record the rounding on the way, instead of a pass over every folded weight first."""
    if shapes is None:
        shapes = batch1_shapes(graph)
    # one copy, rewritten by each pass in turn (each alone copies its input: a copy per pass)
    folded = fold_batchnorm(fuse_grn(graph.copy(), shapes, _copy=False), shapes, _copy=False, _lazy=True)
    out = merge_branches(folded, shapes, _copy=False)
    out = fold_input_scale(fold_linear_scale(out, shapes, _copy=False), shapes, _copy=False)
    out = fuse_activations(fuse_residual_add(out, shapes, _copy=False), _copy=False)
    out.fold_report = folded.fold_report
    out.fold_pending = folded.fold_pending
    if not _defer_report:
        finish_fold_report(out)
    return out


__all__ = ["optimize", "merge_branches", "fuse_grn", "canonicalize", "fold_batchnorm", "fold_linear_scale", "fold_input_scale", "fuse_residual_add", "fuse_activations", "fold_affine",
           "fuse_linear_bias", "remove_dead_nodes"]
