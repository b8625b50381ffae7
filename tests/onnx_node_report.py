"""ONNX's own node test cases (onnx.backend.test.case.node) for the ops a CNN uses, run through fastnorm.

    python -m tests.onnx_node_report        # from the repo root: every case with its outcome

The cases are generated in memory by the installed onnx package (its data dir may be empty). A case
feeds weights, scales, pads, ... as graph inputs; fastnorm needs those as constants, so this harness
turns every input that is not an activation (see ACTIVATION_INPUTS) into an initializer holding the
case's value. Comparison: ONNX's runner tolerance, rtol=1e-3 atol=1e-7
(onnx/backend/test/case/node/__init__.py, applied in onnx/backend/test/runner/__init__.py).
"""
import re
import warnings

import numpy as np

RTOL, ATOL = 1e-3, 1e-7

CNN_OPS = ("Conv", "ConvTranspose", "BatchNormalization", "InstanceNormalization", "LayerNormalization",
           "GroupNormalization", "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish",
           "Elu", "Selu", "PRelu", "Softplus", "Mish", "Gelu", "Softmax", "LogSoftmax", "MaxPool",
           "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div",
           "Sum", "Mean", "Concat", "Flatten", "Reshape", "Pad", "Resize", "Upsample", "Dropout", "Identity",
           "DepthToSpace", "SpaceToDepth")

# ops whose every input is an activation; for the rest only input 0 is
ACTIVATION_INPUTS = {"Add", "Sub", "Mul", "Div", "Sum", "Mean", "Concat"}

# Cases that must raise UnsupportedError, with the reason. Every other case considered must pass.
UNSUPPORTED = {
}

# Cases not considered at all (not a CNN use of the op), with the reason.
NOT_CONSIDERED = {
}


def _cases():
    from onnx.backend.test.case.node import collect_testcases
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases(None)
    out = []
    for case in cases:
        g = case.model.graph
        if case.name.endswith(("_expanded", "_expanded_ver18")) or "_expanded" in case.name:
            continue
        ops = {n.op_type for n in g.node}
        if len(g.node) != 1 or not ops & set(CNN_OPS):
            continue
        out.append((case.name, case, False))
        if len(g.output) > 1:
            out.append((case.name + Y_ONLY, case, True))
    return sorted(out, key=lambda c: c[0])


Y_ONLY = ":Y_only"   # a derived case: the same node with only its first output (Y) kept


def prepared(case, data_index=0, y_only=False):
    """(model bytes with constant inputs as initializers, activation feeds, expected outputs)."""
    import onnx
    from onnx import numpy_helper
    m = onnx.ModelProto()
    m.CopyFrom(case.model)
    g = m.graph
    node = g.node[0]
    inputs, outputs = case.data_sets[data_index]
    names = [vi.name for vi in g.input]
    feeds = {}
    keep = []
    for i, (vi, arr) in enumerate(zip(list(g.input), inputs)):
        pos = list(node.input).index(vi.name) if vi.name in node.input else -1
        if pos == 0 or node.op_type in ACTIVATION_INPUTS:
            feeds[vi.name] = np.asarray(arr)
            keep.append(vi)
        else:
            g.initializer.append(numpy_helper.from_array(np.asarray(arr), vi.name))
    del g.input[:]
    g.input.extend(keep)
    expected = {vo.name: np.asarray(o) for vo, o in zip(g.output, outputs)}
    if y_only:
        first = node.output[0]
        keep_out = [vo for vo in g.output if vo.name == first]
        del g.output[:]
        g.output.extend(keep_out)
        expected = {first: expected[first]}
    del names
    return m.SerializeToString(), feeds, expected


def run_case(case, y_only=False):
    """('pass', '') | ('unsupported', message) | ('fail', message)."""
    import fastnorm
    try:
        data, feeds, expected = prepared(case, y_only=y_only)
        model = fastnorm.from_onnx(data)
        got = model.run({k: np.asarray(v) for k, v in feeds.items()})
    except fastnorm.UnsupportedError as e:
        return "unsupported", str(e)
    except Exception as e:  # noqa: BLE001
        return "fail", "%s: %s" % (type(e).__name__, e)
    for name, want in expected.items():
        if name not in got:
            return "fail", "output %r missing" % name
        g = got[name]
        if g.shape != want.shape:
            return "fail", "output %r: shape %s, expected %s" % (name, g.shape, want.shape)
        if not np.allclose(g, want.astype(np.float32), rtol=RTOL, atol=ATOL, equal_nan=True):
            err = np.abs(g.astype(np.float64) - want)
            return "fail", "output %r: max abs err %.3g" % (name, np.nanmax(err))
    return "pass", ""


def main():
    cases = _cases()
    counts = {"pass": 0, "unsupported": 0, "fail": 0}
    rows = []
    for name, case, y_only in cases:
        status, msg = run_case(case, y_only)
        counts[status] += 1
        rows.append((name, status, msg))
    for name, status, msg in rows:
        msg = re.sub(r"\s+", " ", msg)
        print("%-58s %-12s %s" % (name, status, msg[:300]))
    print("\npassed %d of %d considered (%d unsupported, %d failing)"
          % (counts["pass"], len(cases), counts["unsupported"], counts["fail"]))


if __name__ == "__main__":
    main()
