"""Fuzz the ONNX frontend (fastnorm.from_onnx on bytes, then a predict): structure-aware mutations of
small real models, coverage-guided by atheris.

    python tools/fuzz_onnx.py -max_total_time=600 [corpus_dir]   # long run (libFuzzer flags pass through)
    python tools/fuzz_onnx.py --write-seeds DIR                  # the seed models as .onnx files

The oracle (check): from_onnx either raises FormatError / UnsupportedError / MemoryError, or gives a
model whose predict at batch 1 returns float32 outputs or raises MemoryError. Any other exception, a
crash or a hang is a finding; each becomes a test in tests/test_untrusted_onnx.py.

A fuzz input is a program: a seed model, then a few mutations of its parsed protobuf (an integer
attribute or one entry of a list attribute, a declared input dim, an int64 initializer entry set to an
edge value; a node's op type swapped for another the frontend handles; a node input dropped) or of its
bytes (a byte flipped, the tail cut). tools/fuzz_fnm.py does the same for the .fnm loader.
"""
import glob
import importlib.util
import os
import sys
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the source tree's fastnorm when it is built in place; otherwise (CI) the installed one
if ROOT not in sys.path and glob.glob(os.path.join(ROOT, "fastnorm", "_C*.so")):
    sys.path.insert(0, ROOT)

_spec = importlib.util.spec_from_file_location("fuzz_fnm", os.path.join(ROOT, "tools", "fuzz_fnm.py"))
fnm = importlib.util.module_from_spec(_spec)   # the .fnm target: run_once and the atheris loop
_spec.loader.exec_module(fnm)

LIMIT = fnm.LIMIT     # max_tensor_bytes while fuzzing: predicts stay fast
EDGE_INTS = [0, 1, -1, 2, 3, 5, 64, 2 ** 15, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 62, 2 ** 63 - 1,
             -2 ** 31, -2 ** 63]
MUTATIONS = ("attr", "attr", "dim", "init", "init", "op", "drop", "flip", "truncate")
OPS = ("Relu", "Add", "Mul", "Conv", "MaxPool", "AveragePool", "Reshape", "Flatten", "Transpose", "Concat",
       "Pad", "Resize", "Unsqueeze", "Squeeze", "Slice", "Gather", "Softmax", "Gemm", "MatMul",
       "BatchNormalization", "GlobalAveragePool", "Clip", "Sigmoid", "Split", "Expand", "ConvTranspose",
       "DepthToSpace", "ReduceMean", "LeakyRelu", "InstanceNormalization", "Shape", "Cast", "Identity")


