"""Fuzz the .fnm loader: structure-aware mutations of real saved files, coverage-guided by atheris.

    python tools/fuzz_fnm.py -max_total_time=600 [-atheris_runs=N] [corpus_dir]   # long run (libFuzzer flags)
    python tools/fuzz_fnm.py --write-seeds DIR                                      # the seed corpus as files

The oracle (check): fastnorm.load either raises FormatError / UnsupportedError / MemoryError, or gives
a model whose predict at batch 1 returns finite-shaped output or raises MemoryError. Any other
exception, a crash (SIGSEGV, sanitizer report) or a hang is a finding. tests/test_fnm_fuzz.py runs the
same oracle and mutations from hypothesis, bounded, on every test run.

A fuzz input is a program: which seed file, then a few mutations (set an integer anywhere in the
header or the graph JSON to an edge value, set a float, drop a list element or object key, truncate,
flip a byte, rewrite the header length). Mutating the parsed structure reaches the graph checks and
the planner; byte mutations reach the container parser.
"""
import glob
import json
import os
import struct
import sys
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the source tree's fastnorm when it is built in place; otherwise (CI) the installed one
if ROOT not in sys.path and glob.glob(os.path.join(ROOT, "fastnorm", "_C*.so")):
    sys.path.insert(0, ROOT)

LIMIT = 64 << 20      # max_tensor_bytes while fuzzing: predicts stay fast
EDGE_INTS = [0, 1, -1, 2, 3, 7, 64, 255, 2 ** 15, 2 ** 16 + 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 40,
             2 ** 53 + 1, 2 ** 61, 2 ** 62, 2 ** 63 - 1, 2 ** 63, 2 ** 64, -2 ** 31, -2 ** 63, 10 ** 30]
EDGE_FLOATS = [0.0, -0.0, 1e-300, 0.5, 1.5, 3.0, 1e6, 1e300, -1e300, -1.0, 2.0 ** 31]
MUTATIONS = ("int", "int", "int", "float", "drop", "truncate", "flip", "header_len", "dup")


# ---------------------------------------------------------------------------------------------
# Seeds: small real models, saved by fastnorm itself

def _value(name, shape):
    return {"name": name, "shape": shape, "dtype": "float32"}


def _one(op, attrs, weights=(), x=(None, 2, 6, 6), y=None):
    from fastnorm import fileformat
    from fastnorm.graph import Graph, Node, TensorSpec, infer_shapes
    rng = np.random.default_rng(len(op))
    w = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in weights}
    node = Node("n", op, ["x"] + [name for name, _ in weights], ["y"], attrs)
    g = Graph([TensorSpec("x", tuple(x))], [TensorSpec("y", ())], [node], w)
    out = infer_shapes(g, {"x": tuple(1 if d is None else d for d in x)})["y"]
    g.outputs = [TensorSpec("y", (None,) + tuple(out[1:]))]
    return fileformat.dumps(g.to_dict(), w)


def seeds():
    """[bytes]: one file per op family the loader and planner know, plus the SimpleCNN."""
    from fastnorm import fileformat
    from fastnorm.models import simple_cnn
    g = simple_cnn(seed=0)
    small = [
        ("conv2d", {"stride": [2, 1], "padding": [1, 0, 1, 2], "dilation": [1, 2], "groups": 1},
         [("w", (3, 2, 3, 3)), ("b", (3,))]),
        ("conv2d", {"stride": [1, 1], "padding": [1, 1, 1, 1], "groups": 2}, [("w", (4, 1, 3, 3))]),
        ("conv_transpose2d", {"stride": [2, 2], "padding": [1, 1, 0, 0], "output_padding": [1, 0],
                              "dilation": [1, 2], "groups": 1}, [("w", (2, 3, 3, 3)), ("b", (3,))]),
        ("max_pool2d", {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1], "dilation": [1, 1],
                        "ceil_mode": True}, []),
        ("avg_pool2d", {"kernel": [2, 3], "stride": [2, 2], "padding": [1, 1], "count_include_pad": False,
                        "divisor_override": 5}, []),
        ("adaptive_avg_pool2d", {"output_size": [4, 3]}, []),
        ("adaptive_max_pool2d", {"output_size": [2, 5]}, []),
        ("interpolate", {"scale_factor": [2.0, 1.5], "mode": "bilinear", "align_corners": False}, []),
        ("interpolate", {"size": [9, 4], "mode": "nearest"}, []),
        ("pad", {"pads": [1, 2, 0, 3], "mode": "reflect"}, []),
        ("pad", {"pads": [-1, 2, 3, -2], "mode": "constant", "value": 1.5}, []),
        ("prelu", {}, [("s", (2,))]),
        ("group_norm", {"num_groups": 2, "eps": 1e-5}, [("g", (2,)), ("b", (2,))]),
        ("instance_norm", {"eps": 1e-5}, []),
        ("layer_norm", {"normalized_ndim": 2, "eps": 1e-5}, [("g", (36,)), ("b", (36,))]),
        ("layer_norm_channels", {"eps": 1e-6}, [("g", (2,)), ("b", (2,))]),
        ("pixel_shuffle", {"factor": 1}, []),
        ("pixel_unshuffle", {"factor": 2}, []),
        ("channel_shuffle", {"groups": 2}, []),
        ("softmax", {"dim": 1}, []),
        ("flatten", {"start_dim": 1, "end_dim": -1}, []),
        ("clamp", {"min": -1.0, "max": 2.0}, []),
        ("leaky_relu", {"negative_slope": 0.1}, []),
        ("batch_norm", {"eps": 1e-3}, [("m", (2,)), ("v", (2,)), ("g", (2,)), ("b", (2,))]),
    ]
    out = [fileformat.dumps(g.to_dict(), g.weights)]
    out += [_one(op, attrs, weights) for op, attrs, weights in small]
    out.append(_one("linear", {}, [("w", (5, 7)), ("b", (5,))], x=(None, 7)))
    out.append(_one("reshape", {"shape": [-1, 4, 18]}, x=(None, 2, 6, 6)))
    out.append(_prepacked(g))
    return out


