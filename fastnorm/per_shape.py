"""A Model whose graph is converted again for each input size: ONNX files exported with dynamic height
and width (torch.onnx.export(..., dynamic_axes={"input": {0: "n", 2: "h", 3: "w"}})).

An exported graph computes sizes from Shape (a Resize to the skip connection's size, a pad to a multiple of
the stride): those fold to constants only once H and W are known. So, as from_torch specialises the
module to its example's size, the ONNX frontend converts the file at one size per input size seen: the
size given at load (fastnorm.frontends.onnx.SPATIAL_PROBE) makes this Model's own graph; every other
size gets its own Model (conversion, optimisation, plans), built on its first predict and kept. The batch
stays dynamic in every one of them.
"""
import threading

from fastnorm.errors import FormatError, UnsupportedError
from fastnorm.graph import TensorSpec
from fastnorm.model import Model


class PerShapeModel(Model):
    """Model over the graph converted at one size; `convert(shapes)` -> the Graph at other input sizes
    ({input name: NCHW shape}), `dynamic` = {input name: the axes whose size may change}."""

    def __init__(self, graph, convert, dynamic, **kwargs):
        self._convert = convert
        self._dynamic = {k: tuple(v) for k, v in dynamic.items()}
        self._kwargs = kwargs
        self._own_key = self._size_key({t.name: t.shape for t in graph.inputs})
        self._variants = {}
        self._variants_lock = threading.Lock()
        super().__init__(graph, **kwargs)

    def _size_key(self, shapes):
        return tuple((name, tuple(shapes[name][i] for i in axes)) for name, axes in sorted(self._dynamic.items()))

    def _open(self, spec):
        axes = self._dynamic.get(spec.name, ())
        return TensorSpec(spec.name, tuple(None if i in axes else d for i, d in enumerate(spec.shape)), spec.dtype)

    @property
    def inputs(self):
        return [self._open(t) for t in self.graph.inputs]

    @property
    def outputs(self):
        """Declared at the graph's own size; other sizes may change the spatial dims."""
        return list(self.graph.outputs)

    def _check_feed(self, spec, x):
        return super()._check_feed(self._open(spec), x)

    def variant(self, shapes):
        """The Model that runs inputs of these shapes ({input name: shape}): self, or the one converted
        at their size (built once)."""
        key = self._size_key(shapes)
        if key == self._own_key:
            return self
        model = self._variants.get(key)
        if model is None:
            with self._variants_lock:
                model = self._variants.get(key)
                if model is None:
                    try:
                        graph = self._convert({k: tuple(v) for k, v in shapes.items()})
                    except (FormatError, UnsupportedError) as e:
                        # the file converted at its own size; this size is one its graph cannot take (a
                        # reflect pad wider than the image, a kernel larger than it): the input's fault
                        raise ValueError("inputs of shape %s do not fit this model (its height and width are "
                                         "dynamic; it converts at %s): %s"
                                         % (_fmt(shapes), _fmt({t.name: t.shape for t in self.graph.inputs}),
                                            e)) from None
                    model = Model(graph, **self._kwargs)
                    model.num_threads = self.num_threads
                    self._variants[key] = model
        return model

    def _plan(self, shapes):
        model = self.variant(shapes)
        return super()._plan(shapes) if model is self else model._plan(shapes)

    def _split_runner(self, plan, shape, nthreads):
        model = self.variant({self.graph.inputs[0].name: shape})
        return super()._split_runner(plan, shape, nthreads) if model is self else \
            model._split_runner(plan, shape, nthreads)

    def profile(self, x, repeat=20):
        model = self.variant({self.graph.inputs[0].name: getattr(x, "shape", ())})
        return super().profile(x, repeat) if model is self else model.profile(x, repeat)

    def __reduce__(self):
        raise UnsupportedError("a model with dynamic spatial dims cannot be pickled or saved yet; keep the .onnx "
                               "file (or export it at a fixed size)")

    def save(self, path):
        self.__reduce__()


def _fmt(shapes):
    return ", ".join("%s %s" % (k, "x".join("?" if d is None else str(d) for d in v))
                     for k, v in sorted(shapes.items()))
