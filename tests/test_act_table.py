"""Every activation row of the op table (fastnorm/optable.py) works end to end, read from the table itself:
a new row is covered here without a line of its own.

For each row that runs on fn_act (ActKernel): fastnorm.ops has the function; its torch module
(the row's "nn.<Module>" name, default arguments) between two convs goes through fastnorm.from_torch and
through an ONNX export (TorchScript exporter, opset 18) + fastnorm.from_onnx, under every ISA, at batch 1
and 3, and matches torch in eval mode; and the node the frontends produce is the row's op. Accuracy of
each kernel on its own (sweeps, edge values) is test_act_ops.py's job.
"""
import numpy as np
import pytest
from util import assert_ran, importorskip

import fastnorm
import fastnorm.ops
from fastnorm import optable

torch = importorskip("torch")
nn = torch.nn
from onnx_util import assert_matches, export  # noqa: E402

ROWS = optable.activations()
OPSET = 18


def _module_name(row):
    mods = [t[len("nn."):] for t in row.torch if t.startswith("nn.")]
    return mods[0] if mods else None


def _net(row, seed):
    torch.manual_seed(seed)
    act = getattr(nn, _module_name(row))()
    return nn.Sequential(nn.Conv2d(3, 7, 3, padding=1), act, nn.Conv2d(7, 5, 1)).eval()


def _x(batch, seed):
    # wide enough to reach every branch of the piecewise activations (|x| > 3, > 20 after the conv)
    return (np.random.default_rng(seed).standard_normal((batch, 3, 9, 11)) * 8).astype(np.float32)


def _ops_of(model):
    return {n.op for n in model.graph.nodes} | {n.op for n in model.source_graph.nodes}


def test_table_has_activation_rows():
    assert len(ROWS) >= 12
    assert all(r.act is not None and r.category == optable.ACTIVATION for r in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_every_row_has_a_functional_form_and_a_kernel(row):
    assert callable(getattr(fastnorm.ops, row.name, None)), "fastnorm.ops.%s missing" % row.name
    kind, _ = row.act.lower({})
    assert isinstance(getattr(fastnorm._C, "ACTK_" + kind, None), int), "no C kind ACTK_%s" % kind


@pytest.mark.parametrize("row", [r for r in ROWS if _module_name(r)], ids=lambda r: r.name)
def test_every_row_through_torch(isa, row):
    net = _net(row, 1)
    x1 = _x(3, 2)
    with torch.no_grad():
        want = net(torch.from_numpy(x1)).numpy()
    m = fastnorm.from_torch(net, torch.from_numpy(x1[:1]))
    assert row.name in _ops_of(m), "from_torch did not map nn.%s to %r" % (_module_name(row), row.name)
    assert_matches(m.predict(x1), want, "from_torch, %s" % row.name)
    assert_matches(m.predict(x1[:1]), want[:1], "from_torch batch 1, %s" % row.name)
    assert_ran(isa)


ONNX_NAMES = [(r, o) for r in ROWS for o in r.onnx if not o.startswith("_")]
# ONNX's HardSigmoid defaults to alpha 0.2, another function than torch's (alpha 1/6): that one runs as
# mul/add/clamp (checked against onnxruntime below too); with torch's alpha it is the table's row
ROW_ATTRS = {"HardSigmoid": {"alpha": 1.0 / 6.0}}


@pytest.mark.parametrize("row", [r for r in ROWS if _module_name(r)], ids=lambda r: r.name)
def test_every_row_through_an_onnx_export(isa, row):
    """The exporter may decompose (mish at opset 18 is x * tanh(softplus(x)), softsign x / (1 + |x|)):
    the answer must match torch, or the import must refuse cleanly, naming op types the table has no row
    for (never a wrong answer)."""
    onnx = importorskip("onnx")
    net = _net(row, 3)
    x1 = _x(3, 4)
    with torch.no_grad():
        want = net(torch.from_numpy(x1)).numpy()
    data = export(net, (1, 3, 9, 11), OPSET)
    try:
        m = fastnorm.from_onnx(data)
    except fastnorm.UnsupportedError as e:
        known = {o for r in optable.OPS.values() for o in r.onnx}
        missing = {n.op_type for n in onnx.load_from_string(data).graph.node} - known
        assert missing and any(o in str(e) for o in missing), (
            "refused %s's export, but every op type in it has a row: %s" % (row.name, e))
        return
    assert_matches(m.predict(x1), want, "ONNX export, %s" % row.name)
    assert_ran(isa)


@pytest.mark.parametrize("row,op_type", ONNX_NAMES, ids=["%s-%s" % (r.name, o) for r, o in ONNX_NAMES])
def test_every_onnx_name_maps_to_its_row(isa, row, op_type):
    """One ONNX node of each op type the row answers to (attributes at their defaults) is the row's op,
    and gives onnxruntime's answer."""
    onnx = importorskip("onnx")
    ort = importorskip("onnxruntime")
    from onnx import TensorProto, helper
    for attrs in ({}, ROW_ATTRS.get(op_type)):
        if attrs is not None:
            _one_onnx_node(isa, row, op_type, attrs, helper, TensorProto, onnx, ort, attrs or op_type not in ROW_ATTRS)


def _one_onnx_node(isa, row, op_type, attrs, helper, TensorProto, onnx, ort, is_row):
    node = helper.make_node(op_type, ["x"], ["y"], **attrs)
    opset = max(OPSET, onnx.defs.get_schema(op_type).since_version)
    shape = [2, 3, 5, 7]
    g = helper.make_graph([node], "one", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    data = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()
    onnx.checker.check_model(onnx.load_from_string(data))
    x = _x(2, 5)[:, :, :5, :7].copy()
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    m = fastnorm.from_onnx(data)
    if is_row:
        assert row.name in _ops_of(m), "ONNX %s%s did not map to %r" % (op_type, attrs, row.name)
    assert_matches(m.predict(x), want, "ONNX %s" % op_type)
    assert_ran(isa)
