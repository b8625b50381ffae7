"""Coverage-guided fuzzing of fastnorm.onnxpb (the pure-Python ONNX reader) with atheris.

    python tools/fuzz_onnxpb.py --make-corpus corpus/onnxpb        # seed files: small real models
    python tools/fuzz_onnxpb.py corpus/onnxpb -max_total_time=3600 # long run (libFuzzer flags pass through)
    python tools/fuzz_onnxpb.py crash-<sha>                         # replay one input

The property: any byte string either parses or raises fastnorm.FormatError (WireError) / UnsupportedError;
reading every tensor, sparse tensor and attribute of what parsed, and constant-folding every node whose
inputs are all initializers, obeys the same rule. Anything else (IndexError, MemoryError, RecursionError,
a hang) is a finding: libFuzzer saves the input as crash-*/timeout-*, and it becomes a regression test in
tests/test_onnxpb.py. Run from the repository root with fastnorm built in place.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import atheris  # noqa: E402

import fastnorm  # noqa: E402,F401  (the compiled part stays uninstrumented)
from fastnorm.errors import FormatError, UnsupportedError  # noqa: E402

with atheris.instrument_imports(include=["fastnorm.onnxpb"]):
    from fastnorm import onnxpb  # noqa: E402
    from fastnorm.onnxpb.fold import fold  # noqa: E402

FOLD_LIMIT = 1 << 16        # keep each execution cheap


def exercise(data):
    try:
        m = onnxpb.parse_model(data)
    except (FormatError, UnsupportedError):
        return
    stack = [m.graph]
    while stack:
        g = stack.pop()
        consts = {}
        for t in g.initializer:
            try:
                consts[t.name] = onnxpb.to_array(t)
            except (FormatError, UnsupportedError):
                pass
        for sp in g.sparse_initializer:
            try:
                onnxpb.sparse_to_dense(sp)
            except (FormatError, UnsupportedError):
                pass
        for vi in list(g.input) + list(g.output) + list(g.value_info):
            [(d.dim_value, d.dim_param) for d in vi.type.tensor_type.shape.dim]
        for n in g.node:
            attrs = {}
            for a in n.attribute:
                try:
                    v = attrs[a.name] = onnxpb.get_attribute_value(a)
                except (FormatError, UnsupportedError):
                    continue
                if isinstance(v, onnxpb.TensorProto):
                    try:
                        onnxpb.to_array(v)
                    except (FormatError, UnsupportedError):
                        pass
                elif isinstance(v, onnxpb.GraphProto):
                    stack.append(v)
            if all(not i or i in consts for i in n.input):
                try:
                    out = fold(n.op_type, [consts[i] if i else None for i in n.input], attrs, 13, FOLD_LIMIT)
                except (FormatError, UnsupportedError):
                    continue
                if out is not NotImplemented:
                    consts.update(zip(n.output, out))


def make_corpus(d):
    """A handful of real models as seeds (needs onnx, only here)."""
    import numpy as np
    from onnx import TensorProto as TP
    from onnx import helper, numpy_helper
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    x = helper.make_tensor_value_info("x", TP.FLOAT, ["N", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TP.FLOAT, None)
    models = {
        "conv_relu": helper.make_graph([helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
                                        helper.make_node("Relu", ["c"], ["y"])], "g", [x], [y], [w]),
        "shape_glue": helper.make_graph([
            helper.make_node("Shape", ["s"], ["sh"]), helper.make_node("Gather", ["sh", "i0"], ["g0"]),
            helper.make_node("Unsqueeze", ["g0", "ax"], ["u"]), helper.make_node("Concat", ["u", "m1"], ["cc"], axis=0),
            helper.make_node("Reshape", ["x", "cc"], ["y"])], "g", [x], [y],
            [numpy_helper.from_array(np.zeros((2, 5), np.float32), "s"), numpy_helper.from_array(np.int64(0), "i0"),
             numpy_helper.from_array(np.array([0], np.int64), "ax"),
             numpy_helper.from_array(np.array([-1], np.int64), "m1")]),
        "typed": helper.make_graph([helper.make_node("Constant", [], ["k"], value=helper.make_tensor(
            "k", TP.FLOAT16, [2], [1.0, -2.0])), helper.make_node("Add", ["x", "k"], ["y"])], "g", [x], [y],
            [helper.make_tensor("b", TP.BFLOAT16, [2], [0.5, 3.0]), helper.make_tensor("i", TP.INT64, [3], [1, -1, 2 ** 40])]),
    }
    for name, g in models.items():
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        with open(os.path.join(d, name + ".onnx"), "wb") as fh:
            fh.write(m.SerializeToString())
    print("wrote %d seeds to %s" % (len(models), d))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--make-corpus":
        make_corpus(sys.argv[2])
        return
    atheris.Setup(sys.argv, exercise)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
