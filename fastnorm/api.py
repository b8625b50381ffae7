"""The entry points: load(), from_torch(), from_onnx() -> Model.

Frontends turn a source format into a Graph and know nothing of Model; this module sits above them and
model.py, so no import goes back down: frontends -> graph, api -> frontends + passes + model. Every
frontend's graph goes through fastnorm.passes.canonicalize (frontend-independent folds) before the Model.
"""
import math
import os

from fastnorm import fileformat, limits
from fastnorm.errors import FormatError, UnsupportedError
from fastnorm.graph import Graph
from fastnorm.model import Model
from fastnorm.optable import KNOWN_OPS
from fastnorm.passes import canonicalize


_ROUTES = ("auto", "export", "fx")


def from_torch(module, example_input, route="auto"):
    """Trace a torch.nn.Module (needs the [torch] extra) into an optimised Model.

    route "auto" (the default) traces with torch.export (fastnorm.frontends.torch_export) and falls back
    to torch.fx (fastnorm.frontends.torch) where export or its graph fails; "export" and "fx" take one
    route only. When both fail, the UnsupportedError says why for each, listing every unsupported op."""
    if route not in _ROUTES:
        raise ValueError("from_torch: route must be one of %s, got %r" % (", ".join(_ROUTES), route))
    failures = []
    if route in ("auto", "export"):
        from fastnorm.frontends.torch_export import export_to_graph
        try:
            model = Model(canonicalize(export_to_graph(module, example_input)))
            # plan once at the example's shape, so that a layout the kernels lack fails here, not at predict
            model._plan({t.name: tuple(example_input.shape) for t in model.graph.inputs})
            return model
        except TypeError as e:
            if route == "export" or str(e).startswith("from_torch:"):
                raise   # the caller's mistake (not a module, not a tensor): the same on either route
            failures.append(("torch.export", e))
        except Exception as e:  # noqa: BLE001 - whatever stops the export route, fx may still load the model
            if route == "export":
                raise
            failures.append(("torch.export", e))
    from fastnorm.frontends.torch import torch_to_graph
    try:
        graph = torch_to_graph(module, example_input)
    except Exception as e:  # noqa: BLE001 - fx raises many types (TraceError, TypeError, ...)
        if route == "fx" or not failures:
            raise
        failures.append(("torch.fx", e))
        raise UnsupportedError("from_torch: neither route loads the model. %s"
                               % " ".join("[%s] %s" % (r, _why(e)) for r, e in failures)) from None
    if failures:
        graph.notes = [("torch_fx_fallback", None, "traced with torch.fx: torch.export failed (%s)"
                        % _why(failures[0][1]))]
    return Model(canonicalize(graph))


def _why(e):
    s = str(e).strip() or type(e).__name__
    return s if isinstance(e, (UnsupportedError, ValueError)) else "%s: %s" % (type(e).__name__, s)


def from_onnx(model_or_path, optimize=True, max_tensor_bytes=limits.DEFAULT_MAX_TENSOR_BYTES,
              external_data_dir=None, input_shapes=None):
    """Import an ONNX model (a path, bytes or onnx.ModelProto; needs the [onnx] extra) into a Model.
    External data is read for a path from the model's own folder; for bytes or a ModelProto only from
    external_data_dir, when given (files inside it: no absolute path, no `..`, no symlink out), else it
    is refused. max_tensor_bytes as in load(); constant folding is bounded by it too. input_shapes
    ({input name: (N, C, H, W)}): the size an input with a dynamic height and width is converted at on
    load (default 224 x 224; other sizes are converted when a predict first sees them)."""
    from fastnorm.frontends.onnx import onnx_to_graph
    limits.check_max_tensor_bytes(max_tensor_bytes)
    spatial = _input_shapes_arg(input_shapes)
    graph = onnx_to_graph(model_or_path, max_tensor_bytes, external_data_dir, spatial)
    try:
        dynamic = getattr(graph, "dynamic_dims", None)
        if dynamic:   # dynamic H / W: converted again per input size (fastnorm.per_shape)
            from fastnorm.per_shape import PerShapeModel
            model = PerShapeModel(canonicalize(graph),
                                  lambda shapes: canonicalize(onnx_to_graph(model_or_path, max_tensor_bytes,
                                                                        external_data_dir, shapes)),
                                  dynamic, optimize=optimize, max_tensor_bytes=max_tensor_bytes)
        else:
            model = Model(canonicalize(graph), optimize=optimize, max_tensor_bytes=max_tensor_bytes)
        # plan once now (batch 1 where dynamic) so that layouts the kernels lack fail at load, not at predict
        model._plan({t.name: tuple(1 if d is None else d for d in t.shape) for t in model.graph.inputs})
    except UnsupportedError as e:
        raise UnsupportedError("ONNX import: %s" % e) from None
    except FormatError:
        raise
    except ValueError as e:
        raise FormatError("ONNX model does not fit fastnorm's graph checks: %s" % e) from None
    return model


