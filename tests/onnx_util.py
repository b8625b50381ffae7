"""Helpers for the ONNX tests: export torch models, run onnxruntime, compare."""
import functools
import io
import warnings

import numpy as np

# Whole models vs onnxruntime: max abs error <= 1e-4 times the output's magnitude (at least 1).
# Both sides are float32 with different summation orders; 1e-4 is the model bound.
TOL_MODEL = 1e-4


def export(module, shape, opset, dynamic=True):
    """torch.onnx.export (the TorchScript exporter, dynamo=False) -> model bytes."""
    import torch
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), torch.randn(*shape), f, dynamo=False, opset_version=opset,
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}} if dynamic else None)
    return f.getvalue()


def export_outputs(net, x, dynamic, nout, dynamo=False):
    """torch.onnx.export of net at input x (a tensor) -> model bytes: input "x", outputs "y0".."y<nout-1>",
    the batch dynamic or not; the TorchScript exporter at opset 17, or with dynamo=True torch's default
    (dynamo) exporter."""
    import torch
    buf = io.BytesIO()
    onames = ["y%d" % i for i in range(nout)]
    if dynamo:
        kw = {"dynamic_shapes": ({0: torch.export.Dim("n", min=1, max=64)},)} if dynamic else {}
        torch.onnx.export(net, (x,), buf, dynamo=True, verbose=False, input_names=["x"], output_names=onames, **kw)
    else:
        kw = {"dynamic_axes": {"x": {0: "n"}, **{o: {0: "n"} for o in onames}}} if dynamic else {}
        torch.onnx.export(net, (x,), buf, dynamo=False, opset_version=17, input_names=["x"], output_names=onames,
                          **kw)
    return buf.getvalue()


@functools.lru_cache(maxsize=None)
def _session(data):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def reference(data, x, fixed_batch=None):
    """onnxruntime's outputs for x; a model with a fixed batch b runs in slices of b; a model
    onnxruntime refuses (opset < 7) runs on onnx's ReferenceEvaluator."""
    import onnx
    m = onnx.load_from_string(data)
    name = [i.name for i in m.graph.input if i.name not in {t.name for t in m.graph.initializer}][0]
    try:
        sess = _session(data)
        run = lambda a: sess.run(None, {name: a})  # noqa: E731
    except Exception:  # noqa: BLE001 - onnxruntime has no kernels for the oldest opsets
        from onnx.reference import ReferenceEvaluator
        ev = ReferenceEvaluator(m)
        run = lambda a: ev.run(None, {name: a})  # noqa: E731
    if fixed_batch:
        parts = [run(x[i:i + fixed_batch]) for i in range(0, x.shape[0], fixed_batch)]
        return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
    return run(x)


def assert_matches(got, want, what="output"):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, "%s: shape %s != %s" % (what, got.shape, want.shape)
    # NaN where the reference has NaN (sqrt / log of a negative), the same infinities; the rest within
    # the tolerance, scaled by the finite reference
    nan = np.isnan(want)
    assert (np.isnan(got) == nan).all(), "%s: NaN at other positions than the reference" % what
    inf = np.isinf(want)
    assert (np.isinf(got) == inf).all() and (got[inf] == want[inf]).all(), \
        "%s: infinities differ from the reference" % what
    fin = ~nan & ~inf
    got, want = got[fin], want[fin]
    scale = max(1.0, float(np.abs(want).max()) if want.size else 1.0)
    err = float(np.abs(got.astype(np.float64) - want).max()) if want.size else 0.0
    assert err <= TOL_MODEL * scale, "%s: max abs err %.3g > %.3g" % (what, err, TOL_MODEL * scale)
