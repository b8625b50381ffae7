"""Graph -> Graph passes, each testable alone; `optimize` runs them in order."""
from fastnorm.passes.fold_bn import fold_batchnorm
from fastnorm.passes.fuse import fuse_activations
from fastnorm.passes.fuse_residual import fuse_residual_add


def optimize(graph):
    """Fold BN into convs first, so that a conv -> BN -> add -> relu block fuses whole."""
    return fuse_activations(fuse_residual_add(fold_batchnorm(graph)))


__all__ = ["optimize", "fold_batchnorm", "fuse_residual_add", "fuse_activations"]
