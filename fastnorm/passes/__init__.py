"""Graph -> Graph passes, each testable alone. `canonicalize` runs on every frontend's graph (fastnorm.api);
`optimize` runs the fusions in order when a Model is built."""
from fastnorm.passes.fold_affine import canonicalize, fold_affine, fuse_linear_bias, remove_dead_nodes
from fastnorm.passes.fold_bn import fold_batchnorm
from fastnorm.passes.fold_scale import fold_linear_scale
from fastnorm.passes.fuse import fuse_activations
from fastnorm.passes.fuse_residual import fuse_residual_add


def optimize(graph):
    """Fold BN into convs first, so that a conv -> BN -> add -> relu block fuses whole (and a layer
    scale into the linear before it).

    The result carries fold_batchnorm's `fold_report` (what each BN became, and why)."""
    folded = fold_batchnorm(graph)
    out = fuse_activations(fuse_residual_add(fold_linear_scale(folded)))
    out.fold_report = folded.fold_report
    return out


__all__ = ["optimize", "canonicalize", "fold_batchnorm", "fold_linear_scale", "fuse_residual_add", "fuse_activations", "fold_affine",
           "fuse_linear_bias", "remove_dead_nodes"]