def seeds():
    """[bytes]: small real models the frontend converts (conv nets, shape glue, resize, pads...)."""
    from onnx import TensorProto as TP
    from onnx import helper, numpy_helper
    rng = np.random.default_rng(0)

    def t(name, shape, dtype=np.float32, values=None):
        a = rng.standard_normal(shape).astype(dtype) if values is None else np.asarray(values, dtype)
        return numpy_helper.from_array(a, name)

    def model(nodes, inits, shape=("N", 3, 8, 8), opset=13):
        x = helper.make_tensor_value_info("x", TP.FLOAT, list(shape))
        y = helper.make_tensor_value_info("y", TP.FLOAT, None)
        m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", opset)])
        return m.SerializeToString()

    n = helper.make_node
    out = [
        model([n("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
               n("BatchNormalization", ["c", "s", "o", "m", "v"], ["bn"]), n("Relu", ["bn"], ["r"]),
               n("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
               n("Flatten", ["p"], ["f"], axis=1), n("Gemm", ["f", "gw", "gb"], ["y"], transB=1)],
              [t("w", (4, 3, 3, 3)), t("b", (4,)), t("s", (4,)), t("o", (4,)), t("m", (4,)),
               t("v", (4,), values=[1, 2, 0.5, 1]), t("gw", (5, 16)), t("gb", (5,))]),
        model([n("Conv", ["x", "w"], ["c"], group=3, pads=[1, 1, 1, 1], dilations=[1, 1]),
               n("Add", ["c", "x"], ["a"]), n("Clip", ["a", "lo", "hi"], ["y"])],
              [t("w", (3, 1, 3, 3)), t("lo", (), values=0.0), t("hi", (), values=6.0)]),
        model([n("Shape", ["x"], ["sh"]), n("Gather", ["sh", "i0"], ["g0"], axis=0),
               n("Unsqueeze", ["g0", "ax"], ["u"]), n("Concat", ["u", "m1"], ["cc"], axis=0),
               n("Reshape", ["x", "cc"], ["y"])],
              [t("i0", (), np.int64, 0), t("ax", (1,), np.int64, [0]), t("m1", (1,), np.int64, [-1])]),
        model([n("Resize", ["x", "", "sc"], ["r"], mode="nearest"),
               n("Pad", ["r", "pads"], ["y"], mode="reflect")],
              [t("sc", (4,), values=[1, 1, 2, 2]), t("pads", (8,), np.int64, [0, 0, 1, 1, 0, 0, 1, 1])]),
        model([n("ConvTranspose", ["x", "w"], ["c"], strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]),
               n("InstanceNormalization", ["c", "s", "b"], ["i"]), n("LeakyRelu", ["i"], ["y"], alpha=0.2)],
              [t("w", (3, 2, 3, 3)), t("s", (2,)), t("b", (2,))]),
        model([n("AveragePool", ["x"], ["p"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=0),
               n("Transpose", ["p"], ["tr"], perm=[0, 2, 3, 1]), n("Softmax", ["tr"], ["s"], axis=-1),
               n("Transpose", ["s"], ["y"], perm=[0, 3, 1, 2])], []),
        model([n("DepthToSpace", ["x"], ["d"], blocksize=2), n("GlobalAveragePool", ["d"], ["y"])], [],
              shape=("N", 4, 8, 8)),
        model([n("Sigmoid", ["x"], ["s"]), n("Concat", ["x", "s"], ["cc"], axis=1),
               n("ReduceMean", ["cc"], ["y"], axes=[2, 3], keepdims=1)], [], shape=("N", 4, 6, 6)),
    ]
    return out


def mutate(data, program):
    """Apply [(kind, a, b)] to the serialized model; a, b are non-negative ints choosing where and what."""
    import onnx
    for kind, a, b in program:
        if kind == "flip":
            if data:
                i = a % len(data)
                data = data[:i] + bytes([data[i] ^ (1 << (b % 8))]) + data[i + 1:]
            continue
        if kind == "truncate":
            data = data[:a % (len(data) + 1)]
            continue
        m = onnx.ModelProto()
        try:
            m.ParseFromString(data)
        except Exception:  # noqa: BLE001 - already broken as bytes: nothing structural to mutate
            continue
        g = m.graph
        edge = EDGE_INTS[b % len(EDGE_INTS)]
        if kind == "attr":
            slots = [(node, at) for node in g.node for at in node.attribute if at.type in (2, 7)]  # INT, INTS
            if slots:
                node, at = slots[a % len(slots)]
                if at.type == 2:
                    at.i = edge
                elif len(at.ints):
                    at.ints[(a // 7) % len(at.ints)] = edge
        elif kind == "dim":
            dims = [d for vi in g.input for d in vi.type.tensor_type.shape.dim]
            if dims:
                dims[a % len(dims)].dim_value = max(edge, 0)
        elif kind == "init":
            ints = [t for t in g.initializer if t.data_type == onnx.TensorProto.INT64]
            if ints:
                t = ints[a % len(ints)]
                try:
                    arr = onnx.numpy_helper.to_array(t).copy()
                except ValueError:    # raw_data an earlier byte flip left the wrong size: the loader's to judge
                    arr = np.zeros(0)
                if arr.size:
                    arr.reshape(-1)[(a // 5) % arr.size] = edge
                    # the data only, in place: the name may be bytes a flip left invalid UTF-8 (from_array
                    # would decode it), and the dims are unchanged
                    del t.int64_data[:]
                    t.raw_data = arr.astype("<i8").tobytes()
        elif kind == "op" and len(g.node):
            g.node[a % len(g.node)].op_type = OPS[b % len(OPS)]
        elif kind == "drop" and len(g.node):
            node = g.node[a % len(g.node)]
            if len(node.input):
                del node.input[b % len(node.input)]
        data = m.SerializeToString()
    return data


def check(data):
    """Convert data with from_onnx and predict; raises (or crashes) only on a finding."""
    import fastnorm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = fastnorm.from_onnx(data, max_tensor_bytes=LIMIT)
        except (fastnorm.FormatError, fastnorm.UnsupportedError, MemoryError):
            return "rejected"
        return fnm.run_once(model)


def main(argv):
    def instrument():
        import fastnorm  # noqa: F401
        import fastnorm.frontends.onnx  # noqa: F401
    fnm.fuzz_main(argv, seeds, mutate, check, MUTATIONS, ".onnx", instrument)


if __name__ == "__main__":
    main(sys.argv)