def load(path, optimize=True, max_tensor_bytes=limits.DEFAULT_MAX_TENSOR_BYTES, input_shapes=None):
    """Load a model file: fastnorm's own .fnm (any safetensors file that carries a fastnorm graph), or
    an ONNX model (.onnx; needs the [onnx] extra). A tensor larger than max_tensor_bytes at the declared
    input shape (batch 1) raises MemoryError naming it; values no model can mean raise FormatError.
    input_shapes: for an ONNX model with a dynamic height and width, as in from_onnx."""
    limits.check_max_tensor_bytes(max_tensor_bytes)
    with limits.gc_paused():
        return _load(path, optimize, max_tensor_bytes, input_shapes)


def _input_shapes_arg(input_shapes):
    if input_shapes is None:
        return None
    if not isinstance(input_shapes, dict) or not all(
            isinstance(k, str) and isinstance(v, (tuple, list)) and all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in v)
            for k, v in input_shapes.items()):
        raise TypeError("input_shapes must be {input name: (N, C, H, W) of positive ints}, got %r"
                        % (input_shapes,))
    return {k: tuple(v) for k, v in input_shapes.items()}


def _load(path, optimize, max_tensor_bytes, input_shapes=None):
    if isinstance(path, (bytes, bytearray, memoryview)):
        # a model's bytes (a download, a blob store): .fnm is safetensors (an 8-byte header length, then
        # JSON); anything else is read as ONNX
        data = bytes(path)
        if len(data) > 8 and data[8:9] == b"{":
            graph_dict, weights, packed = fileformat.loads(data, known_ops=KNOWN_OPS, prepacked=_usable_here)
            return _fnm_model(graph_dict, weights, "<bytes>", optimize, max_tensor_bytes, packed)
        return from_onnx(data, optimize=optimize, max_tensor_bytes=max_tensor_bytes, input_shapes=input_shapes)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError("load() takes a path (str or os.PathLike) or a model's bytes, not %s"
                        % type(path).__name__)
    p = os.fspath(path)
    if isinstance(p, bytes):
        p = os.fsdecode(p)
    if p.lower().endswith(".onnx"):
        return from_onnx(p, optimize=optimize, max_tensor_bytes=max_tensor_bytes, input_shapes=input_shapes)
    if input_shapes is not None:
        raise TypeError("input_shapes applies to ONNX models (a .fnm file's sizes are fixed but the batch)")
    graph_dict, weights, packed = fileformat.load(p, known_ops=KNOWN_OPS, prepacked=_usable_here)
    return _fnm_model(graph_dict, weights, p, optimize, max_tensor_bytes, packed)


def _usable_here(meta):
    """Whether a file's prepacked section was made for the ISA in use (else it is not read)."""
    from fastnorm import _C, prepack
    return prepack.usable(meta, _C.resolve_isa(-1))


def _fnm_model(graph_dict, weights, p, optimize, max_tensor_bytes, prepacked=None):
    """The Model of a parsed .fnm (fileformat.load / loads): everything load() checks after reading;
    prepacked: the file's usable prepacked section (fileformat.load's third value) or None."""
    try:
        graph = Graph.from_dict(graph_dict, weights)
        for t in graph.inputs:
            if t.dtype != "float32":
                raise FormatError("%s: input %r has dtype %r; only float32 inputs run" % (p, t.name, t.dtype))
        graph.check()
        shapes = limits.check_graph(graph, max_tensor_bytes)   # before any shape arithmetic on hostile values
        _validate_loaded(graph, p, shapes)
        return Model(graph, optimize=optimize, max_tensor_bytes=max_tensor_bytes, _prepacked=prepacked,
                     _checked_shapes=shapes)
    except (FormatError, UnsupportedError):
        raise
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise FormatError("%s: inconsistent graph: %s" % (p, e)) from None


def _validate_loaded(graph, path, out):
    """Shapes must work out: `out` is the graph's shapes at batch 1 (limits.check_graph's result, the
    same shape rules as infer_shapes), checked against the declared inputs and outputs."""
    for t in graph.inputs:
        if any(d is not None and (not isinstance(d, int) or d < 0) for d in t.shape):
            raise FormatError("%s: input %r has a bad shape %r" % (path, t.name, t.shape))
    for t in graph.outputs:
        got = out.get(t.name)
        if got is None or len(got) != len(t.shape) or any(
                d is not None and d != g for d, g in zip(t.shape, got)):
            raise FormatError("%s: output %r declared %r, the graph computes %r" % (path, t.name, t.shape, got))
    if math.prod(out[graph.inputs[0].name]) > 1 << 40:
        raise FormatError("%s: input too large" % path)
