"""Three ONNX constructs the frontend used to refuse, against onnxruntime (CPUExecutionProvider) under every
ISA: MatMul of a constant A by an activation B (frontends/onnx/conv.py: a linear between two swaps of B's
last dims, or a grouped 1x1 conv for a per-head A), If whose condition is known at load time (its taken
branch inlined: frontends/onnx/control.py), and Einsum equations that are a permute or a matrix product
(frontends/onnx/einsum.py). The forms still refused are pinned by the message naming them, and malformed
subgraphs / equations by a FormatError saying what is wrong. Bound: tests/util.py assert_model_close;
bool outputs exact."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from util import assert_model_close, importorskip

ort = importorskip("onnxruntime")
onnx = importorskip("onnx")

import fastnorm  # noqa: E402
from fastnorm.testing import available_isas, force_isa  # noqa: E402
from onnx import TensorProto as TP, helper, numpy_helper  # noqa: E402

ort.set_default_logger_severity(3)
U, F = fastnorm.UnsupportedError, fastnorm.FormatError


# ---------------------------------------------------------------------------------------------- helpers

def _vi(name, shape, dtype=TP.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def _init(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def _model(nodes, inputs, outputs, inits=(), opset=13):
    """Model bytes: inputs are (name, declared shape) pairs, outputs names (float) or (name, elem type)."""
    outs = [_vi(o, None) if isinstance(o, str) else _vi(o[0], None, o[1]) for o in outputs]
    g = helper.make_graph(nodes, "g", [_vi(n, s) for n, s in inputs], outs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def _branch(name, nodes, outs, inits=(), inputs=()):
    return helper.make_graph(nodes, name, list(inputs), [_vi(o, None) for o in outs], list(inits))


def _load(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # fixed-batch notes
        return fastnorm.from_onnx(data)


def _ort(data, feeds):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    return [o.name for o in s.get_outputs()], s.run(None, feeds)


def _check(data, feeds_list, isas=None, model=None):
    """fastnorm's outputs for each feed dict equal onnxruntime's, under every ISA; returns the model."""
    model = model or _load(data)
    wants = [_ort(data, f) for f in feeds_list]
    for isa in isas or available_isas():
        with force_isa(isa):
            for f, (names, want) in zip(feeds_list, wants):
                got = model.run(f)
                assert sorted(got) == sorted(names)
                for n, w in zip(names, want):
                    g = np.asarray(got[n])
                    what = "output %r, inputs %s (%s)" % (n, {k: v.shape for k, v in f.items()}, isa)
                    if w.dtype.kind in "iub":
                        assert g.shape == w.shape and g.dtype == w.dtype and (g == w).all(), what
                    else:
                        assert_model_close(g.astype(np.float32), w, what)
    return model


def _x(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _w(rng, *shape):
    return (rng.standard_normal(shape) / np.sqrt(shape[-1])).astype(np.float32)


# ---------------------------------------------------------------------------------------------- MatMul W @ x

# (A's shape, B's declared shape (N: dynamic batch), the batches run)
MATMUL_CONST_A = [
    ((6, 5), ["N", 5, 7], (1, 3)),            # DETR-style W @ x on (N, K, L)
    ((1, 5), ["N", 5, 3], (1, 3)),            # M = 1: the swaps are reshapes
    ((7, 3), ["N", 2, 3, 1], (1, 3)),         # N = 1, a 4-D B
    ((4, 9), ["N", 2, 3, 9, 5], (1, 3)),      # 5-D B
    ((5,), ["N", 5, 7], (1, 3)),              # a 1-D A: (N, 7)
    ((5,), ["N", 3, 5, 1], (1, 3)),
    ((1, 1, 6, 5), ["N", 2, 5, 7], (1, 3)),   # leading ones of A broadcast
    ((2, 6, 5), ["N", 2, 5, 7], (1, 3)),      # one A per head: a grouped 1x1 conv
    ((1, 3, 4, 5), ["N", 3, 5, 2], (1, 3)),
    ((2, 3, 4, 5), ["N", 2, 3, 5, 6], (1, 3)),
    ((6, 5), [3, 5, 7], (3,)),                # a declared batch
    ((6, 5), [5, 7], (5,)),                   # 2-D B: its first dim contracted (the batch fixed at 5)
    ((1, 1, 6, 5), [2, 5, 7], (2,)),          # A of higher rank than B: a leading 1 added (fixed batch)
]


@pytest.mark.parametrize("a_shape,b_shape,batches", MATMUL_CONST_A)
def test_matmul_constant_a_matches_onnxruntime(a_shape, b_shape, batches):
    rng = np.random.default_rng(len(a_shape) * 100 + len(b_shape))
    data = _model([helper.make_node("MatMul", ["A", "x"], ["y"])], [("x", b_shape)], ["y"],
                  [_init("A", _w(rng, *a_shape))])
    model = _check(data, [{"x": _x(rng, b, *b_shape[1:])} for b in batches])
    if b_shape[0] == "N":
        assert model.inputs[0].shape[0] is None     # the batch stayed dynamic


@settings(max_examples=12, deadline=None)
@given(m=st.integers(1, 9), k=st.integers(1, 9), n=st.integers(1, 9), mid=st.lists(st.integers(1, 3), max_size=2),
       vec=st.booleans())
def test_matmul_constant_a_any_sizes(m, k, n, mid, vec):
    rng = np.random.default_rng(m * 81 + k * 9 + n)
    a = _w(rng, k) if vec else _w(rng, m, k)
    data = _model([helper.make_node("MatMul", ["A", "x"], ["y"])], [("x", ["N"] + mid + [k, n])], ["y"],
                  [_init("A", a)])
    _check(data, [{"x": _x(rng, b, *mid, k, n)} for b in (1, 3)], isas=available_isas()[-1:])


def test_matmul_constant_a_feeds_a_later_layer():
    """W @ x then a bias and a relu (DETR's query projection): the frontend's result composes."""
    rng = np.random.default_rng(1)
    data = _model([helper.make_node("MatMul", ["A", "x"], ["m"]), helper.make_node("Add", ["m", "bias"], ["s"]),
                   helper.make_node("Relu", ["s"], ["y"])], [("x", ["N", 8, 5])], ["y"],
                  [_init("A", _w(rng, 3, 8)), _init("bias", _x(rng, 3, 1))])
    _check(data, [{"x": _x(rng, 1, 8, 5)}, {"x": _x(rng, 3, 8, 5)}])


def test_matmul_constant_a_shape_mismatch_is_malformed():
    data = _model([helper.make_node("MatMul", ["A", "x"], ["y"])], [("x", ["N", 5, 7])], ["y"],
                  [_init("A", np.ones((6, 4), np.float32))])
    with pytest.raises(F, match=r"A \[6, 4\] and B \['N', 5, 7\] do not fit \(A's last dim 4, B's second-to-last 5\)"):
        _load(data)


@pytest.mark.parametrize("a_shape,b_shape,message", [
    ((3, 6, 5), ["N", 2, 5, 7], r"constant A \[3, 6, 5\] whose leading dims \[3\] broadcast against B"),
    ((2, 2, 6, 5), ["N", 5, 7], r"constant A \[2, 2, 6, 5\] with more non-unit leading dims than B"),
    ((4, 5), ["N", 5], r"\(MatMul, opset 13\): A \[4, 5\] contracts over B \['N', 5\]'s batch"),
])
def test_matmul_constant_a_refused_forms(a_shape, b_shape, message):
    data = _model([helper.make_node("MatMul", ["A", "x"], ["y"])], [("x", b_shape)], ["y"],
                  [_init("A", np.ones(a_shape, np.float32))])
    with pytest.raises(U, match=message):
        _load(data)


# ---------------------------------------------------------------------------------------------- If

def _if(cond, then_g, else_g, outs=("y",), name=""):
    return helper.make_node("If", [cond], list(outs), name=name, then_branch=then_g, else_branch=else_g)


def _relu_sigmoid(extra_then=(), then_inits=()):
    then_g = _branch("then", list(extra_then) + [helper.make_node("Relu", ["r"], ["t_out"])], ["t_out"], then_inits)
    else_g = _branch("else", [helper.make_node("Sigmoid", ["r"], ["e_out"])], ["e_out"])
    return then_g, else_g


@pytest.mark.parametrize("cond", [True, False])
@pytest.mark.parametrize("how", ["initializer", "constant_node", "folded"])
def test_if_constant_condition_inlines_the_taken_branch(cond, how):
    rng = np.random.default_rng(int(cond))
    nodes = [helper.make_node("Conv", ["x", "W"], ["r"], pads=[1, 1, 1, 1])]
    inits = [_init("W", _w(rng, 4, 3, 3, 3))]
    if how == "initializer":
        inits.append(_init("c", np.array(cond)))
    elif how == "constant_node":
        nodes.append(helper.make_node("Constant", [], ["c"], value=_init("v", np.array(cond))))
    else:   # Not(Greater(2, 1)): folded at load time
        nodes.append(helper.make_node("Greater", ["two", "one"], ["g"]))
        nodes.append(helper.make_node("Not" if not cond else "Identity", ["g"], ["c"]))
        inits += [_init("two", np.float32(2)), _init("one", np.float32(1))]
    nodes.append(_if("c", *_relu_sigmoid()))
    data = _model(nodes, [("x", ["N", 3, 5, 7])], ["y"], inits)
    model = _check(data, [{"x": _x(rng, 1, 3, 5, 7)}, {"x": _x(rng, 3, 3, 5, 7)}])
    # only the taken branch was converted, its nodes named under the If
    ops = {n.op: n.name for n in model.source_graph.nodes}
    assert ("sigmoid" in ops) != cond and ("relu" in ops) == cond
    assert ops["relu" if cond else "sigmoid"].startswith("If_")


def test_if_condition_from_the_shape():
    """If(Equal(Shape(x)[1], 3)): a known dim, folded with the batch dynamic; If(Equal(Shape(x)[0], 1))
    on a declared batch converts at that batch (batch 1: the then branch, 3: the else branch)."""
    rng = np.random.default_rng(2)

    def build(axis, declared):
        nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "i"], ["d"]),
                 helper.make_node("Equal", ["d", "v"], ["c"]),
                 _if("c", _branch("then", [helper.make_node("Neg", ["x"], ["t"])], ["t"]),
                     _branch("else", [helper.make_node("Tanh", ["x"], ["e"])], ["e"]))]
        return _model(nodes, [("x", [declared, 3, 4, 5])], ["y"],
                      [_init("i", np.array(axis, np.int64)), _init("v", np.array(3 if axis else 1, np.int64))])
    model = _check(build(1, "N"), [{"x": _x(rng, 1, 3, 4, 5)}, {"x": _x(rng, 3, 3, 4, 5)}])
    assert model.inputs[0].shape[0] is None
    for b in (1, 3):
        model = _check(build(0, b), [{"x": _x(rng, b, 3, 4, 5)}])
        assert model.inputs[0].shape[0] == b


def test_if_condition_from_a_dynamic_batch_is_refused():
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "i"], ["d"]),
             helper.make_node("Equal", ["d", "one"], ["c"]),
             _if("c", _branch("then", [helper.make_node("Neg", ["x"], ["t"])], ["t"]),
                 _branch("else", [helper.make_node("Tanh", ["x"], ["e"])], ["e"]))]
    data = _model(nodes, [("x", ["N", 3, 4, 5])], ["y"], [_init("i", np.array(0, np.int64)),
                                                           _init("one", np.array(1, np.int64))])
    with pytest.raises(U, match=r"\(If, opset 13\): If with a condition computed from the batch size \('c'\)"):
        _load(data)


def test_if_condition_from_the_input_is_refused():
    nodes = [helper.make_node("Greater", ["x", "z"], ["c"]),
             _if("c", *_relu_sigmoid())]
    data = _model(nodes, [("x", ["N", 3]), ("r", ["N", 3])], ["y"], [_init("z", np.float32(0))])
    with pytest.raises(U, match=r"'If_1' \(If, opset 13\): If with a condition computed from the input \('c'\)"):
        _load(data)


def test_if_branch_initializers_join_the_constants():
    """The taken branch's own initializer 'k' (also the name of the untaken branch's) and the outer 'w' it
    reads; the outer nodes keep theirs."""
    rng = np.random.default_rng(3)
    then_g, else_g = _relu_sigmoid([helper.make_node("Mul", ["r0", "k"], ["r1"]),
                                    helper.make_node("Add", ["r1", "w"], ["r"])],
                                   [_init("k", np.full((3, 1, 1), 2.0, np.float32))])
    else_g = _branch("else", [helper.make_node("Mul", ["r0", "k"], ["e0"]), helper.make_node("Neg", ["e0"], ["e"])],
                     ["e"], [_init("k", _x(rng, 4, 1))])
    nodes = [helper.make_node("Add", ["x", "w"], ["r0"]), _if("c", then_g, else_g, ("y0",)),
             helper.make_node("Mul", ["y0", "w"], ["y"])]
    for cond in (True, False):
        data = _model(nodes, [("x", ["N", 3, 4, 5])], ["y"],
                      [_init("w", _x(rng, 3, 1, 1)), _init("c", np.array(cond))])
        _check(data, [{"x": _x(rng, 1, 3, 4, 5)}, {"x": _x(rng, 3, 3, 4, 5)}])


def test_two_ifs_whose_branches_use_the_same_names():
    """The second If's 't' is renamed on inlining: the first's is taken."""
    rng = np.random.default_rng(4)

    def ite(op):
        return (_branch("a", [helper.make_node(op, ["x"], ["t"])], ["t"]),
                _branch("b", [helper.make_node("Neg", ["x"], ["t"])], ["t"]))
    data = _model([_if("c", *ite("Relu"), outs=("y1",)), _if("c", *ite("Sigmoid"), outs=("y2",)),
                   helper.make_node("Sub", ["y1", "y2"], ["y"])],
                  [("x", ["N", 6])], ["y", "y1"], [_init("c", np.array(True))])
    _check(data, [{"x": _x(rng, 1, 6)}, {"x": _x(rng, 3, 6)}])


def test_nested_if_and_several_outputs():
    """An If in the taken branch (its condition a Constant node there) reads a value of the branch and one
    of the outer graph; the outer If has two outputs, one a bool."""
    rng = np.random.default_rng(5)
    inner = _if("c2", _branch("it", [helper.make_node("Mul", ["t", "k"], ["u"])], ["u"]),
                _branch("ie", [helper.make_node("Neg", ["t"], ["u"])], ["u"]), outs=("t2",))
    then_g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["t"]),
         helper.make_node("Constant", [], ["c2"], value=_init("v", np.array(True))), inner,
         helper.make_node("Greater", ["t2", "half"], ["mask"])],
        "then", [], [_vi("t2", None), _vi("mask", None, TP.BOOL)])
    else_g = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["n"]), helper.make_node("Less", ["n", "half"], ["m2"])],
        "else", [], [_vi("n", None), _vi("m2", None, TP.BOOL)])
    for cond in (True, False):
        data = _model([_if("c", then_g, else_g, outs=("y", "mask_out"))], [("x", ["N", 3, 4])],
                      ["y", ("mask_out", TP.BOOL)],
                      [_init("c", np.array(cond)), _init("k", _x(rng, 3, 4)), _init("half", np.float32(0.5))])
        model = _check(data, [{"x": _x(rng, 1, 3, 4)}, {"x": _x(rng, 3, 3, 4)}])
        assert model.run({"x": _x(rng, 2, 3, 4)})["mask_out"].dtype == np.bool_


def test_if_branch_idioms_are_matched():
    """torch's erf-GELU inside the taken branch becomes one gelu, as in the main graph."""
    rng = np.random.default_rng(11)
    then_g = _branch("then", [
        helper.make_node("Div", ["x", "sqrt2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
        helper.make_node("Add", ["e", "one"], ["a"]), helper.make_node("Mul", ["x", "a"], ["m"]),
        helper.make_node("Mul", ["m", "half"], ["g"])], ["g"],
        [_init("sqrt2", np.float32(np.sqrt(2))), _init("one", np.float32(1)), _init("half", np.float32(0.5))])
    data = _model([_if("c", then_g, _relu_branch())], [("x", ["N", 7])], ["y"], [_init("c", np.array(True))])
    model = _check(data, [{"x": _x(rng, 1, 7)}, {"x": _x(rng, 3, 7)}])
    assert [n.op for n in model.source_graph.nodes] == ["gelu"]


def test_if_branch_constant_folded_by_the_reference_evaluator():
    """A branch node folded by onnx's evaluator (Trilu of a constant: the node is written back to bytes)."""
    rng = np.random.default_rng(12)
    then_g = _branch("then", [helper.make_node("Trilu", ["m"], ["tri"]),
                              helper.make_node("MatMul", ["x", "tri"], ["o"])], ["o"], [_init("m", _x(rng, 5, 5))])
    data = _model([_if("c", then_g, _relu_branch())], [("x", ["N", 3, 5])], ["y"], [_init("c", np.array(True))],
                  opset=14)
    _check(data, [{"x": _x(rng, 1, 3, 5)}, {"x": _x(rng, 3, 3, 5)}])


def test_if_branch_producing_a_reshape_target():
    """Branches of Constant nodes only (a shape chosen by a constant condition), then a Reshape."""
    rng = np.random.default_rng(6)

    def const_branch(name, value):
        g = _branch(name, [helper.make_node("Constant", [], [name + "_v"], value=_init("v", value))], [name + "_v"])
        g.output[0].type.tensor_type.elem_type = TP.INT64
        return g
    data = _model([helper.make_node("Greater", ["a", "b"], ["c"]),
                   _if("c", const_branch("t", np.array([0, 4, 15], np.int64)),
                       const_branch("e", np.array([0, -1], np.int64)), outs=("shape",)),
                   helper.make_node("Reshape", ["x", "shape"], ["y"])],
                  [("x", ["N", 4, 3, 5])], ["y"], [_init("a", np.float32(2)), _init("b", np.float32(1))])
    _check(data, [{"x": _x(rng, 1, 4, 3, 5)}, {"x": _x(rng, 3, 4, 3, 5)}])


def test_if_local_names_that_clash_are_renamed():
    """Names onnxruntime refuses (a branch writing 'r', already an outer value; a branch returning an outer
    value directly) but that have one meaning: checked against NumPy."""
    rng = np.random.default_rng(7)
    then_g = _branch("then", [helper.make_node("Neg", ["x"], ["q"]), helper.make_node("Sigmoid", ["q"], ["r"])],
                     ["r"])
    data = _model([helper.make_node("Sigmoid", ["x"], ["r"]), _if("c", then_g, then_g, outs=("y0",)),
                   helper.make_node("Add", ["y0", "r"], ["y"])],
                  [("x", ["N", 5])], ["y"], [_init("c", np.array(True))])
    x = _x(rng, 3, 5).astype(np.float64)
    got = _load(data).run({"x": x.astype(np.float32)})["y"]
    assert_model_close(got, (1 / (1 + np.exp(x)) + 1 / (1 + np.exp(-x))).astype(np.float32), "renamed local 'r'")
    x = x.astype(np.float32)
    # a nested If reads the branch's 't', renamed (the main graph has a 't' too)
    inner = _if("c2", _branch("it", [helper.make_node("Mul", ["t", "t"], ["u"])], ["u"]),
                _branch("ie", [helper.make_node("Neg", ["t"], ["u"])], ["u"]), outs=("t2",))
    then_g = _branch("then", [helper.make_node("Neg", ["x"], ["t"]), inner], ["t2"], [_init("c2", np.array(True))])
    data = _model([helper.make_node("Sigmoid", ["x"], ["t"]), _if("c", then_g, then_g, outs=("y0",)),
                   helper.make_node("Add", ["y0", "t"], ["y"])],
                  [("x", ["N", 5])], ["y"], [_init("c", np.array(True))])
    got = _load(data).run({"x": x})["y"]
    assert_model_close(got, (x.astype(np.float64) ** 2 + 1 / (1 + np.exp(-x.astype(np.float64)))).astype(np.float32),
                       "nested If reading a renamed 't'")
    direct = helper.make_graph([], "then", [], [_vi("x", None)])
    data = _model([_if("c", direct, direct, outs=("y0",)), helper.make_node("Neg", ["y0"], ["y"])],
                  [("x", ["N", 5])], ["y"], [_init("c", np.array(False))])
    assert np.array_equal(_load(data).run({"x": x})["y"], -x)


def test_if_branch_liveness():
    """A dead unsupported node in the taken branch, and anything in the branch not taken, are ignored; an
    unsupported node the taken branch needs is named with the If's name as its prefix."""
    rng = np.random.default_rng(8)
    dead = _branch("then", [helper.make_node("Shrink", ["x"], ["dead"]), helper.make_node("Relu", ["x"], ["a"])],
                   ["a"])
    other = _branch("else", [helper.make_node("Shrink", ["x"], ["b"])], ["b"])
    data = _model([_if("c", dead, other, name="gate")], [("x", ["N", 5])], ["y"], [_init("c", np.array(True))])
    _check(data, [{"x": _x(rng, 3, 5)}])
    data = _model([_if("c", dead, other, name="gate")], [("x", ["N", 5])], ["y"], [_init("c", np.array(False))])
    with pytest.raises(U, match=r"node 'gate/Shrink_0' \(Shrink, opset 13\): op Shrink"):
        _load(data)


@pytest.mark.parametrize("how", ["initializer", "constant_node", "folded"])
def test_if_outer_values_only_the_untaken_branch_reads(how):
    """An outer value only the untaken branch reads, computed by an op fastnorm refuses: not converted when
    the file states the condition (an initializer, a Constant node); when the condition is folded during
    conversion, every branch's reads were live already, and the op is named."""
    rng = np.random.default_rng(10)
    nodes = [helper.make_node("Shrink", ["x"], ["s"]), helper.make_node("Relu", ["x"], ["r"])]
    inits = []
    if how == "initializer":
        inits.append(_init("c", np.array(True)))
    elif how == "constant_node":
        nodes.append(helper.make_node("Constant", [], ["c"], value=_init("v", np.array(True))))
    else:
        nodes.append(helper.make_node("Greater", ["two", "one"], ["c"]))
        inits += [_init("two", np.float32(2)), _init("one", np.float32(1))]
    nodes.append(_if("c", _branch("then", [helper.make_node("Neg", ["r"], ["t"])], ["t"]),
                     _branch("else", [helper.make_node("Neg", ["s"], ["e"])], ["e"])))
    data = _model(nodes, [("x", ["N", 5])], ["y"], inits)
    if how == "folded":
        with pytest.raises(U, match=r"\(Shrink, opset 13\): op Shrink"):
            _load(data)
    else:
        _check(data, [{"x": _x(rng, 3, 5)}])


def _relu_branch(name="ok"):
    return _branch(name, [helper.make_node("Relu", ["x"], ["ok_out"])], ["ok_out"])


def _short_tensor(name):
    """A float tensor of dims [4] whose raw_data holds 12 bytes (onnx.helper checks; the file need not)."""
    t = numpy_helper.from_array(np.zeros(3, np.float32), name)
    t.dims[0] = 4
    return t


MALFORMED_BRANCHES = {
    "two_outputs": (_branch("t", [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Neg", ["x"], ["b"])],
                            ["a", "b"]), r"the then_branch has 2 outputs, the If 1"),
    "output_not_written": (_branch("t", [helper.make_node("Relu", ["x"], ["a"])], ["zz"]),
                           r"the then_branch: output 'zz' is written by no node of the branch"),
    "not_topological": (_branch("t", [helper.make_node("Relu", ["b"], ["a"]), helper.make_node("Neg", ["x"], ["b"])],
                                ["a"]), r"node '#0' reads 'b', which is written later"),
    "declares_inputs": (_branch("t", [helper.make_node("Relu", ["x"], ["a"])], ["a"], inputs=[_vi("q", None)]),
                        r"the then_branch declares 1 inputs \(an If branch takes none\)"),
    "written_twice": (_branch("t", [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Neg", ["x"], ["a"])],
                              ["a"]), r"the then_branch: value 'a' is written twice"),
    "unnamed_output": (_branch("t", [helper.make_node("Relu", ["x"], ["a"])], [""]),
                       r"the then_branch: output 0 has no name"),
    "reads_nothing": (_branch("t", [helper.make_node("Relu", ["nope"], ["a"])], ["a"]),
                      r"node 'If_0/Relu_0' \(Relu, opset 13\): input 'nope' is not produced by any node"),
    "initializer_shadows_outer": (_branch("t", [helper.make_node("Add", ["x", "c"], ["a"])], ["a"],
                                          [_init("c", np.ones(4, np.float32))]),
                                  r"the then_branch's initializer 'c' has the name of an outer value"),
    "rewrites_an_outer_name": (_branch("t", [helper.make_node("Relu", ["x"], ["q"]),
                                             helper.make_node("Neg", ["q"], ["x"])], ["x"]),
                               r"node '#0' reads 'x' before node '#1' of the branch writes that outer value's name"),
    "bad_initializer": (_branch("t", [helper.make_node("Add", ["x", "k"], ["a"])], ["a"],
                                [_short_tensor("k")]),
                        r"the then_branch's initializer 'k' cannot be read: .*raw_data holds 12 bytes"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_BRANCHES))
def test_if_malformed_branch_is_a_format_error(case):
    then_g, message = MALFORMED_BRANCHES[case]
    data = _model([_if("c", then_g, _relu_branch())], [("x", ["N", 4])], ["y"], [_init("c", np.array(True))])
    with pytest.raises(F, match=message):
        _load(data)


@pytest.mark.parametrize("cond,message", [
    (np.array([True, False]), r"cond 'c' has 2 elements \(one bool is expected\)"),
    (np.array(1.5, np.float32), r"cond 'c' of dtype float32 \(a bool is expected\)"),
    (np.array(False), r"attribute 'else_branch' is missing or not a graph \(the condition is False\)"),
])
def test_if_malformed_condition_or_attribute(cond, message):
    node = helper.make_node("If", ["c"], ["y"], then_branch=_relu_branch())
    data = _model([node], [("x", ["N", 4])], ["y"], [_init("c", cond)])
    with pytest.raises(F, match=message):
        _load(data)


@settings(max_examples=40, deadline=None)
@given(pos=st.integers(0, 10 ** 6), byte=st.integers(0, 255), cut=st.booleans())
def test_if_corrupt_subgraph_bytes_raise_fastnorm_errors(pos, byte, cut):
    """A byte of the then branch changed, or the file cut inside it: fastnorm's reader and the inliner
    answer with FormatError / UnsupportedError (or load a model that runs), never another exception."""
    rng = np.random.default_rng(9)
    then_g = _branch("then", [helper.make_node("Mul", ["x", "k"], ["a"]), helper.make_node("Relu", ["a"], ["b"])],
                     ["b"], [_init("k", _x(rng, 4))])
    data = _model([_if("c", then_g, _relu_branch())], [("x", ["N", 4])], ["y"], [_init("c", np.array(True))])
    sub = then_g.SerializeToString()
    start = data.find(sub)
    assert start > 0
    p = start + pos % len(sub)
    bad = data[:p] if cut else data[:p] + bytes([byte]) + data[p + 1:]
    try:
        model = _load(bad)
    except (F, U):
        return
    out = model.run({"x": _x(rng, 2, 4)})
    assert len(out) == 1


# ---------------------------------------------------------------------------------------------- Einsum

# (equation, operand specs: ("x", declared shape) an activation, or a constant's shape, the batches run)
EINSUM = [
    ("bij,bjk->bik", [["N", 4, 5], ["N", 5, 3]], (1, 3)),
    ("bhqd,bhkd->bhqk", [["N", 2, 5, 3], ["N", 2, 7, 3]], (1, 3)),
    ("bhqk,bhkd->bhqd", [["N", 2, 5, 7], ["N", 2, 7, 3]], (1, 3)),
    ("...ij,...jk->...ik", [["N", 2, 4, 5], ["N", 2, 5, 3]], (1, 3)),
    ("...ik,...kj", [["N", 3, 5], ["N", 5, 2]], (1, 3)),                 # implicit: '...ij'
    ("...ij,...jk->...ik", [["N", 2, 4, 5], ["N", 1, 5, 3]], (1, 3)),    # a '...' dim of 1 broadcast
    ("b i j , b j K -> b i K", [["N", 4, 5], ["N", 5, 3]], (1, 3)),      # spaces, an upper-case index
    ("bij,bkj->bki", [["N", 4, 5], ["N", 3, 5]], (1, 3)),
    ("bi,bj->bij", [["N", 4], ["N", 3]], (1, 3)),                        # no contracted index
    ("bij,bij->bi", [["N", 4, 5], ["N", 4, 5]], (1, 3)),                 # a row-wise dot
    ("bij,jk->bik", [["N", 4, 5], (5, 3)], (1, 3)),
    ("bij,kj->bki", [["N", 4, 5], (3, 5)], (1, 3)),
    ("bi,ij", [["N", 5], (5, 3)], (1, 3)),                               # implicit: 'bj'
    ("ij,jk->ik", [["N", 5], (5, 3)], (1, 3)),
    ("bchw,ck->bkhw", [["N", 4, 5, 3], (4, 6)], (1, 3)),                 # a 1x1 conv
    ("ck,bchw->bkhw", [(4, 6), ["N", 4, 5, 3]], (1, 3)),
    ("nchw,cd->ndhw", [["N", 3, 5, 6], (3, 4)], (1, 3)),
    ("bhxyd,rd->bhxyr", [["N", 2, 3, 4, 5], (6, 5)], (1, 3)),            # BoTNet's relative logits
    ("bcd,cde->be", [["N", 3, 4], (3, 4, 5)], (1, 3)),                   # two contracted indices
    ("bc,cde->bde", [["N", 3], (3, 4, 5)], (1, 3)),                      # two free indices of the constant
    ("bij,jkl->bikl", [["N", 2, 3], (3, 1, 4)], (1, 3)),
    ("bij->bji", [["N", 4, 5]], (1, 3)),
    ("nchw->nhwc", [["N", 3, 4, 5]], (1, 3)),
    ("...ij->...ji", [["N", 2, 4, 5]], (1, 3)),
    ("ij->ji", [[3, 5]], (3,)),                                          # a declared batch: it may move
    ("ij,jk->ik", [[3, 5], [5, 4]], (3,)),                               # two activations, fixed batches
]


def _einsum_model(eq, specs, rng):
    ins, inits, names = [], [], []
    for i, s in enumerate(specs):
        if isinstance(s, list):
            ins.append(("x%d" % i, s))
            names.append("x%d" % i)
        else:
            inits.append(_init("w%d" % i, _w(rng, *s)))
            names.append("w%d" % i)
    data = _model([helper.make_node("Einsum", names, ["y"], equation=eq)], ins, ["y"], inits, opset=12)
    return data, ins


def _einsum_feeds(ins, batch, rng):
    # the inputs share a batch; a declared first dim is its own
    return {n: _x(rng, *[batch if d == "N" else d for d in s]) for n, s in ins}


@pytest.mark.parametrize("eq,specs,batches", EINSUM, ids=[e[0].replace(" ", "_") for e in EINSUM])
def test_einsum_matches_onnxruntime(eq, specs, batches):
    rng = np.random.default_rng(sum(map(ord, eq)))
    data, ins = _einsum_model(eq, specs, rng)
    _check(data, [_einsum_feeds(ins, b, rng) for b in batches])


@st.composite
def _matmul_equations(draw):
    """A two-operand contraction in random index orders: 'b' (the batch) first in each activation, then
    extra batch indices h, contracted c / d, free i (A's) and k (B's), some absent; B constant or not."""
    const_b = draw(st.booleans())
    extra = draw(st.lists(st.sampled_from("h"), max_size=1)) if not const_b else []
    contr = draw(st.lists(st.sampled_from("cd"), max_size=2, unique=True))
    free_a = draw(st.lists(st.sampled_from("ij"), max_size=2, unique=True))
    free_b = draw(st.lists(st.sampled_from("kl"), min_size=0 if contr else 1, max_size=2, unique=True))
    a = "b" + "".join(draw(st.permutations(extra + contr + free_a)))
    b_rest = "".join(draw(st.permutations((extra if not const_b else []) + contr + free_b)))
    b = b_rest if const_b else "b" + b_rest
    out = "b" + "".join(draw(st.permutations(extra + free_a + free_b)))
    size = {ch: draw(st.integers(1, 4)) for ch in "hcdijkl"}
    spec_a = ["N"] + [size[ch] for ch in a[1:]]
    spec_b = tuple(size[ch] for ch in b) if const_b else ["N"] + [size[ch] for ch in b[1:]]
    return "%s,%s->%s" % (a, b, out), [spec_a, spec_b]


@settings(max_examples=25, deadline=None)
@given(case=_matmul_equations())
def test_einsum_random_matmul_equations(case):
    eq, specs = case
    rng = np.random.default_rng(sum(map(ord, eq)))
    data, ins = _einsum_model(eq, specs, rng)
    _check(data, [_einsum_feeds(ins, b, rng) for b in (1, 3)], isas=available_isas()[-1:])


@pytest.mark.parametrize("eq,specs,exc,message", [
    ("bii->bi", [["N", 4, 4]], U, r"\(Einsum, opset 12\): Einsum 'bii->bi' \(a diagonal: index 'i' twice"),
    ("bij->bi", [["N", 4, 5]], U, r"Einsum 'bij->bi' \(a sum over index 'j'\)"),
    ("bij,bjk->bk", [["N", 4, 5], ["N", 5, 3]], U, r"Einsum 'bij,bjk->bk' \(a sum over index 'i' of one operand\)"),
    ("bij,bjk,bkl->bil", [["N", 2, 3], ["N", 3, 4], ["N", 4, 5]], U, r"Einsum 'bij,bjk,bkl->bil' with 3 operands"),
    ("bhij,hjk->bhik", [["N", 2, 4, 5], (2, 5, 3)], U, r"index 'h' batches the constant operand"),
    ("bc,cd->bdc", [["N", 3], (3, 4)], U, r"Einsum 'bc,cd->bdc' \(index 'c' batches the constant operand"),
    ("bij,bjk->bik", [["N", 4, 5], (3, 5, 6)], U, r"index 'b' is the batch in one operand and 3 in the other"),
    ("bi,bi->", [["N", 4], ["N", 4]], U, r"Einsum 'bi,bi->' \(a scalar result\)"),
    ("bij,bjk->bix", [["N", 4, 5], ["N", 5, 3]], F, r"equation 'bij,bjk->bix': output index 'x' is in no operand"),
    ("bijk->bkji", [["N", 4, 5]], F, r"equation 'bijk->bkji': term 'bijk' for a 3D operand"),
    ("bi1->b1i", [["N", 4, 5]], F, r"'1' is not an index letter"),
    ("bij->bi->b", [["N", 4, 5]], F, r"'-' and '>' only as one '->'"),
    ("...ij->ij", [["N", 4, 5]], F, r"the output has no '...' for the operands' 1 broadcast dims"),
    ("bij,bjk->bik", [["N", 4, 5], ["N", 6, 3]], F, r"index 'j' is 5 in operand 0 and 6 in operand 1"),
])
def test_einsum_refused_forms(eq, specs, exc, message):
    data, _ = _einsum_model(eq, specs, np.random.default_rng(0))
    with pytest.raises(exc, match=message):
        _load(data)
