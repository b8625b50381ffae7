"""Graph -> Graph passes, each testable alone; `optimize` runs them in order."""
from fastnorm.passes.fold_bn import fold_batchnorm
from fastnorm.passes.fuse import fuse_activations


def optimize(graph):
    return fuse_activations(fold_batchnorm(graph))


__all__ = ["optimize", "fold_batchnorm", "fuse_activations"]