def _prepacked(g):
    """The SimpleCNN saved with its packed weights for the ISA in use (fastnorm.prepack)."""
    from fastnorm import fileformat, prepack
    from fastnorm.model import Model
    meta, tensors = prepack.collect(Model(g))
    return fileformat.dumps(g.to_dict(), g.weights, (meta, tensors))


# ---------------------------------------------------------------------------------------------
# Mutations

def _split(data):
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    return header, json.loads(header["__metadata__"]["graph"]), data[8 + n:]


def _join(header, graph, buffer):
    if isinstance(header.get("__metadata__"), dict) and "graph" in header["__metadata__"]:
        header["__metadata__"]["graph"] = json.dumps(graph, separators=(",", ":"))
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + buffer


def _slots(obj, kinds, out, path=()):
    """Paths to every value of the given Python types inside nested dicts/lists."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            _slots(v, kinds, out, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _slots(v, kinds, out, path + (i,))
    elif isinstance(obj, kinds) and not isinstance(obj, bool):
        out.append(path)
    return out


def _containers(obj, out, path=()):
    if isinstance(obj, (dict, list)) and obj:
        out.append(path)
        for k, v in (obj.items() if isinstance(obj, dict) else enumerate(obj)):
            _containers(v, out, path + (k,))
    return out


def _get(obj, path):
    for k in path:
        obj = obj[k]
    return obj


def mutate(data, program):
    """Apply [(kind, a, b)] to .fnm bytes; a, b are non-negative ints choosing where and what."""
    for kind, a, b in program:
        if kind in ("truncate", "flip", "header_len"):
            if kind == "truncate":
                data = data[:a % (len(data) + 1)]
            elif kind == "flip" and data:
                i = a % len(data)
                data = data[:i] + bytes([data[i] ^ (1 << (b % 8))]) + data[i + 1:]
            elif kind == "header_len" and len(data) >= 8:
                n = struct.unpack("<Q", data[:8])[0]
                data = struct.pack("<Q", [0, 1, n - 8, n + 8, 2 ** 63, 2 ** 64 - 1, n ^ (1 << (b % 64))][a % 7]
                                   % 2 ** 64) + data[8:]
            continue
        try:
            header, graph, buffer = _split(data)
        except (ValueError, KeyError, TypeError, struct.error):
            continue                    # already broken as bytes: structural mutations have nothing to hold
        if not isinstance(header, dict):
            continue
        root = [header, graph][a % 2]
        if kind in ("int", "float"):
            slots = _slots(root, int if kind == "int" else (int, float), [])
            if not slots:
                continue
            path = slots[(a // 2) % len(slots)]
            if kind == "int":
                old = _get(root, path)
                new = EDGE_INTS[b % len(EDGE_INTS)] if b % 3 else old + (b // 3) % 7 - 3
            else:
                new = EDGE_FLOATS[b % len(EDGE_FLOATS)]
            _get(root, path[:-1])[path[-1]] = new
        elif kind in ("drop", "dup"):
            conts = _containers(root, [])
            if not conts:
                continue
            c = _get(root, conts[(a // 2) % len(conts)])
            keys = list(c) if isinstance(c, dict) else list(range(len(c)))
            k = keys[b % len(keys)]
            if kind == "drop":
                del c[k]
            elif isinstance(c, list):
                c.insert(k, c[k])
            else:
                c[str(k) + "_"] = c[k]
        data = _join(header, graph, buffer)
    return data


# ---------------------------------------------------------------------------------------------
# The oracle

def check(data, folder=None):
    """Load data as a .fnm file and predict; raises (or crashes) only on a finding. In memory (the
    bytes parser, fileformat.loads, and then what load() does after reading: api._fnm_model) unless a
    folder is given, where the file is written and read back by fastnorm.load."""
    import fastnorm
    from fastnorm import api, fileformat
    from fastnorm.optable import KNOWN_OPS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if folder is None:
                graph_dict, weights, packed = fileformat.loads(data, known_ops=KNOWN_OPS, prepacked=api._usable_here)
                model = api._fnm_model(graph_dict, weights, "<fuzz>", True, LIMIT, packed)
            else:
                path = os.path.join(folder, "f.fnm")
                with open(path, "wb") as f:
                    f.write(data)
                model = fastnorm.load(path, max_tensor_bytes=LIMIT)
        except (fastnorm.FormatError, fastnorm.UnsupportedError, MemoryError):
            return "rejected"
        return run_once(model)


def run_once(model):
    """Predict once at batch 1 on every input, at the size the model was converted at (for a model with
    dynamic height and width, fastnorm.per_shape, the graph's own size): only MemoryError may come out.
    Such a model is then also run at every dynamic dim 1, where a size its graph cannot take is the
    input's fault and may raise ValueError (never another type)."""
    feeds = {t.name: np.full(tuple(1 if d is None else d for d in t.shape), 0.25, np.float32)
             for t in getattr(model, "graph", model).inputs}
    try:
        out = model.run(feeds)
    except MemoryError:
        return "memory"
    for t in model.outputs:
        assert out[t.name].dtype == np.float32
    if any(d is None for t in model.inputs for d in t.shape[1:]):
        small = {t.name: np.full(tuple(1 if d is None else d for d in t.shape), 0.25, np.float32)
                 for t in model.inputs}
        try:
            model.run(small)
        except MemoryError:
            return "memory"
        except ValueError as e:
            if type(e) is not ValueError or "do not fit this model" not in str(e):
                raise
    return "ran"


def program_from(fdp, nseeds, mutations=MUTATIONS):
    seed = fdp.ConsumeIntInRange(0, nseeds - 1)
    program = []
    for _ in range(fdp.ConsumeIntInRange(0, 4)):
        program.append((mutations[fdp.ConsumeIntInRange(0, len(mutations) - 1)],
                        fdp.ConsumeIntInRange(0, 2 ** 20), fdp.ConsumeIntInRange(0, 2 ** 16)))
    return seed, program


def fuzz_main(argv, seeds, mutate, check, mutations, suffix, instrument):
    """A target's command line (shared with tools/fuzz_onnx.py): --write-seeds DIR writes the seeds as
    files; anything else is libFuzzer's, for the atheris loop over programs (seed, mutations)."""
    if len(argv) > 2 and argv[1] == "--write-seeds":
        os.makedirs(argv[2], exist_ok=True)
        for i, s in enumerate(seeds()):
            with open(os.path.join(argv[2], "seed%02d%s" % (i, suffix)), "wb") as f:
                f.write(s)
        return
    import atheris
    with atheris.instrument_imports(include=["fastnorm"]):   # fastnorm's Python code, not NumPy, json, onnx
        instrument()
    corpus = seeds()
    counts = {}

    def one_input(raw):
        fdp = atheris.FuzzedDataProvider(raw)
        seed, program = program_from(fdp, len(corpus), mutations)
        verdict = check(mutate(corpus[seed], program))
        counts[verdict] = counts.get(verdict, 0) + 1
        total = sum(counts.values())
        if total & (total - 1) == 0 or total % 20000 == 0:     # libFuzzer exits without Python's atexit
            print("verdicts after %d: %s" % (total, counts), file=sys.stderr, flush=True)

    atheris.Setup(argv, one_input)
    atheris.Fuzz()


def main(argv):
    def instrument():
        import fastnorm  # noqa: F401
        import fastnorm.fileformat, fastnorm.limits, fastnorm.graph, fastnorm.shapes, fastnorm.api  # noqa: F401,E401
        import fastnorm.plan, fastnorm.model, fastnorm.passes  # noqa: F401,E401
    fuzz_main(argv, seeds, mutate, check, MUTATIONS, ".fnm", instrument)


if __name__ == "__main__":
    main(sys.argv)
