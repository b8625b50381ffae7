"""ONNX frontend: map an ONNX model (opset 1..newest, default domain) onto fastnorm's graph IR.

Shape glue (Shape -> Gather -> Unsqueeze -> Concat -> Reshape and the like) is folded at load time:
constants propagate, and the Shape of an activation is a vector whose first entry is the symbolic
batch and whose other entries are known. A Reshape that keeps the batch and merges the rest becomes
a flatten. Every unsupported op or attribute is collected in one pass and raised together as one
UnsupportedError; malformed models raise FormatError.

The batch: the first dimension of every graph input is treated as a symbolic batch. When the graph
is batch-independent the model runs at any batch, even if the file fixes it (usually to 1; recorded
in graph.notes). When an op depends on the batch size (softmax over axis 0, a Reshape that moves the
batch, ...) and every input fixes its batch, the graph is converted again with that fixed batch.

graph.notes: [(code, node name, message)] for the model doctor.
"""
import math
import os

import numpy as np

from fastnorm.errors import FormatError, UnsupportedError
from fastnorm.graph import OPS, Graph, Node, TensorSpec

_PIP_HINT = "fastnorm's ONNX import needs the onnx package: pip install fastnorm[onnx]"


def _import_onnx():
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401
    except ImportError as e:
        raise ImportError(_PIP_HINT) from e
    return onnx


class _Sym:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


BATCH = _Sym("N")        # the symbolic batch size
UNKNOWN = _Sym("?")      # a shape entry computed from the batch in a way we do not follow
_P = 9973                # stands in for the batch in the IR's shape functions (a prime no layer has)


class _Unsupported(Exception):
    pass


class _Malformed(Exception):
    pass


class _BatchDep(Exception):
    pass


class _Restart(Exception):
    pass


def _is_sym(a):
    return isinstance(a, np.ndarray) and a.dtype == object


def _has_batch(shape):
    return any(d is BATCH for d in shape)


def _onnx_dtype_name(onnx, t):
    try:
        return onnx.helper.tensor_dtype_to_np_dtype(t).name
    except Exception:
        return "type %d" % t


class _N:
    """An ONNX node with the name fastnorm reports it by (NodeProto takes no extra attributes)."""

    def __init__(self, proto, index, name=None):
        self.proto = proto
        self.input, self.output = list(proto.input), list(proto.output)
        self.op_type, self.domain, self.attribute = proto.op_type, proto.domain, proto.attribute
        self._fn_name = name or proto.name or "%s_%d" % (proto.op_type, index)


class _Converter:
    def __init__(self, onnx, model, fixed):
        self.onnx = onnx
        self.model = model
        self.graph = model.graph
        self.fixed = fixed          # True: every input's declared batch is used concretely
        self.opset = _default_opset(model)
        self.nodes = []             # IR nodes
        self.weights = {}           # IR weights
        self.const = {}             # onnx value -> np array (float / int constants) or object array (symbolic)
        self.shape = {}             # onnx value (activation) -> shape tuple (BATCH at dim 0 unless fixed)
        self.ir = {}                # onnx value (activation) -> IR value name
        self.problems = []          # unsupported
        self.malformed = []
        self.batch_deps = []
        self.notes = []
        self.poisoned = set()
        self.names = set()          # IR value names in use
        self.node_names = set()     # IR node names in use
        self.declared_batch = {}

    # ------------------------------------------------------------------ helpers
    def uniq(self, base):
        name, k = base, 1
        while name in self.names:
            k += 1
            name = "%s_%d" % (base, k)
        self.names.add(name)
        return name

    def where(self, node):
        return "node %r (%s, opset %d)" % (node._fn_name, node.op_type, self.opset)

    def attrs(self, node):
        return {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}

    def weight(self, node, suffix, array):
        name = self.uniq("%s::%s" % (node._fn_name, suffix))
        self.weights[name] = np.ascontiguousarray(array, dtype=np.float32)
        return name

    def inp(self, node, i):
        return node.input[i] if len(node.input) > i else ""

    def cval(self, node, i, what=None, required=False):
        """Constant input i (np array) or None when absent; an activation there is unsupported."""
        v = self.inp(node, i)
        if not v:
            if required:
                raise _Malformed("input %d (%s) is required" % (i, what or "operand"))
            return None
        if v in self.const:
            c = self.const[v]
            if _is_sym(c):
                if any(e is BATCH or e is UNKNOWN for e in c.reshape(-1)):
                    raise _BatchDep("%s depends on the batch size" % (what or "input %d" % i))
            return c
        raise _Unsupported("%s computed at run time (input %r; only constants are supported there)"
                           % (what or "input %d" % i, v))

    def fweight(self, node, i, what, required=False):
        c = self.cval(node, i, what, required)
        if c is None:
            return None
        if c.dtype.kind not in "fiub":
            raise _Malformed("%s has dtype %s, which cannot be cast to float32" % (what, c.dtype))
        return c.astype(np.float32)

    def act(self, node, i=0):
        """(IR name, shape) of activation input i."""
        v = self.inp(node, i)
        if not v:
            raise _Malformed("input %d is required" % i)
        if v in self.const:
            raise _Unsupported("input %d (%r) is a constant where an activation is expected" % (i, v))
        if v not in self.shape:
            raise _Malformed("input %r is not produced by any node, initializer or graph input" % v)
        return self.ir[v], self.shape[v]

    def is_act(self, v):
        return bool(v) and v in self.shape

    def ir_shape(self, shape):
        return tuple(_P if d is BATCH else d for d in shape)

    def from_ir_shape(self, shape, batch):
        out = tuple(int(d) for d in shape)
        if batch and out and out[0] == _P:
            out = (BATCH,) + out[1:]
        if any(d == _P or (d > _P and d % _P == 0) for d in out[1:]):
            raise _BatchDep("the batch would be moved or merged")
        return out

    def emit(self, node, op, inputs, attrs=None, out=None):
        """Append an IR node; return its output value name (and record its shape)."""
        attrs = attrs or {}
        name = node._fn_name
        k = 1
        while name in self.node_names:
            k += 1
            name = "%s::%d" % (node._fn_name, k)
        self.node_names.add(name)
        if out is None:
            out = self.uniq(name + "::out")
        n = Node(name, op, list(inputs), [out], attrs)
        shapes = []
        batch = False
        for v in inputs:
            if not v:
                shapes.append(None)
            elif v in self.weights:
                shapes.append(tuple(self.weights[v].shape))
            else:
                s = self._ir_value_shape[v]
                batch = batch or _has_batch(s)
                shapes.append(self.ir_shape(s))
        try:
            res = OPS[op].shape(n, shapes, self.weights)
        except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError) as e:
            if batch and not self.fixed and str(_P) in str(e):
                raise _BatchDep("shapes only fit at one batch size (%s)" % e)
            raise _Malformed("shapes do not fit: %s" % e)
        self._ir_value_shape[out] = self.from_ir_shape(res[0], batch)
        self.nodes.append(n)
        return out

    def set_act(self, onnx_name, ir_name):
        self.ir[onnx_name] = ir_name
        self.shape[onnx_name] = self._ir_value_shape[ir_name]

    def note(self, code, node, msg):
        self.notes.append((code, node if isinstance(node, str) else node._fn_name, msg))

    # ------------------------------------------------------------------ driver
    def run(self):
        onnx = self.onnx
        g = self.graph
        self._ir_value_shape = {}
        init_names = set()
        for t in g.initializer:
            init_names.add(t.name)
            try:
                a = onnx.numpy_helper.to_array(t)
            except Exception as e:
                raise FormatError("initializer %r cannot be read: %s" % (t.name, e)) from None
            self.const[t.name] = np.asarray(a)
        for t in getattr(g, "sparse_initializer", []):
            try:
                a = onnx.numpy_helper.to_array(onnx.helper.make_tensor(
                    t.values.name, t.values.data_type, list(t.dims), []))  # shape check only
                dense = np.zeros(tuple(t.dims), onnx.helper.tensor_dtype_to_np_dtype(t.values.data_type))
                vals = onnx.numpy_helper.to_array(t.values)
                idx = onnx.numpy_helper.to_array(t.indices)
                if idx.ndim == 1:
                    dense.reshape(-1)[idx] = vals
                else:
                    dense[tuple(idx.T)] = vals
                del a
                self.const[t.values.name] = dense
                init_names.add(t.values.name)
            except Exception as e:
                raise FormatError("sparse initializer %r cannot be read: %s" % (t.values.name, e)) from None
        inputs = []
        for vi in g.input:
            if vi.name in init_names:
                continue  # legacy: initializers listed as graph inputs are constants (weights)
            tt = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
            if tt is None:
                self.problems.append("input %r: only tensor inputs are supported" % vi.name)
                self.poisoned.add(vi.name)
                continue
            if tt.elem_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16):
                self.problems.append("input %r: dtype %s (only float inputs are supported)"
                                     % (vi.name, _onnx_dtype_name(onnx, tt.elem_type)))
                self.poisoned.add(vi.name)
                continue
            if not tt.HasField("shape"):
                self.problems.append("input %r: no shape declared (the non-batch dims must be known)" % vi.name)
                self.poisoned.add(vi.name)
                continue
            dims = []
            for i, d in enumerate(tt.shape.dim):
                if d.HasField("dim_value") and d.dim_value > 0:
                    dims.append(int(d.dim_value))
                elif i == 0:
                    dims.append(None)
                else:
                    dims.append(None)
            if not dims:
                self.problems.append("input %r: a scalar input is not supported" % vi.name)
                self.poisoned.add(vi.name)
                continue
            if any(d is None for d in dims[1:]):
                self.problems.append("input %r: shape %s has dynamic dims after the batch (only the batch "
                                     "may be dynamic)" % (vi.name, [("?" if d is None else d) for d in dims]))
                self.poisoned.add(vi.name)
                continue
            self.declared_batch[vi.name] = dims[0]
            shape = tuple(dims) if self.fixed else (BATCH,) + tuple(dims[1:])
            self.names.add(vi.name)
            self._ir_value_shape[vi.name] = shape
            self.ir[vi.name] = vi.name
            self.shape[vi.name] = shape
            inputs.append(TensorSpec(vi.name, tuple(None if d is BATCH else d for d in shape)))
        if not inputs and not self.problems:
            raise UnsupportedError("the model has no float tensor input (every graph input is an initializer)")

        known = set(self.const) | {vi.name for vi in g.input}
        live = self._live_nodes(known)
        for node in g.node:
            self.names.update(v for v in node.output if v)
        self.names.update(self.const)
        live = _rewrite_patterns(onnx, live, {o.name for o in g.output}, self.const)
        handlers = _HANDLERS
        for node in live:
            if node.domain not in ("", "ai.onnx"):
                self.problems.append("%s: domain %r (only the default ONNX domain is supported)"
                                     % (self.where(node), node.domain))
                self._poison(node)
                continue
            h = handlers.get(node.op_type)
            if h is None:
                self.problems.append("%s: op %s" % (self.where(node), node.op_type))
                self._poison(node)
                continue
            if any(v in self.poisoned for v in node.input if v):
                self._poison(node)
                continue
            missing = [v for v in node.input if v and v not in self.const and v not in self.shape]
            if missing:
                self.malformed.append("%s: input %r is not produced by any node, initializer or graph input"
                                      % (self.where(node), missing[0]))
                self._poison(node)
                continue
            try:
                if node.op_type not in _NO_FOLD and node.input and all(
                        (not v) or (v in self.const and not _is_sym(self.const[v])) for v in node.input):
                    self._fold(node)
                elif node.op_type in _SYM_OPS and any(v and _is_sym(self.const.get(v)) for v in node.input) \
                        and all((not v) or v in self.const for v in node.input):
                    self._fold_sym(node)
                else:
                    h(self, node, self.attrs(node))
            except _Unsupported as e:
                self.problems.append("%s: %s" % (self.where(node), e))
                self._poison(node)
            except _Malformed as e:
                self.malformed.append("%s: %s" % (self.where(node), e))
                self._poison(node)
            except _BatchDep as e:
                if self._can_fix():
                    raise _Restart()
                self.batch_deps.append("%s: %s (the batch is dynamic here)" % (self.where(node), e))
                self._poison(node)
            except (FormatError, UnsupportedError):
                raise
            except Exception as e:  # noqa: BLE001 - never crash on a strange model
                self.malformed.append("%s: cannot be converted: %s: %s" % (self.where(node), type(e).__name__, e))
                self._poison(node)
        outputs = []
        for vo in g.output:
            v = vo.name
            if v in self.poisoned:
                continue
            if v in self.const:
                self.problems.append("output %r: a constant (computes nothing from the input)" % v)
                continue
            if v not in self.shape:
                self.malformed.append("output %r is not produced by any node" % v)
                continue
            src = self.ir[v]
            if src != v and self._take_name(src, v, {o.name for o in g.output}):
                src = v
            if src != v:
                # an alias (Identity, Dropout, a no-op Reshape) or an input: copy exactly (x * 1)
                one = self.uniq(v + "::one")
                self.weights[one] = np.ones((1,), np.float32)
                n = Node(self.uniq(v + "::copy"), "mul", [src, one], [v])
                self.nodes.append(n)
                self._ir_value_shape[v] = self._ir_value_shape[src]
            shape = self._ir_value_shape[v]
            outputs.append(TensorSpec(v, tuple(None if d is BATCH else d for d in shape)))
        if self.malformed:
            raise FormatError("malformed ONNX model: %d problem(s): %s"
                              % (len(self.malformed), "; ".join(self.malformed)))
        problems = self.problems + self.batch_deps
        if problems:
            raise UnsupportedError("ONNX import: %d unsupported construct(s): %s"
                                   % (len(problems), "; ".join(problems)))
        if not outputs:
            raise UnsupportedError("ONNX import: the model has no tensor output")
        outs = [t.name for t in outputs]
        self.nodes = _fuse_linear_bias(self.nodes, self.weights, outs)
        shapes = {k: tuple(v) for k, v in self._ir_value_shape.items()}
        self.nodes = _dead_code(_fold_affine(_dead_code(self.nodes, outs), self.weights, set(outs), shapes), outs)
        used = {v for n in self.nodes for v in n.inputs}
        self.weights = {k: v for k, v in self.weights.items() if k in used}
        graph = Graph(inputs, outputs, self.nodes, self.weights)
        if not self.fixed:
            for name, b in self.declared_batch.items():
                if b is not None:
                    self.notes.append(("fixed_batch_generalized", name,
                                       "input %r declares batch %d; every op is batch-independent, so the "
                                       "model runs at any batch" % (name, b)))
        else:
            for name, b in self.declared_batch.items():
                self.notes.append(("fixed_batch", name, "input %r: batch fixed at %d because an op depends on "
                                   "the batch size" % (name, b)))
        graph.notes = list(self.notes)
        return graph

    def _can_fix(self):
        return (not self.fixed and self.declared_batch
                and all(b is not None for b in self.declared_batch.values()))

    def _poison(self, node):
        for v in node.output:
            if v:
                self.poisoned.add(v)

    def _live_nodes(self, known):
        g = self.graph
        producer = {}
        for i, n in enumerate(g.node):
            for v in n.output:
                if v:
                    producer[v] = i
        need = [o.name for o in g.output]
        live = set()
        seen = set()
        while need:
            v = need.pop()
            if v in seen:
                continue
            seen.add(v)
            i = producer.get(v)
            if i is None:
                continue
            if i not in live:
                live.add(i)
                need.extend(x for x in g.node[i].input if x)
        # keep graph order (ONNX requires a topological order; check it)
        order = sorted(live)
        defined = set(known)
        for i in order:
            n = g.node[i]
            for v in n.input:
                if v and v not in defined and v in producer and producer[v] > i:
                    raise FormatError("node %r (%s): input %r is produced later (nodes are not in "
                                      "topological order)" % (n.name or "#%d" % i, n.op_type, v))
            defined.update(n.output)
        return [_N(g.node[i], i) for i in order]

    # ------------------------------------------------------------------ constant folding
    def _fold(self, node):
        if node.op_type == "Constant":
            return _op_constant(self, node, self.attrs(node))
        from onnx.reference import ReferenceEvaluator
        feeds = {}
        for v in node.input:
            if v:
                feeds[v] = self.const[v]
        onnx = self.onnx
        ins = [onnx.helper.make_tensor_value_info(
            v, onnx.helper.np_dtype_to_tensor_dtype(self.const[v].dtype), self.const[v].shape)
            for v in dict.fromkeys(x for x in node.input if x)]
        outs = [onnx.helper.make_empty_tensor_value_info(v) for v in node.output if v]
        g = onnx.helper.make_graph([node.proto], "fold", ins, outs)
        m = onnx.helper.make_model(g, opset_imports=[onnx.helper.make_opsetid("", self.opset)])
        try:
            res = ReferenceEvaluator(m).run(None, feeds)
        except Exception as e:  # noqa: BLE001
            raise _Malformed("constant folding failed: %s" % e)
        for v, r in zip([v for v in node.output if v], res):
            self.const[v] = np.asarray(r)

    def _fold_sym(self, node):
        _SYM_OPS[node.op_type](self, node, self.attrs(node))


def _rewrite_patterns(onnx, nodes, graph_outputs, consts):
    """Exporter idioms that map onto one IR op, found on the ONNX node list:
    Transpose(0,2,3,1) -> LayerNormalization(axis=-1) -> Transpose(0,3,1,2): layer norm over channels;
    x * 0.5 * (1 + Erf(x / sqrt 2)) (torch's GELU below opset 20): Gelu."""
    readers = {}
    for n in nodes:
        for v in n.input:
            readers.setdefault(v, []).append(n)
    producer = {v: n for n in nodes for v in n.output if v}

    def only_reader(v):
        r = readers.get(v, [])
        return r[0] if len(r) == 1 and v not in graph_outputs else None

    def attr(n, key, default=None):
        for a in n.attribute:
            if a.name == key:
                return onnx.helper.get_attribute_value(a)
        return default

    def scalar(v):
        c = consts.get(v)
        pn = producer.get(v)
        if c is None and pn is not None and pn.op_type == "Constant":
            val = attr(pn, "value")
            c = onnx.numpy_helper.to_array(val) if val is not None else attr(pn, "value_float")
        if c is None or _is_sym(np.asarray(c)) or np.asarray(c).size != 1:
            return None
        return float(np.asarray(c).reshape(-1)[0])

    drop, add = set(), {}
    for t1 in nodes:
        if t1.op_type != "Transpose" or list(attr(t1, "perm", [])) != [0, 2, 3, 1]:
            continue
        ln = only_reader(t1.output[0])
        if ln is None or ln.op_type != "LayerNormalization" or int(attr(ln, "axis", -1)) not in (-1, 3):
            continue
        if any(v and v in readers or v in graph_outputs for v in ln.output[1:]):
            continue
        t2 = only_reader(ln.output[0])
        if t2 is None or t2.op_type != "Transpose" or list(attr(t2, "perm", [])) != [0, 3, 1, 2]:
            continue
        proto = onnx.helper.make_node("_LayerNormChannels", [t1.input[0]] + list(ln.input[1:]), [t2.output[0]],
                                      name=ln.proto.name, epsilon=float(attr(ln, "epsilon", 1e-5)))
        drop.update((id(t1), id(ln)))
        add[id(t2)] = _N(proto, 0, ln._fn_name)
    for erf in nodes:
        if erf.op_type != "Erf":
            continue
        div = producer.get(erf.input[0])
        if div is None or div.op_type not in ("Div", "Mul") or only_reader(div.output[0]) is not erf:
            continue
        k = scalar(div.input[1])
        if k is None or abs((k if div.op_type == "Div" else 1.0 / k) - math.sqrt(2.0)) > 1e-4:
            continue
        x = div.input[0]
        add1 = only_reader(erf.output[0])
        if add1 is None or add1.op_type != "Add":
            continue
        one = [v for v in add1.input if v != erf.output[0]]
        if len(one) != 1 or scalar(one[0]) != 1.0:
            continue
        m1 = only_reader(add1.output[0])
        if m1 is None or m1.op_type != "Mul":
            continue
        other = [v for v in m1.input if v != add1.output[0]]
        if len(other) != 1:
            continue
        if other[0] == x:        # (x * (1 + erf)) * 0.5
            m2 = only_reader(m1.output[0])
            if m2 is None or m2.op_type != "Mul" or scalar([v for v in m2.input if v != m1.output[0]][0]) != 0.5:
                continue
            chain, out = (div, erf, add1, m1, m2), m2.output[0]
        else:                    # (x * 0.5) * (1 + erf)
            half = producer.get(other[0])
            if (half is None or half.op_type != "Mul" or x not in half.input
                    or scalar([v for v in half.input if v != x][0]) != 0.5
                    or only_reader(half.output[0]) is not m1):
                continue
            chain, out = (half, div, erf, add1, m1), m1.output[0]
        proto = onnx.helper.make_node("Gelu", [x], [out], name=erf.proto.name)
        drop.update(id(n) for n in chain[:-1])
        add[id(chain[-1])] = _N(proto, 0, erf._fn_name)
    for sig in nodes:
        # x * Sigmoid(x): SiLU / Swish
        if sig.op_type != "Sigmoid" or id(sig) in drop:
            continue
        m = only_reader(sig.output[0])
        if m is None or m.op_type != "Mul" or id(m) in add or id(m) in drop:
            continue
        other = [v for v in m.input if v != sig.output[0]]
        if other != [sig.input[0]]:
            continue
        proto = onnx.helper.make_node("_Silu", [sig.input[0]], [m.output[0]], name=sig.proto.name)
        drop.add(id(sig))
        add[id(m)] = _N(proto, 0, sig._fn_name)
    if not drop and not add:
        return nodes
    return [add.get(id(n), n) for n in nodes if id(n) not in drop]


def _op_layernorm_channels(c, node, attrs):
    name, shape = c.act(node)
    if len(shape) != 4:
        raise _Unsupported("a channels-last LayerNorm on a %dD input" % len(shape))
    ch = shape[1]
    scale = c.fweight(node, 1, "Scale", True).reshape(-1)
    bias = c.fweight(node, 2, "B")
    bias = np.zeros(ch, np.float32) if bias is None else bias.reshape(-1)
    if scale.size == 1:
        scale = np.full(ch, scale[0], np.float32)
    if bias.size == 1:
        bias = np.full(ch, bias[0], np.float32)
    if scale.size != ch or bias.size != ch:
        raise _Malformed("Scale/B have %d/%d values for %d channels" % (scale.size, bias.size, ch))
    ins = [name, c.weight(node, "scale", scale), c.weight(node, "bias", bias)]
    c.set_act(node.output[0], c.emit(node, "layer_norm_channels", ins, {"eps": float(attrs.get("epsilon", 1e-5))},
                                     node.output[0]))


def _default_opset(model):
    v = None
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            v = int(o.version)
    if v is None:
        v = 1 if not model.opset_import else None
    if v is None:
        raise FormatError("the model imports no default-domain opset (opset_import: %s)"
                          % ", ".join("%s %d" % (o.domain, o.version) for o in model.opset_import))
    return v


# ======================================================================================== symbolic shapes

def _sym(vals):
    a = np.empty(len(vals), dtype=object)
    for i, v in enumerate(vals):
        a[i] = v
    return a


def _sym_result(c, v, arr):
    """Store a symbolic vector; a vector with no symbolic entry becomes a plain int64 constant."""
    arr = np.asarray(arr, dtype=object)
    if not any(e is BATCH or e is UNKNOWN for e in arr.reshape(-1)):
        c.const[v] = arr.astype(np.int64)
    else:
        c.const[v] = arr


def _ints_of(c, node, i, what, default=None):
    a = c.cval(node, i, what)
    if a is None:
        return default
    return [int(x) for x in np.asarray(a).reshape(-1)]


def _axes_arg(c, node, attrs, idx, since):
    if c.opset >= since:
        return _ints_of(c, node, idx, "axes")
    return None if attrs.get("axes") is None else [int(x) for x in attrs["axes"]]


def _sym_gather(c, node, attrs):
    data = c.const[node.input[0]]
    idx = c.cval(node, 1, "indices")
    axis = int(attrs.get("axis", 0))
    _sym_result(c, node.output[0], np.take(data, np.asarray(idx).astype(np.int64), axis=axis))


def _sym_identity(c, node, attrs):
    _sym_result(c, node.output[0], c.const[node.input[0]])


def _sym_unsqueeze(c, node, attrs):
    data = c.const[node.input[0]]
    axes = _axes_arg(c, node, attrs, 1, 13)
    shape = list(data.shape)
    r = len(shape) + len(axes)
    for a in sorted(x % r for x in axes):
        shape.insert(a, 1)
    _sym_result(c, node.output[0], data.reshape(shape))


def _sym_squeeze(c, node, attrs):
    data = c.const[node.input[0]]
    axes = _axes_arg(c, node, attrs, 1, 13)
    if axes is None:
        out = data.reshape([d for d in data.shape if d != 1])
    else:
        out = np.squeeze(data, axis=tuple(a % data.ndim for a in axes))
    _sym_result(c, node.output[0], out)


def _sym_concat(c, node, attrs):
    parts = []
    for v in node.input:
        if not v:
            continue
        a = c.const[v]
        parts.append(a if _is_sym(a) else np.asarray(a).astype(object))
    _sym_result(c, node.output[0], np.concatenate(parts, axis=int(attrs.get("axis", 0))))


def _sym_slice(c, node, attrs):
    data = c.const[node.input[0]]
    if c.opset < 10:
        starts, ends = list(attrs["starts"]), list(attrs["ends"])
        axes = list(attrs.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = _ints_of(c, node, 1, "starts"), _ints_of(c, node, 2, "ends")
        axes = _ints_of(c, node, 3, "axes", list(range(len(starts))))
        steps = _ints_of(c, node, 4, "steps", [1] * len(starts))
    sl = [slice(None)] * data.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        sl[a % data.ndim] = slice(s, e, st)
    _sym_result(c, node.output[0], data[tuple(sl)])


def _sym_reshape(c, node, attrs):
    data = c.const[node.input[0]]
    shape = _ints_of(c, node, 1, "shape") if c.opset >= 5 else list(attrs["shape"])
    shape = [data.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    _sym_result(c, node.output[0], data.reshape(shape))


def _sym_binary(c, node, attrs):
    a, b = (c.const[v] for v in node.input[:2])
    a, b = np.broadcast_arrays(np.asarray(a, dtype=object), np.asarray(b, dtype=object))
    op = node.op_type
    out = np.empty(a.shape, dtype=object)
    for i in np.ndindex(a.shape):
        x, y = a[i], b[i]
        xs, ys = isinstance(x, _Sym), isinstance(y, _Sym)
        if not xs and not ys:
            x, y = (x.item() if hasattr(x, "item") else x), (y.item() if hasattr(y, "item") else y)
            r = {"Add": lambda: x + y, "Sub": lambda: x - y, "Mul": lambda: x * y,
                 "Div": lambda: x // y if isinstance(x, int) and isinstance(y, int) else x / y}[op]()
        elif xs and not ys and ((op in ("Mul", "Div") and y == 1) or (op in ("Add", "Sub") and y == 0)):
            r = x
        elif ys and not xs and op == "Mul" and x == 1:
            r = y
        elif ys and not xs and op == "Add" and x == 0:
            r = y
        else:
            r = UNKNOWN
        out[i] = r
    _sym_result(c, node.output[0], out)


def _sym_unknown(c, node, attrs):
    """Ops on shape vectors we do not follow symbolically: entries computed from the batch are unknown."""
    for v in node.output:
        if v:
            src = [c.const[x] for x in node.input if x]
            if node.op_type == "Shape":
                arr = np.asarray(src[0]).shape
                _sym_result(c, v, np.array(arr, dtype=np.int64))
            else:
                c.const[v] = _sym([UNKNOWN])


_SYM_OPS = {
    "Gather": _sym_gather, "Identity": _sym_identity, "Cast": _sym_identity, "Unsqueeze": _sym_unsqueeze,
    "Squeeze": _sym_squeeze, "Concat": _sym_concat, "Slice": _sym_slice, "Reshape": _sym_reshape,
    "Add": _sym_binary, "Sub": _sym_binary, "Mul": _sym_binary, "Div": _sym_binary,
    "Floor": _sym_identity, "Ceil": _sym_identity, "Shape": _sym_unknown,
}
for _k in ("Equal", "Where", "Expand", "ConstantOfShape", "Range", "ReduceProd", "Max", "Min", "Abs", "Neg",
           "Sqrt", "Size"):
    _SYM_OPS.setdefault(_k, _sym_unknown)

# never folded by evaluating the node (random, or handled directly)
_NO_FOLD = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
            "Bernoulli", "Dropout"}


# ======================================================================================== op handlers

def _op_constant(c, node, attrs):
    onnx = c.onnx
    a = None
    if "value" in attrs:
        a = onnx.numpy_helper.to_array(attrs["value"])
    elif "value_float" in attrs:
        a = np.array(attrs["value_float"], np.float32)
    elif "value_floats" in attrs:
        a = np.array(list(attrs["value_floats"]), np.float32)
    elif "value_int" in attrs:
        a = np.array(attrs["value_int"], np.int64)
    elif "value_ints" in attrs:
        a = np.array(list(attrs["value_ints"]), np.int64)
    elif "sparse_value" in attrs:
        sp = attrs["sparse_value"]
        vals = onnx.numpy_helper.to_array(sp.values)
        idx = onnx.numpy_helper.to_array(sp.indices)
        a = np.zeros(tuple(sp.dims), vals.dtype)
        if idx.ndim == 1:
            a.reshape(-1)[idx] = vals
        else:
            a[tuple(idx.T)] = vals
    elif "value_string" in attrs or "value_strings" in attrs:
        raise _Unsupported("string constants")
    else:
        raise _Malformed("Constant without a value")
    c.const[node.output[0]] = np.asarray(a)


def _op_shape(c, node, attrs):
    _, shape = c.act(node)
    start, end = int(attrs.get("start", 0)), attrs.get("end")
    vec = list(shape)[start:None if end is None else int(end)]
    _sym_result(c, node.output[0], _sym(vec))


def _op_size(c, node, attrs):
    _, shape = c.act(node)
    if _has_batch(shape):
        c.const[node.output[0]] = _sym([UNKNOWN]).reshape(())
    else:
        c.const[node.output[0]] = np.array(math.prod(shape), np.int64)


def _op_identity(c, node, attrs):
    name, shape = c.act(node)
    c.ir[node.output[0]] = name
    c.shape[node.output[0]] = shape


def _op_cast(c, node, attrs):
    onnx = c.onnx
    to = attrs.get("to")
    if isinstance(to, bytes):
        to = to.decode()
    if to not in (onnx.TensorProto.FLOAT, "FLOAT", "float"):
        raise _Unsupported("Cast of an activation to %s (only float32 runs)"
                           % (_onnx_dtype_name(onnx, to) if isinstance(to, int) else to))
    _op_identity(c, node, attrs)


def _op_dropout(c, node, attrs):
    x = node.input[0]
    if c.opset >= 12:
        tm = c.cval(node, 2, "training_mode")
        ratio = c.cval(node, 1, "ratio")
        if tm is not None and bool(np.asarray(tm).reshape(-1)[0]):
            if ratio is None or float(np.asarray(ratio).reshape(-1)[0]) != 0.0:
                raise _Unsupported("training_mode=True (random dropout)")
    if len(node.output) > 1 and node.output[1] and node.output[1] in c._used:
        raise _Unsupported("the mask output")
    if x in c.const:
        c.const[node.output[0]] = c.const[x]
        return
    _op_identity(c, node, attrs)


def _unary(op, **fixed):
    def h(c, node, attrs):
        name, _ = c.act(node)
        c.set_act(node.output[0], c.emit(node, op, [name], dict(fixed), node.output[0]))
    return h


def _op_leaky_relu(c, node, attrs):
    name, _ = c.act(node)
    c.set_act(node.output[0], c.emit(node, "leaky_relu", [name],
                                     {"negative_slope": float(attrs.get("alpha", 0.01))}, node.output[0]))


def _op_elu(c, node, attrs):
    name, _ = c.act(node)
    c.set_act(node.output[0], c.emit(node, "elu", [name], {"alpha": float(attrs.get("alpha", 1.0))},
                                     node.output[0]))


_SELU_ALPHA, _SELU_GAMMA = 1.67326319217681884765625, 1.05070102214813232421875


def _op_selu(c, node, attrs):
    name, _ = c.act(node)
    alpha, gamma = float(attrs.get("alpha", _SELU_ALPHA)), float(attrs.get("gamma", _SELU_GAMMA))
    if abs(alpha - _SELU_ALPHA) < 1e-6 and abs(gamma - _SELU_GAMMA) < 1e-6:
        c.set_act(node.output[0], c.emit(node, "selu", [name], {}, node.output[0]))
        return
    # selu = gamma * elu(x, alpha)
    e = c.emit(node, "elu", [name], {"alpha": alpha})
    g = c.weight(node, "gamma", np.array([gamma]))
    c.set_act(node.output[0], c.emit(node, "mul", [e, g], {}, node.output[0]))


def _op_celu(c, node, attrs):
    name, _ = c.act(node)
    c.set_act(node.output[0], c.emit(node, "celu", [name], {"alpha": float(attrs.get("alpha", 1.0))},
                                     node.output[0]))


def _op_hardsigmoid(c, node, attrs):
    name, _ = c.act(node)
    alpha, beta = float(attrs.get("alpha", 0.2)), float(attrs.get("beta", 0.5))
    if abs(alpha - 1.0 / 6.0) < 1e-7 and beta == 0.5:
        c.set_act(node.output[0], c.emit(node, "hardsigmoid", [name], {}, node.output[0]))
        return
    # max(0, min(1, alpha * x + beta)) as mul, add, clamp (the same float32 roundings as ONNX's)
    m = c.emit(node, "mul", [name, c.weight(node, "alpha", np.array([alpha]))])
    a = c.emit(node, "add", [m, c.weight(node, "beta", np.array([beta]))])
    c.set_act(node.output[0], c.emit(node, "clamp", [a], {"min": 0.0, "max": 1.0}, node.output[0]))


def _op_hardswish(c, node, attrs):
    _unary("hardswish")(c, node, attrs)


def _op_softplus(c, node, attrs):
    name, _ = c.act(node)
    # torch's threshold 20: log1p(exp(x)) == x in float32 there
    c.set_act(node.output[0], c.emit(node, "softplus", [name], {"beta": 1.0, "threshold": 20.0}, node.output[0]))


def _op_gelu(c, node, attrs):
    name, _ = c.act(node)
    approx = attrs.get("approximate", b"none")
    approx = approx.decode() if isinstance(approx, bytes) else str(approx)
    if approx not in ("none", "tanh"):
        raise _Unsupported("approximate %r" % approx)
    c.set_act(node.output[0], c.emit(node, "gelu", [name], {"approximate": approx}, node.output[0]))


def _op_clip(c, node, attrs):
    name, _ = c.act(node)
    if c.opset < 11:
        lo = attrs.get("min", None)
        hi = attrs.get("max", None)
    else:
        lo, hi = c.cval(node, 1, "min"), c.cval(node, 2, "max")
        for v in (lo, hi):
            if v is not None and np.asarray(v).size != 1:
                raise _Malformed("min/max must be scalars")
        lo = None if lo is None else float(np.asarray(lo).reshape(-1)[0])
        hi = None if hi is None else float(np.asarray(hi).reshape(-1)[0])
    lo = None if lo is None or lo <= -3.4e38 else float(lo)
    hi = None if hi is None or hi >= 3.4e38 else float(hi)
    if lo is None and hi is None:
        return _op_identity(c, node, attrs)
    if lo == 0.0 and hi is None:
        c.set_act(node.output[0], c.emit(node, "relu", [name], {}, node.output[0]))
        return
    c.set_act(node.output[0], c.emit(node, "clamp", [name], {"min": lo, "max": hi}, node.output[0]))


def _op_prelu(c, node, attrs):
    name, shape = c.act(node)
    slope = c.fweight(node, 1, "slope", required=True)
    r = len(shape)
    if slope.ndim > r:
        raise _Malformed("slope %r has more dims than the input %r" % (slope.shape, shape))
    full = (1,) * (r - slope.ndim) + slope.shape
    for d, s in zip(shape, full):
        if s != 1 and not (d is not BATCH and d == s):
            if d is BATCH:
                raise _BatchDep("slope %r varies along the batch" % (slope.shape,))
            raise _Malformed("slope %r does not broadcast to the input %r" % (slope.shape, shape))
    if slope.size == 1:
        w = c.weight(node, "slope", slope.reshape(1))
        c.set_act(node.output[0], c.emit(node, "prelu", [name, w], {}, node.output[0]))
        return
    if r >= 2 and all(s == 1 for i, s in enumerate(full) if i != 1):
        w = c.weight(node, "slope", slope.reshape(-1))
        c.set_act(node.output[0], c.emit(node, "prelu", [name, w], {}, node.output[0]))
        return
    # general broadcast: relu(x) + slope * min(x, 0)
    pos = c.emit(node, "relu", [name])
    neg = c.emit(node, "clamp", [name], {"min": None, "max": 0.0})
    sl = c.emit(node, "mul", [neg, c.weight(node, "slope", slope.reshape(full))])
    c.set_act(node.output[0], c.emit(node, "add", [pos, sl], {}, node.output[0]))


# ------------------------------------------------------------------------------ conv

def _auto_pads(auto_pad, ins, ks, ss, ds):
    """SAME_UPPER / SAME_LOWER: per-axis (begin, end) pads so that out = ceil(in / stride)."""
    out = []
    for n, k, s, d in zip(ins, ks, ss, ds):
        total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        small = total // 2
        out.append((small, total - small) if auto_pad == "SAME_UPPER" else (total - small, small))
    return out


def _str(v, default):
    if v is None:
        return default
    return v.decode() if isinstance(v, bytes) else str(v)


def _conv_geometry(c, node, attrs, spatial, kshape, what="Conv"):
    if len(spatial) != 2:
        raise _Unsupported("%dD %s (only 2D runs)" % (len(spatial), what))
    ks = attrs.get("kernel_shape")
    if ks is not None and list(ks) != list(kshape):
        raise _Malformed("kernel_shape %r does not match the weight's %r" % (list(ks), list(kshape)))
    strides = [int(v) for v in attrs.get("strides", [1, 1])]
    dil = [int(v) for v in attrs.get("dilations", [1, 1])]
    if len(strides) != 2 or len(dil) != 2 or min(strides + dil) < 1:
        raise _Malformed("strides %r / dilations %r" % (strides, dil))
    auto_pad = _str(attrs.get("auto_pad"), "NOTSET")
    if auto_pad in ("NOTSET", ""):
        pads = [int(v) for v in attrs.get("pads", [0, 0, 0, 0])]
        if len(pads) != 4:
            raise _Malformed("pads %r (expected 4 values)" % pads)
    elif auto_pad == "VALID":
        pads = [0, 0, 0, 0]
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        (t, b), (l, r) = _auto_pads(auto_pad, spatial, kshape, strides, dil)
        pads = [t, l, b, r]
    else:
        raise _Unsupported("auto_pad %r" % auto_pad)
    if min(pads) < 0:
        raise _Unsupported("negative pads %r" % pads)
    return strides, dil, pads


def _conv_operands(c, node, what):
    """(input name, input shape, weight W, bias B or None) of a 2D Conv / ConvTranspose."""
    name, shape = c.act(node)
    w = c.fweight(node, 1, "weight W", required=True)
    b = c.fweight(node, 2, "bias B")
    if w.ndim != len(shape) or w.ndim < 3:
        raise _Malformed("weight %r does not fit input %r" % (w.shape, shape))
    if w.ndim != 4:
        raise _Unsupported("%dD %s (only 2D runs)" % (w.ndim - 2, what))
    return name, shape, w, b


def _op_conv(c, node, attrs):
    name, shape, w, b = _conv_operands(c, node, "Conv")
    strides, dil, pads = _conv_geometry(c, node, attrs, shape[2:], w.shape[2:])
    groups = int(attrs.get("group", 1))
    ins = [name, c.weight(node, "weight", w), c.weight(node, "bias", b.reshape(-1)) if b is not None else ""]
    c.set_act(node.output[0], c.emit(node, "conv2d", ins, {
        "stride": strides, "padding": [pads[0], pads[1], pads[2], pads[3]], "dilation": dil,
        "groups": groups}, node.output[0]))


def _op_conv_transpose(c, node, attrs):
    name, shape, w, b = _conv_operands(c, node, "ConvTranspose")
    ks = attrs.get("kernel_shape")
    if ks is not None and list(ks) != list(w.shape[2:]):
        raise _Malformed("kernel_shape %r does not match the weight's %r" % (list(ks), list(w.shape[2:])))
    k = list(w.shape[2:])
    ins = list(shape[2:])
    strides = [int(v) for v in attrs.get("strides", [1, 1])]
    dil = [int(v) for v in attrs.get("dilations", [1, 1])]
    opad = [int(v) for v in attrs.get("output_padding", [0, 0])]
    groups = int(attrs.get("group", 1))
    auto_pad = _str(attrs.get("auto_pad"), "NOTSET")
    out_shape = attrs.get("output_shape")
    if out_shape is not None:
        out_shape = [int(v) for v in out_shape][-2:]
    if auto_pad not in ("NOTSET", "", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise _Unsupported("auto_pad %r" % auto_pad)
    pads = attrs.get("pads")
    if pads is None and auto_pad in ("SAME_UPPER", "SAME_LOWER") or (pads is None and out_shape is not None):
        if out_shape is None:
            out_shape = [ins[i] * strides[i] for i in range(2)]
        total = [strides[i] * (ins[i] - 1) + opad[i] + (k[i] - 1) * dil[i] + 1 - out_shape[i] for i in range(2)]
        begin, end = [], []
        for t in total:
            if auto_pad == "SAME_UPPER":
                begin.append(t // 2)
                end.append(t - t // 2)
            else:
                begin.append(t - t // 2)
                end.append(t // 2)
        pads = begin + end
    elif pads is None:
        pads = [0, 0, 0, 0]
    pads = [int(v) for v in pads]
    if len(pads) != 4:
        raise _Malformed("pads %r (expected 4 values)" % pads)
    # a negative end pad extends the output: the same as output_padding
    for i in range(2):
        if pads[2 + i] < 0:
            opad[i] -= pads[2 + i]
            pads[2 + i] = 0
    if min(pads) < 0:
        raise _Unsupported("negative begin pads %r" % pads)
    ins_ir = [name, c.weight(node, "weight", w), c.weight(node, "bias", b.reshape(-1)) if b is not None else ""]
    if "conv_transpose2d" not in OPS:
        raise _Unsupported("ConvTranspose needs the conv_transpose2d op (not in this version)")
    c.set_act(node.output[0], c.emit(node, "conv_transpose2d", ins_ir, {
        "stride": strides, "padding": [pads[0], pads[1], pads[2], pads[3]], "output_padding": opad,
        "dilation": dil, "groups": groups}, node.output[0]))


# ------------------------------------------------------------------------------ norms

def _op_batchnorm(c, node, attrs):
    name, shape = c.act(node)
    if len(shape) < 2:
        raise _Malformed("input %r must be (N, C, ...)" % (shape,))
    ch = shape[1]
    scale, bias, mean, var = (c.fweight(node, i, w, required=True)
                              for i, w in ((1, "scale"), (2, "B"), (3, "input_mean"), (4, "input_var")))
    eps = float(attrs.get("epsilon", 1e-5))
    training = bool(attrs.get("training_mode", 0)) if c.opset >= 14 else False
    if any(v and v in c._used for v in node.output[1:]):
        raise _Unsupported("the running mean/var outputs (training mode)")
    if c.opset < 14 and any(node.output[1:]):
        # opset < 14 spelled training mode with the extra outputs; nothing reads them here, so
        # these are inference graphs that declare them (as some exporters do): running statistics
        c.note("bn_declared_outputs", node, "BatchNormalization declares training-mode outputs nobody reads; "
               "normalised with the running statistics")
    spatial = int(attrs.get("spatial", 1)) if c.opset < 9 else 1
    params = (scale, bias, mean, var)
    per_channel = all(p.size == ch for p in params)
    if training:
        if not per_channel:
            raise _Unsupported("training-mode statistics with per-activation parameters")
        ins = [name, "", "", c.weight(node, "scale", scale.reshape(-1)), c.weight(node, "bias", bias.reshape(-1))]
        c.note("bn_batch_stats", node, "BatchNormalization in training mode: normalises with the batch's own "
               "statistics (results depend on the batch); re-export the model in eval mode")
        c.set_act(node.output[0], c.emit(node, "batch_norm", ins, {"eps": eps, "batch_stats": True},
                                         node.output[0]))
        return
    if per_channel and (spatial == 1 or all(d == 1 for d in shape[2:]) or all(p.ndim <= 1 for p in params)):
        ins = [name] + [c.weight(node, s, p.reshape(-1)) for s, p in
                        (("mean", mean), ("var", var), ("scale", scale), ("bias", bias))]
        c.set_act(node.output[0], c.emit(node, "batch_norm", ins, {"eps": eps}, node.output[0]))
        return
    # spatial=0: statistics per activation (C, D1, ...): y = x * s + t with broadcast constants
    rest = tuple(shape[1:])
    try:
        full = [np.broadcast_to(p.reshape(p.shape if p.ndim == len(rest) else (p.shape + (1,) * (len(rest) - p.ndim))),
                                rest).astype(np.float64) for p in params]
    except ValueError:
        raise _Malformed("parameters %r do not fit the input %r" % ([p.shape for p in params], shape))
    s = full[0] / np.sqrt(full[3] + eps)
    t = full[1] - full[2] * s
    m = c.emit(node, "mul", [name, c.weight(node, "scale", s.reshape((1,) + rest))])
    c.set_act(node.output[0], c.emit(node, "add", [m, c.weight(node, "shift", t.reshape((1,) + rest))], {},
                                     node.output[0]))


def _op_instancenorm(c, node, attrs):
    name, shape = c.act(node)
    scale, bias = c.fweight(node, 1, "scale", True), c.fweight(node, 2, "B", True)
    eps = float(attrs.get("epsilon", 1e-5))
    if len(shape) == 3:
        src = c.producer_of(name)
        g = shape[1]
        if (src is not None and src.op == "reshape" and np.all(scale == 1) and np.all(bias == 0)):
            x4 = src.inputs[0]
            s4 = c._ir_value_shape[x4]
            if len(s4) == 4 and s4[1] % g == 0 and s4[0] is shape[0] or (len(s4) == 4 and s4[0] == shape[0]
                                                                          and s4[1] % g == 0):
                # torch's GroupNorm export: Reshape(N, G, -1) -> InstanceNormalization -> Reshape back
                y = c.emit(node, "group_norm", [x4, "", ""], {"num_groups": g, "eps": eps})
                back = [-1 if shape[0] is BATCH else int(shape[0])] + [int(d) for d in shape[1:]]
                return c.rename(c.emit(node, "reshape", [y], {"shape": back}), node.output[0])
        # (N, C, L) as the image (N, C, L, 1)
        four = [-1 if shape[0] is BATCH else int(shape[0])] + [int(d) for d in shape[1:]] + [1]
        x = c.emit(node, "reshape", [name], {"shape": four})
        ins = [x, "", "", c.weight(node, "scale", scale.reshape(-1)), c.weight(node, "bias", bias.reshape(-1))]
        y = c.emit(node, "instance_norm", ins, {"eps": eps, "use_input_stats": True})
        back = [-1 if shape[0] is BATCH else int(shape[0])] + [int(d) for d in shape[1:]]
        return c.rename(c.emit(node, "reshape", [y], {"shape": back}), node.output[0])
    if len(shape) != 4:
        raise _Unsupported("InstanceNormalization of a %dD input (only 3D and 4D run)" % len(shape))
    ins = [name, "", "", c.weight(node, "scale", scale.reshape(-1)), c.weight(node, "bias", bias.reshape(-1))]
    c.set_act(node.output[0], c.emit(node, "instance_norm", ins, {
        "eps": eps, "use_input_stats": True}, node.output[0]))


def _op_layernorm(c, node, attrs):
    name, shape = c.act(node)
    r = len(shape)
    axis = int(attrs.get("axis", -1))
    if not -r <= axis < r:
        raise _Malformed("axis %d out of range for %dD" % (axis, r))
    axis %= r
    if any(v and v in c._used for v in node.output[1:]):
        raise _Unsupported("the Mean/InvStdDev outputs")
    if axis == 0 and _has_batch(shape):
        raise _BatchDep("normalises over the batch (axis 0)")
    norm = tuple(shape[axis:])
    scale = c.fweight(node, 1, "Scale", True)
    bias = c.fweight(node, 2, "B")
    try:
        scale = np.broadcast_to(scale, norm)
        bias = None if bias is None else np.broadcast_to(bias, norm)
    except ValueError:
        raise _BatchDep("Scale/B vary along dims before axis") if any(
            d is BATCH for d in shape) else _Unsupported("Scale/B that vary along dims before axis")
    eps = float(attrs.get("epsilon", 1e-5))
    ins = [name, c.weight(node, "scale", scale.reshape(-1))]
    ins.append(c.weight(node, "bias", bias.reshape(-1)) if bias is not None else "")
    if axis == 0:
        # fixed batch: one row over everything
        flat = c.emit(node, "reshape", [name], {"shape": [1, math.prod(shape)]})
        y = c.emit(node, "layer_norm", [flat] + ins[1:], {"normalized_ndim": 1, "eps": eps})
        return c.rename(c.emit(node, "reshape", [y], {"shape": [int(d) for d in shape]}), node.output[0])
    c.set_act(node.output[0], c.emit(node, "layer_norm", ins, {"normalized_ndim": r - axis, "eps": eps},
                                     node.output[0]))


def _op_groupnorm(c, node, attrs):
    name, shape = c.act(node)
    if len(shape) < 3:
        raise _Unsupported("GroupNormalization of a %dD input" % len(shape))
    g = int(attrs.get("num_groups"))
    ch = shape[1]
    if ch % g:
        raise _Malformed("num_groups %d does not divide %d channels" % (g, ch))
    scale, bias = c.fweight(node, 1, "scale", True).reshape(-1), c.fweight(node, 2, "bias", True).reshape(-1)
    if c.opset < 21 and scale.size == g and g != ch:
        # opset 18: scale/bias per group; repeat per channel
        scale, bias = np.repeat(scale, ch // g), np.repeat(bias, ch // g)
    if scale.size != ch or bias.size != ch:
        raise _Malformed("scale/bias have %d/%d values, expected %d channels%s"
                         % (scale.size, bias.size, ch, " or %d groups" % g if c.opset < 21 else ""))
    if len(shape) != 4:
        raise _Unsupported("GroupNormalization of a %dD input (only 4D images run)" % len(shape))
    ins = [name, c.weight(node, "scale", scale), c.weight(node, "bias", bias)]
    c.set_act(node.output[0], c.emit(node, "group_norm", ins, {
        "num_groups": g, "eps": float(attrs.get("epsilon", 1e-5))}, node.output[0]))


# ------------------------------------------------------------------------------ softmax

def _op_softmax(c, node, attrs):
    name, shape = c.act(node)
    r = len(shape)
    op = "softmax" if node.op_type == "Softmax" else "log_softmax"
    if c.opset >= 13:
        axis = int(attrs.get("axis", -1))
        if not -r <= axis < r:
            raise _Malformed("axis %d out of range for %dD" % (axis, r))
        axis %= r
        if axis == 0 and _has_batch(shape):
            raise _BatchDep("softmax over the batch (axis 0)")
    else:
        # opset < 13: the input is seen as 2D [prod(dims before axis), prod(dims from axis)]
        axis = int(attrs.get("axis", 1))
        if not -r <= axis <= r:
            raise _Malformed("axis %d out of range for %dD" % (axis, r))
        axis %= max(r, 1)
        if axis == 0 and _has_batch(shape):
            raise _BatchDep("softmax over every dim including the batch (axis 0)")
        if not all(d == 1 for d in shape[axis + 1:]):
            # softmax over the trailing dims flattened into one: reshape, softmax, reshape back
            lead = [-1 if d is BATCH else int(d) for d in shape[:axis]]
            flat = c.emit(node, "reshape", [name], {"shape": lead + [int(math.prod(shape[axis:]))]})
            y = c.emit(node, op, [flat], {"dim": axis})
            back = [-1 if d is BATCH else int(d) for d in shape]
            return c.rename(c.emit(node, "reshape", [y], {"shape": back}), node.output[0])
    c.set_act(node.output[0], c.emit(node, op, [name], {"dim": axis}, node.output[0]))


# ------------------------------------------------------------------------------ pooling

def _pool_common(c, node, attrs, shape):
    if len(shape) != 4:
        raise _Unsupported("%dD pooling (only 2D runs)" % (len(shape) - 2))
    k = [int(v) for v in attrs.get("kernel_shape", [])]
    if len(k) != 2:
        raise _Malformed("kernel_shape %r" % k)
    strides = [int(v) for v in attrs.get("strides", [1, 1])]
    dil = [int(v) for v in attrs.get("dilations", [1, 1])]
    auto_pad = _str(attrs.get("auto_pad"), "NOTSET")
    if auto_pad in ("NOTSET", ""):
        pads = [int(v) for v in attrs.get("pads", [0, 0, 0, 0])]
    elif auto_pad == "VALID":
        pads = [0, 0, 0, 0]
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        (t, b), (l, r) = _auto_pads(auto_pad, shape[2:], k, strides, dil)
        pads = [t, l, b, r]
    else:
        raise _Unsupported("auto_pad %r" % auto_pad)
    return k, strides, dil, pads, bool(attrs.get("ceil_mode", 0)), auto_pad


def _onnx_pool_out(n, k, s, d, p0, p1, ceil_mode, auto_pad):
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return -(-n // s)
    if auto_pad == "VALID":
        span = (k - 1) * d + 1
        return (n - span) // s + 1 if not ceil_mode else -(-(n - span + 1) // s)
    span = (k - 1) * d + 1
    if ceil_mode:
        out = -(-(n + p0 + p1 - span) // s) + 1
        if (out - 1) * s >= n + p0:
            out -= 1
        return out
    return (n + p0 + p1 - span) // s + 1


def _op_maxpool(c, node, attrs):
    name, shape = c.act(node)
    if len(node.output) > 1 and node.output[1] and node.output[1] in c._used:
        raise _Unsupported("the Indices output")
    k, strides, dil, pads, ceil, auto_pad = _pool_common(c, node, attrs, shape)
    t, l, b, r = pads
    want = [_onnx_pool_out(shape[2 + i], k[i], strides[i], dil[i], pads[i], pads[2 + i], ceil, auto_pad)
            for i in range(2)]
    if t == b and l == r and t <= k[0] // 2 and l <= k[1] // 2:
        out = c.emit(node, "max_pool2d", [name], {"kernel": k, "stride": strides, "padding": [t, l],
                                                  "dilation": dil, "ceil_mode": ceil})
    else:
        # asymmetric or large pads: pad with -inf, then pool without padding
        p = c.emit(node, "pad", [name], {"pads": [l, r, t, b], "mode": "constant", "value": float("-inf")})
        out = c.emit(node, "max_pool2d", [p], {"kernel": k, "stride": strides, "padding": [0, 0],
                                               "dilation": dil, "ceil_mode": ceil})
    got = list(c._ir_value_shape[out][2:])
    if got != want:
        raise _Unsupported("output %r differs from ONNX's %r for these pads/ceil_mode" % (got, want))
    c.rename(out, node.output[0])


def _op_avgpool(c, node, attrs):
    name, shape = c.act(node)
    k, strides, dil, pads, ceil, auto_pad = _pool_common(c, node, attrs, shape)
    if dil != [1, 1]:
        raise _Unsupported("dilations %r" % dil)
    cip = bool(attrs.get("count_include_pad", 0))
    t, l, b, r = pads
    want = [_onnx_pool_out(shape[2 + i], k[i], strides[i], dil[i], pads[i], pads[2 + i], ceil, auto_pad)
            for i in range(2)]
    if t == b and l == r and t <= k[0] // 2 and l <= k[1] // 2:
        out = c.emit(node, "avg_pool2d", [name], {"kernel": k, "stride": strides, "padding": [t, l],
                                                  "ceil_mode": ceil, "count_include_pad": cip})
    elif cip and not ceil:
        p = c.emit(node, "pad", [name], {"pads": [l, r, t, b], "mode": "constant", "value": 0.0})
        out = c.emit(node, "avg_pool2d", [p], {"kernel": k, "stride": strides, "padding": [0, 0],
                                               "ceil_mode": False, "count_include_pad": True})
    else:
        raise _Unsupported("pads %r with count_include_pad=%d%s (asymmetric or larger than half the kernel)"
                           % (pads, cip, ", ceil_mode" if ceil else ""))
    got = list(c._ir_value_shape[out][2:])
    if got != want:
        raise _Unsupported("output %r differs from ONNX's %r for these pads/ceil_mode" % (got, want))
    c.rename(out, node.output[0])


def _op_global_pool(c, node, attrs):
    name, shape = c.act(node)
    if len(shape) != 4:
        raise _Unsupported("%dD input (only 4D images run)" % len(shape))
    op = "adaptive_avg_pool2d" if node.op_type == "GlobalAveragePool" else "adaptive_max_pool2d"
    c.set_act(node.output[0], c.emit(node, op, [name], {"output_size": [1, 1]}, node.output[0]))


def _op_reduce(c, node, attrs):
    name, shape = c.act(node)
    since = 18 if node.op_type in ("ReduceMean", "ReduceMax") else 13
    axes = _axes_arg(c, node, attrs, 1, since)
    keep = int(attrs.get("keepdims", 1))
    r = len(shape)
    if axes is None or len(axes) == 0:
        if c.opset >= 18 and attrs.get("noop_with_empty_axes", 0):
            return _op_identity(c, node, attrs)
        axes = list(range(r))
    axes = sorted(a % r for a in axes)
    if r != 4 or axes != [2, 3]:
        if 0 in axes and _has_batch(shape):
            raise _BatchDep("reduces over the batch")
        raise _Unsupported("axes %r of a %dD input (only the spatial axes [2, 3] of an image)" % (axes, r))
    op = "adaptive_avg_pool2d" if node.op_type == "ReduceMean" else "adaptive_max_pool2d"
    if keep:
        c.set_act(node.output[0], c.emit(node, op, [name], {"output_size": [1, 1]}, node.output[0]))
    else:
        p = c.emit(node, op, [name], {"output_size": [1, 1]})
        c.set_act(node.output[0], c.emit(node, "flatten", [p], {"start_dim": 1, "end_dim": -1}, node.output[0]))


# ------------------------------------------------------------------------------ reshapes

def _merge_groups(src, dst):
    """Groups of consecutive src dims whose products are the dst dims, or None."""
    groups, i = [], 0
    for t in dst:
        start = i
        if t is BATCH:
            if i >= len(src) or src[i] is not BATCH:
                return None
            i += 1
        elif t == 1 and i < len(src) and src[i] == 1:
            i += 1
        else:
            p = 1
            while i < len(src) and src[i] is not BATCH and p < t:
                p *= src[i]
                i += 1
            if p != t or i == start:
                return None
        groups.append([start, i])
    while i < len(src) and src[i] == 1 and groups:
        groups[-1][1] += 1
        i += 1
    if i != len(src) or (not groups and src):
        return None
    return groups


def _reshape_to(c, node, name, shape, dst, out_name):
    """Emit flattens turning `shape` into `dst` (a resolved target); alias when equal."""
    dst = tuple(dst)
    if dst == tuple(shape):
        c.ir[out_name] = name
        c.shape[out_name] = shape
        return
    src = c.producer_of(name)
    if src is not None and src.op in ("reshape", "flatten") and tuple(c._ir_value_shape[src.inputs[0]]) == dst:
        # a reshape back to what a reshape started from: the earlier value itself
        c.ir[out_name] = src.inputs[0]
        c.shape[out_name] = dst
        return
    groups = _merge_groups(tuple(shape), dst)
    if groups is None:
        if _has_batch(shape) and (not dst or dst[0] is not BATCH or BATCH in dst[1:]):
            raise _BatchDep("reshape %r -> %r moves the batch" % (_fmt(shape), _fmt(dst)))
        if not dst or any(d is not BATCH and d < 1 for d in dst):
            raise _Unsupported("reshape %r -> %r (empty or scalar result)" % (_fmt(shape), _fmt(dst)))
        target = [-1 if d is BATCH else int(d) for d in dst]
        return c.rename(c.emit(node, "reshape", [name], {"shape": target}), out_name)
    if len(shape) == 4 and (len(dst) != 2 or groups[0] != [0, 1]):
        # the plan flattens an image only to (N, rest): anything else is a reshape
        target = [-1 if d is BATCH else int(d) for d in dst]
        if BATCH in dst[1:] or (_has_batch(shape) and dst[0] is not BATCH):
            raise _BatchDep("reshape %r -> %r moves the batch" % (_fmt(shape), _fmt(dst)))
        return c.rename(c.emit(node, "reshape", [name], {"shape": target}), out_name)
    cur = name
    merges = [(s, e) for s, e in groups if e - s > 1]
    for s, e in reversed(merges):
        cur = c.emit(node, "flatten", [cur], {"start_dim": s, "end_dim": e - 1})
    if not merges:
        c.ir[out_name] = name
        c.shape[out_name] = dst
        return
    c.rename(cur, out_name)


def _fmt(shape):
    return [("N" if d is BATCH else d) for d in shape]


def _resolve_target(c, node, shape, target, allowzero=False):
    """ONNX Reshape target (ints with 0 / -1, or a symbolic vector) against the input shape."""
    out = []
    for i, t in enumerate(target):
        if t is UNKNOWN:
            raise _BatchDep("target shape computed from the batch size")
        if t is BATCH:
            out.append(BATCH)
        elif int(t) == 0 and not allowzero:
            if i >= len(shape):
                raise _Malformed("target %r copies dim %d of a %dD input" % (list(target), i, len(shape)))
            out.append(shape[i])
        else:
            out.append(int(t))
    if sum(1 for d in out if d is not BATCH and d == -1) > 1:
        raise _Malformed("target %r has more than one -1" % (list(target),))
    # the fixed-batch-1 export: Reshape(x, [1, ...]) on a batch-1 model keeps the batch
    if (out and out[0] is not BATCH and out[0] == 1 and shape and shape[0] is BATCH
            and all(b == 1 for b in c.declared_batch.values()) and c.declared_batch
            and BATCH not in out[1:]):
        rest_known = math.prod(d for d in shape[1:])
        tail = [d for d in out[1:]]
        if -1 in tail or math.prod(tail) == rest_known:
            out[0] = BATCH
            c.note("batch1_reshape", node, "Reshape to %r on a batch-1 model taken as keeping the batch"
                   % ([int(t) if not isinstance(t, _Sym) else t for t in target],))
    if -1 in [d for d in out if d is not BATCH]:
        j = [k for k, d in enumerate(out) if d is not BATCH and d == -1][0]
        sb, ob = shape.count(BATCH) if BATCH in shape else 0, out.count(BATCH)
        if sb != ob:
            raise _BatchDep("reshape %r -> %r moves the batch" % (_fmt(shape), list(target)))
        total = math.prod(d for d in shape if d is not BATCH)
        known = math.prod(d for k, d in enumerate(out) if d is not BATCH and k != j)
        if known == 0 or total % known:
            raise _Malformed("cannot reshape %r to %r" % (_fmt(shape), list(target)))
        out[j] = total // known
    if shape.count(BATCH) != out.count(BATCH):
        raise _BatchDep("reshape %r -> %r moves the batch" % (_fmt(shape), _fmt(out)))
    if math.prod(d for d in out if d is not BATCH) != math.prod(d for d in shape if d is not BATCH):
        raise _Malformed("cannot reshape %r to %r" % (_fmt(shape), _fmt(out)))
    return out


def _op_reshape(c, node, attrs):
    name, shape = c.act(node)
    if c.opset < 5:
        target = list(attrs.get("shape", []))
    else:
        v = node.input[1] if len(node.input) > 1 else ""
        if not v or v not in c.const:
            raise _Unsupported("shape computed at run time")
        target = list(np.asarray(c.const[v]).reshape(-1))
    dst = _resolve_target(c, node, shape, target, bool(attrs.get("allowzero", 0)))
    _reshape_to(c, node, name, shape, dst, node.output[0])


def _op_flatten(c, node, attrs):
    name, shape = c.act(node)
    r = len(shape)
    axis = int(attrs.get("axis", 1))
    if not -r <= axis <= r:
        raise _Malformed("axis %d out of range for %dD" % (axis, r))
    if axis < 0:
        axis += r
    if axis == 0:
        if _has_batch(shape):
            raise _BatchDep("Flatten axis 0 merges the batch")
        dst = (1, math.prod(shape))
    else:
        head, tail = shape[:axis], shape[axis:]
        if _has_batch(head) and len(head) > 1:
            raise _BatchDep("Flatten axis %d merges the batch with other dims" % axis)
        dst = ((BATCH,) if _has_batch(head) else (math.prod(head),)) + (math.prod(tail),)
    _reshape_to(c, node, name, shape, dst, node.output[0])


def _op_squeeze(c, node, attrs):
    name, shape = c.act(node)
    axes = _axes_arg(c, node, attrs, 1, 13)
    r = len(shape)
    if axes is None:
        axes = [i for i, d in enumerate(shape) if d == 1]
        if _has_batch(shape):
            # the batch is not squeezed at batch 1: ONNX would, fastnorm keeps dim 0 as the batch
            c.note("squeeze_batch", node, "Squeeze without axes: the batch dim is kept")
    axes = sorted(a % r for a in axes)
    if 0 in axes and shape[0] is BATCH:
        raise _BatchDep("squeezes the batch dim")
    for a in axes:
        if shape[a] != 1:
            raise _Malformed("cannot squeeze dim %d of size %r" % (a, shape[a]))
    dst = tuple(d for i, d in enumerate(shape) if i not in axes)
    _reshape_to(c, node, name, shape, dst, node.output[0])


def _op_unsqueeze(c, node, attrs):
    name, shape = c.act(node)
    axes = _axes_arg(c, node, attrs, 1, 13)
    r = len(shape) + len(axes)
    dst = list(shape)
    for a in sorted(x % r for x in axes):
        dst.insert(a, 1)
    if dst[0] is not BATCH and _has_batch(shape):
        raise _BatchDep("unsqueeze before the batch dim")
    _reshape_to(c, node, name, shape, tuple(dst), node.output[0])


def _op_transpose(c, node, attrs):
    name, shape = c.act(node)
    r = len(shape)
    perm = [int(v) for v in attrs.get("perm", list(reversed(range(r))))]
    if sorted(perm) != list(range(r)):
        raise _Malformed("perm %r" % perm)
    # a transpose that only moves dims of size 1 is a reshape
    moved = [p for i, p in enumerate(perm) if p != i]
    big = [p for p in perm if shape[p] is BATCH or shape[p] != 1]
    if not moved or big == sorted(big):
        dst = tuple(shape[p] for p in perm)
        return _reshape_to(c, node, name, shape, dst, node.output[0])
    if r == 4 and perm in ([0, 2, 3, 1], [0, 3, 1, 2]):
        c.set_act(node.output[0], c.emit(node, "transpose", [name], {"perm": perm}, node.output[0]))
        return
    if shape[0] is BATCH and perm[0] != 0:
        raise _BatchDep("perm %r moves the batch" % perm)
    raise _Unsupported("perm %r on %r (only NCHW <-> NHWC and transposes that keep the data order)"
                       % (perm, _fmt(shape)))


# ------------------------------------------------------------------------------ linear

def _op_gemm(c, node, attrs):
    a_in, b_in = node.input[0], node.input[1]
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    ta, tb = int(attrs.get("transA", 0)), int(attrs.get("transB", 0))
    if not c.is_act(a_in):
        raise _Unsupported("A is a constant and B %s (only activation x constant weight runs)"
                           % ("an activation" if c.is_act(b_in) else "a constant"))
    name, shape = c.act(node)
    if len(shape) != 2:
        raise _Malformed("A must be 2D, got %r" % (_fmt(shape),))
    if ta:
        if shape[0] is BATCH:
            raise _BatchDep("transA=1 transposes the batch")
        raise _Unsupported("transA=1 with an activation A")
    if c.is_act(b_in):
        raise _Unsupported("B is an activation (only constant weights)")
    bm = c.fweight(node, 1, "B", True)
    if bm.ndim != 2:
        raise _Malformed("B must be 2D, got %r" % (bm.shape,))
    w = (bm if tb else bm.T).astype(np.float64) * alpha      # (out, in)
    if w.shape[1] != shape[1]:
        raise _Malformed("A %r and B %r do not fit (transB=%d)" % (_fmt(shape), bm.shape, tb))
    cm = c.fweight(node, 2, "C")
    bias, extra = None, None
    if cm is not None and beta != 0.0:
        cm = cm.astype(np.float64) * beta
        if cm.ndim <= 1 or (cm.ndim == 2 and cm.shape[0] == 1):
            v = cm.reshape(-1)
            if v.size not in (1, w.shape[0]):
                raise _Malformed("C %r does not broadcast to (M, %d)" % (cm.shape, w.shape[0]))
            bias = np.broadcast_to(v, (w.shape[0],))
        else:
            if shape[0] is BATCH:
                raise _BatchDep("C %r varies along the batch" % (cm.shape,))
            extra = cm
    ins = [name, c.weight(node, "weight", w), c.weight(node, "bias", bias) if bias is not None else ""]
    if extra is None:
        c.set_act(node.output[0], c.emit(node, "linear", ins, {}, node.output[0]))
    else:
        y = c.emit(node, "linear", ins)
        c.set_act(node.output[0], c.emit(node, "add", [y, c.weight(node, "C", extra)], {}, node.output[0]))


def _op_matmul(c, node, attrs):
    a_in, b_in = node.input[0], node.input[1]
    if not c.is_act(a_in) or c.is_act(b_in):
        raise _Unsupported("only activation x constant 2D weight runs (A %s, B %s)"
                           % ("activation" if c.is_act(a_in) else "constant",
                              "activation" if c.is_act(b_in) else "constant"))
    name, shape = c.act(node)
    bm = c.fweight(node, 1, "B", True)
    if bm.ndim != 2:
        raise _Unsupported("a %dD constant B (only 2D weights)" % bm.ndim)
    if len(shape) < 2:
        raise _Unsupported("a 1D A")
    if shape[-1] != bm.shape[0]:
        raise _Malformed("A %r and B %r do not fit" % (_fmt(shape), bm.shape))
    c.set_act(node.output[0], c.emit(node, "linear", [name, c.weight(node, "weight", bm.T), ""], {},
                                     node.output[0]))


# ------------------------------------------------------------------------------ elementwise

def _legacy_broadcast(c, node, attrs, shape, const):
    """opset < 7 Add/Mul/...: broadcast=1 aligns B's dims at `axis` (default: the trailing dims)."""
    if c.opset >= 7 or not attrs.get("broadcast", 0) or const is None:
        return const
    r = len(shape)
    axis = attrs.get("axis")
    if axis is None:
        return const
    axis = int(axis) % r
    return const.reshape(const.shape + (1,) * (r - axis - const.ndim))


def _check_const_bcast(c, shape, const):
    if const.ndim > len(shape):
        if _has_batch(shape):
            raise _BatchDep("a constant of rank %d adds dims before the batch" % const.ndim)
        return
    if const.ndim == len(shape) and shape and shape[0] is BATCH and const.shape[0] != 1:
        raise _BatchDep("a constant %r varies along the batch" % (const.shape,))


def _op_binary(c, node, attrs):
    op = node.op_type
    a, b = node.input[0], node.input[1]
    aa, ba = c.is_act(a), c.is_act(b)
    if aa and ba:
        (na, sa), (nb, sb) = c.act(node, 0), c.act(node, 1)
        if c.opset < 7 and attrs.get("broadcast", 0) and attrs.get("axis") is not None and len(sb) < len(sa):
            raise _Unsupported("legacy broadcast with axis between two activations")
        if op == "Add":
            out = c.emit(node, "add", [na, nb], {}, node.output[0])
        elif op == "Mul":
            out = c.emit(node, "mul", [na, nb], {}, node.output[0])
        elif op == "Sub":
            neg = c.emit(node, "mul", [nb, c.weight(node, "minus1", np.array([-1.0]))])
            out = c.emit(node, "add", [na, neg], {}, node.output[0])
        else:
            raise _Unsupported("Div of two activations (no elementwise division kernel)")
        return c.set_act(node.output[0], out)
    if aa:
        name, shape = c.act(node, 0)
        k = _legacy_broadcast(c, node, attrs, shape, c.fweight(node, 1, "B", True))
        _check_const_bcast(c, shape, k)
        if op == "Add":
            out = c.emit(node, "add", [name, c.weight(node, "B", k)], {}, node.output[0])
        elif op == "Sub":
            out = c.emit(node, "add", [name, c.weight(node, "B", -k.astype(np.float32))], {}, node.output[0])
        elif op == "Mul":
            out = c.emit(node, "mul", [name, c.weight(node, "B", k)], {}, node.output[0])
        else:
            out = c.emit(node, "mul", [name, c.weight(node, "B", (1.0 / k.astype(np.float64)))], {},
                         node.output[0])
        return c.set_act(node.output[0], out)
    name, shape = c.act(node, 1)
    k = c.fweight(node, 0, "A", True)
    if c.opset < 7 and attrs.get("broadcast", 0):
        raise _Unsupported("legacy broadcast with a constant A")
    _check_const_bcast(c, shape, k)
    if op == "Add":
        out = c.emit(node, "add", [name, c.weight(node, "A", k)], {}, node.output[0])
    elif op == "Mul":
        out = c.emit(node, "mul", [name, c.weight(node, "A", k)], {}, node.output[0])
    elif op == "Sub":
        neg = c.emit(node, "mul", [name, c.weight(node, "minus1", np.array([-1.0]))])
        out = c.emit(node, "add", [neg, c.weight(node, "A", k)], {}, node.output[0])
    else:
        raise _Unsupported("Div of a constant by an activation (no reciprocal kernel)")
    c.set_act(node.output[0], out)


def _op_sum_mean(c, node, attrs):
    ins = [v for v in node.input if v]
    if not ins:
        raise _Malformed("no inputs")
    acts = [v for v in ins if c.is_act(v)]
    consts = [c.const[v].astype(np.float32) for v in ins if not c.is_act(v)]
    if not acts:
        raise _Malformed("no activation input")
    cur = c.ir[acts[0]]
    shape = c.shape[acts[0]]
    for v in acts[1:]:
        cur = c.emit(node, "add", [cur, c.ir[v]])
    if consts:
        k = consts[0]
        for x in consts[1:]:
            k = k + x
        _check_const_bcast(c, shape, k)
        cur = c.emit(node, "add", [cur, c.weight(node, "const", k)])
    if node.op_type == "Mean" and len(ins) > 1:
        cur = c.emit(node, "mul", [cur, c.weight(node, "inv_n", np.array([1.0 / len(ins)]))])
    if cur == c.ir[acts[0]]:
        return _op_identity(c, node, attrs)
    c.rename(cur, node.output[0])


def _op_concat(c, node, attrs):
    ins = [v for v in node.input if v]
    if any(not c.is_act(v) for v in ins):
        raise _Unsupported("a constant input among activations")
    shapes = [c.shape[v] for v in ins]
    r = len(shapes[0])
    axis = int(attrs.get("axis", 1 if c.opset < 4 else 0))
    if not -r <= axis < r:
        raise _Malformed("axis %d out of range for %dD" % (axis, r))
    axis %= r
    if axis == 0 and _has_batch(shapes[0]):
        raise _BatchDep("concatenates along the batch")
    if len(ins) == 1:
        return _op_identity(c, node, attrs)
    c.set_act(node.output[0], c.emit(node, "cat", [c.ir[v] for v in ins], {"dim": axis}, node.output[0]))


def _op_pad(c, node, attrs):
    name, shape = c.act(node)
    r = len(shape)
    mode = _str(attrs.get("mode"), "constant")
    if c.opset < 11:
        pads = [int(v) for v in attrs.get("pads", attrs.get("paddings", []))]
        value = float(attrs.get("value", 0.0))
        axes = list(range(r))
    else:
        pads = _ints_of(c, node, 1, "pads")
        if pads is None:
            raise _Malformed("pads input is required")
        cv = c.cval(node, 2, "constant_value")
        value = 0.0 if cv is None or np.asarray(cv).size == 0 else float(np.asarray(cv).reshape(-1)[0])
        axes = _ints_of(c, node, 3, "axes", list(range(r)))
    axes = [a % r for a in axes]
    if len(pads) != 2 * len(axes):
        raise _Malformed("pads %r for %d axes" % (pads, len(axes)))
    full = [0] * (2 * r)
    for i, a in enumerate(axes):
        full[a], full[r + a] = pads[i], pads[len(axes) + i]
    if r != 4 or any(full[a] or full[r + a] for a in (0, 1)):
        raise _Unsupported("pads %r (only the H/W dims of a 4D image)" % pads)
    modes = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}
    if mode not in modes:
        raise _Unsupported("mode %r" % mode)
    t, l, b, rr = full[2], full[3], full[6], full[7]
    if not any(full):
        return _op_identity(c, node, attrs)
    c.set_act(node.output[0], c.emit(node, "pad", [name], {"pads": [l, rr, t, b], "mode": modes[mode],
                                                           "value": value}, node.output[0]))


# ------------------------------------------------------------------------------ rearrangements

def _op_depth_to_space(c, node, attrs):
    name, shape = c.act(node)
    if len(shape) != 4:
        raise _Malformed("input must be 4D")
    bs = int(attrs.get("blocksize"))
    mode = _str(attrs.get("mode"), "DCR")
    if shape[1] % (bs * bs):
        raise _Malformed("%d channels not divisible by blocksize^2" % shape[1])
    cur = name
    if mode == "DCR":
        # DCR channel k = s*C' + c; CRD (pixel_shuffle) wants c*b^2 + s: a channel shuffle with b^2 groups
        cur = c.emit(node, "channel_shuffle", [cur], {"groups": bs * bs})
    elif mode != "CRD":
        raise _Unsupported("mode %r" % mode)
    c.set_act(node.output[0], c.emit(node, "pixel_shuffle", [cur], {"factor": bs}, node.output[0]))


def _op_space_to_depth(c, node, attrs):
    name, shape = c.act(node)
    if len(shape) != 4:
        raise _Malformed("input must be 4D")
    bs = int(attrs.get("blocksize"))
    mode = _str(attrs.get("mode"), "DCR")
    if mode not in ("DCR", "CRD"):
        raise _Unsupported("mode %r" % mode)
    u = c.emit(node, "pixel_unshuffle", [name], {"factor": bs})
    # pixel_unshuffle gives channel c*b^2 + s (CRD); DCR wants s*C + c: a channel shuffle with C groups
    if shape[1] == 1 or mode == "CRD":
        return c.rename(u, node.output[0])
    c.set_act(node.output[0], c.emit(node, "channel_shuffle", [u], {"groups": shape[1]}, node.output[0]))


# ------------------------------------------------------------------------------ resize

def _op_upsample(c, node, attrs):
    name, shape = c.act(node)
    mode = _str(attrs.get("mode"), "nearest")
    if c.opset < 9:
        scales = [float(v) for v in attrs.get("scales", [])]
        if not scales:  # opset < 7: height_scale / width_scale
            scales = [1.0, 1.0, float(attrs.get("height_scale", 1.0)), float(attrs.get("width_scale", 1.0))]
    else:
        s = c.cval(node, 1, "scales", required=True)
        scales = [float(v) for v in np.asarray(s).reshape(-1)]
    _resize_common(c, node, name, shape, mode, "asymmetric", "floor", scales, None, 0)


def _op_resize(c, node, attrs):
    name, shape = c.act(node)
    mode = _str(attrs.get("mode"), "nearest")
    if c.opset < 11:
        s = c.cval(node, 1, "scales", required=True)
        scales = [float(v) for v in np.asarray(s).reshape(-1)]
        return _resize_common(c, node, name, shape, mode, "asymmetric", "floor", scales, None, 0)
    ctm = _str(attrs.get("coordinate_transformation_mode"), "half_pixel")
    nearest_mode = _str(attrs.get("nearest_mode"), "round_prefer_floor")
    if ctm == "tf_crop_and_resize":
        raise _Unsupported("coordinate_transformation_mode 'tf_crop_and_resize'")
    scales = c.cval(node, 2, "scales")
    sizes = c.cval(node, 3, "sizes")
    scales = None if scales is None or np.asarray(scales).size == 0 else [float(v) for v in np.asarray(scales).reshape(-1)]
    sizes_v = None
    if sizes is not None and np.asarray(sizes).size:
        sizes_v = list(np.asarray(sizes).reshape(-1))
    antialias = int(attrs.get("antialias", 0))
    axes = attrs.get("axes")
    kar = _str(attrs.get("keep_aspect_ratio_policy"), "stretch")
    r = len(shape)
    if axes is not None:
        axes = [int(a) % r for a in axes]
        if scales is not None:
            full = [1.0] * r
            for a, s in zip(axes, scales):
                full[a] = s
            scales = full
        if sizes_v is not None:
            full = list(shape)
            for a, s in zip(axes, sizes_v):
                full[a] = s
            sizes_v = full
    if sizes_v is not None and kar != "stretch":
        raise _Unsupported("keep_aspect_ratio_policy %r" % kar)
    _resize_common(c, node, name, shape, mode, ctm, nearest_mode, scales, sizes_v, antialias)


def _onnx_axis_map(onnx, mode, ctm, nearest_mode, n_in, n_out, scale, opset, probe):
    """Run ONNX's reference Resize on a 1D probe along one axis (N=C=1, the other axis 1)."""
    from onnx.reference import ReferenceEvaluator
    h = onnx.helper
    x = probe.reshape(1, 1, n_in, 1).astype(np.float32)
    # always the opset >= 11 form: Upsample and Resize-10 are its asymmetric (floor) case
    attrs = {"mode": mode, "coordinate_transformation_mode": ctm}
    if mode == "nearest":
        attrs["nearest_mode"] = nearest_mode
    inputs = ["X", "", "scales"] if scale is not None else ["X", "", "", "sizes"]
    node = h.make_node("Resize", inputs, ["Y"], **attrs)
    g = h.make_graph([node], "probe", [h.make_tensor_value_info("X", onnx.TensorProto.FLOAT, x.shape)],
                     [h.make_empty_tensor_value_info("Y")])
    feeds = {"X": x}
    if scale is not None:
        g.initializer.append(onnx.numpy_helper.from_array(np.array([1, 1, scale, 1], np.float32), "scales"))
    else:
        g.initializer.append(onnx.numpy_helper.from_array(np.array([1, 1, n_out, 1], np.int64), "sizes"))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", max(opset, 19))])
    return np.asarray(ReferenceEvaluator(m).run(None, feeds)[0]).reshape(-1)


def _resize_common(c, node, name, shape, mode, ctm, nearest_mode, scales, sizes, antialias):
    from fastnorm.ops import interpolate
    r = len(shape)
    if r != 4:
        raise _Unsupported("a %dD input (only 4D images)" % r)
    if scales is not None and len(scales) != r:
        raise _Malformed("scales %r for a %dD input" % (scales, r))
    if sizes is not None and len(sizes) != r:
        raise _Malformed("sizes %r for a %dD input" % (sizes, r))
    if scales is None and sizes is None:
        raise _Malformed("neither scales nor sizes")
    if scales is not None and (scales[0] != 1.0 or scales[1] != 1.0):
        if scales[0] != 1.0 and shape[0] is BATCH:
            raise _BatchDep("scales the batch dim")
        raise _Unsupported("scales %r (only H and W may be scaled)" % scales)
    if sizes is not None:
        sizes = [s if isinstance(s, _Sym) else int(s) for s in sizes]
        if any(s is UNKNOWN for s in sizes):
            raise _BatchDep("sizes computed from the batch")
        if shape[0] is BATCH and sizes[0] is not BATCH:
            if c.declared_batch and all(b == sizes[0] for b in c.declared_batch.values()):
                c.note("batch_sizes", node, "Resize sizes[0]=%d, the declared batch, taken as keeping the batch"
                       % sizes[0])
                sizes[0] = BATCH
            else:
                raise _BatchDep("sizes[0]=%d fixes the batch" % sizes[0])
        if (sizes[0] is not shape[0] and sizes[0] != shape[0]) or sizes[1] != shape[1]:
            raise _Unsupported("sizes %r (only H and W may change)" % _fmt(sizes))
    if mode not in ("nearest", "linear", "bilinear"):
        raise _Unsupported("mode %r" % mode)
    if ctm not in ("asymmetric", "half_pixel", "pytorch_half_pixel", "align_corners", "half_pixel_symmetric"):
        raise _Unsupported("coordinate_transformation_mode %r" % ctm)
    if mode == "nearest" and nearest_mode not in ("floor", "ceil", "round_prefer_floor", "round_prefer_ceil"):
        raise _Unsupported("nearest_mode %r" % nearest_mode)
    ins = shape[2:]
    if sizes is not None:
        outs = [int(sizes[2]), int(sizes[3])]
        axis_scales = [None, None]
    else:
        outs = [int(math.floor(ins[i] * scales[2 + i])) for i in range(2)]
        axis_scales = [scales[2], scales[3]]
    if min(outs) < 1:
        raise _Malformed("output size %r" % outs)
    if antialias and mode != "nearest" and any(o < i for o, i in zip(outs, ins)):
        raise _Unsupported("antialias=1 when downsampling")
    onnx_mode = "linear" if mode in ("linear", "bilinear") else "nearest"
    rng = np.random.default_rng(7)
    candidates = ([("nearest", None), ("nearest-exact", None)] if onnx_mode == "nearest"
                  else [("bilinear", False), ("bilinear", True)])
    ok = None
    for ir_mode, ac in candidates:
        good = True
        for ax in range(2):
            n_in, n_out = ins[ax], outs[ax]
            probe = (np.arange(n_in, dtype=np.float32) if onnx_mode == "nearest"
                     else rng.standard_normal(n_in).astype(np.float32))
            try:
                want = _onnx_axis_map(c.onnx, onnx_mode, ctm, nearest_mode, n_in, n_out, axis_scales[ax],
                                      c.opset, probe)
            except Exception as e:  # noqa: BLE001
                raise _Unsupported("attributes the reference implementation rejects (%s)" % e)
            x = probe.reshape(1, 1, n_in, 1) if ax == 0 else probe.reshape(1, 1, 1, n_in)
            kw = {"mode": ir_mode}
            if ac is not None:
                kw["align_corners"] = ac
            if axis_scales[ax] is not None:
                kw["scale_factor"] = (axis_scales[ax], 1.0) if ax == 0 else (1.0, axis_scales[ax])
            else:
                kw["size"] = (n_out, 1) if ax == 0 else (1, n_out)
            try:
                got = interpolate(x, **kw).reshape(-1)
            except ValueError:
                good = False
                break
            if got.shape != want.shape or not np.allclose(got, want, rtol=1e-5, atol=1e-5):
                good = False
                break
        if good:
            ok = (ir_mode, ac)
            break
    if ok is None:
        desc = "mode %r with coordinate_transformation_mode %r" % (mode, ctm)
        if onnx_mode == "nearest":
            desc += " and nearest_mode %r" % nearest_mode
        raise _Unsupported("%s for %s -> %s (fastnorm's interpolate has torch's nearest, nearest-exact "
                           "and bilinear with or without align_corners)" % (desc, list(ins), outs))
    attrs = {"mode": ok[0]}
    if ok[0] == "bilinear":
        attrs["align_corners"] = ok[1]
    if sizes is not None:
        attrs["size"] = outs
    else:
        attrs["scale_factor"] = [float(axis_scales[0]), float(axis_scales[1])]
    c.set_act(node.output[0], c.emit(node, "interpolate", [name], attrs, node.output[0]))


def _op_constant_of_shape(c, node, attrs):
    raise _Unsupported("ConstantOfShape of a shape computed at run time")


def _op_expand(c, node, attrs):
    """Expand that changes nothing (a target of ones or of the input's own dims) is the identity."""
    name, shape = c.act(node)
    t = [int(v) for v in np.asarray(c.cval(node, 1, "shape", True)).reshape(-1)]
    if len(t) <= len(shape) and all(v == 1 or v == d for v, d in zip(t[::-1], shape[::-1])):
        return _op_identity(c, node, attrs)
    raise _Unsupported("Expand of an activation to %r" % t)


def _producer_of(self, ir_name):
    for n in reversed(self.nodes):
        if ir_name in n.outputs:
            return n
    return None


_Converter.producer_of = _producer_of


def _take_name(self, src, name, graph_outputs):
    """Let the node producing IR value `src` write the ONNX output `name` directly (an output reached
    through Identity / Dropout / a no-op Reshape), when `src` is not itself an input or an output."""
    if src in graph_outputs or src in self.declared_batch or self.producer_of(src) is None:
        return False
    for n in self.nodes:
        n.inputs = [name if v == src else v for v in n.inputs]
        n.outputs = [name if v == src else v for v in n.outputs]
    for k, v in list(self.ir.items()):
        if v == src:
            self.ir[k] = name
    self._ir_value_shape[name] = self._ir_value_shape[src]
    return True


_Converter._take_name = _take_name


def _fuse_linear_bias(nodes, weights, outputs):
    """MatMul then Add of a per-output-feature constant: the linear layer's bias."""
    readers = {}
    for n in nodes:
        for v in n.inputs:
            readers.setdefault(v, []).append(n)
    drop = set()
    for n in nodes:
        if n.op != "linear" or (len(n.inputs) > 2 and n.inputs[2]) or n.outputs[0] in outputs:
            continue
        rs = readers.get(n.outputs[0], [])
        if len(rs) != 1 or rs[0].op != "add" or rs[0].attrs:
            continue
        add = rs[0]
        other = [v for v in add.inputs if v != n.outputs[0]]
        if len(other) != 1 or other[0] not in weights:
            continue
        b = weights[other[0]]
        out_f = weights[n.inputs[1]].shape[0]
        if b.size != out_f or (b.ndim and b.shape[-1] != out_f):
            continue
        bias_name = other[0] + "::bias"
        weights[bias_name] = np.ascontiguousarray(b.reshape(-1), np.float32)
        n.inputs = n.inputs[:2] + [bias_name]
        n.outputs = [add.outputs[0]]
        drop.add(id(add))
    return [n for n in nodes if id(n) not in drop]


def _per_channel(w, rank, ch):
    """A constant that broadcasts over an (N, C, ...) value of `rank` along C only -> (C,) or None."""
    if w.ndim > rank or w.ndim < rank - 1 or w.size not in (1, ch):
        return None
    full = (1,) * (rank - w.ndim) + w.shape
    if any(d != 1 for i, d in enumerate(full) if i != 1):
        return None
    return np.broadcast_to(w.reshape(-1).astype(np.float64), (ch,))


_AFFINE = {"group_norm": (1, 2), "layer_norm_channels": (1, 2), "instance_norm": (3, 4)}


def _fold_affine(nodes, weights, outputs, shapes):
    """Per-channel Mul/Add constants after a conv (bias) or a norm (its gamma/beta), as exporters emit
    for a separate bias Add (Caffe2, broadcast=1) or torch's GroupNorm (InstanceNorm + Mul + Add)."""
    readers = {}
    for n in nodes:
        for v in n.inputs:
            readers.setdefault(v, []).append(n)
    drop = set()
    for n in nodes:
        if n.op not in ("conv2d",) + tuple(_AFFINE) or n.attrs.get("act") or n.attrs.get("residual"):
            continue
        shape = shapes.get(n.outputs[0])
        if shape is None or len(shape) < 2:
            continue
        ch, rank = shape[1], len(shape)
        while n.outputs[0] not in outputs:
            rs = readers.get(n.outputs[0], [])
            if len(rs) != 1 or rs[0].op not in ("add", "mul") or rs[0].attrs or id(rs[0]) in drop:
                break
            nxt = rs[0]
            other = [v for v in nxt.inputs if v != n.outputs[0]]
            if len(other) != 1 or other[0] not in weights:
                break
            k = _per_channel(weights[other[0]], rank, ch)
            if k is None or (n.op == "conv2d" and nxt.op == "mul"):
                break
            if n.op == "conv2d":
                b = weights[n.inputs[2]].astype(np.float64) if len(n.inputs) > 2 and n.inputs[2] else np.zeros(ch)
                name = n.name + "::bias_folded"
                weights[name] = (b + k).astype(np.float32)
                n.inputs = n.inputs[:2] + [name] + n.inputs[3:]
            else:
                gi, bi = _AFFINE[n.op]
                while len(n.inputs) <= bi:
                    n.inputs.append("")
                g = weights[n.inputs[gi]].astype(np.float64) if n.inputs[gi] else np.ones(ch)
                b = weights[n.inputs[bi]].astype(np.float64) if n.inputs[bi] else np.zeros(ch)
                if nxt.op == "mul":
                    g, b = g * k, b * k
                else:
                    b = b + k
                n.inputs[gi], n.inputs[bi] = n.name + "::gamma_folded", n.name + "::beta_folded"
                weights[n.inputs[gi]] = g.astype(np.float32)
                weights[n.inputs[bi]] = b.astype(np.float32)
            shapes[nxt.outputs[0]] = shape
            n.outputs = [nxt.outputs[0]]
            drop.add(id(nxt))
            readers = {}
            for m in nodes:
                if id(m) in drop:
                    continue
                for v in m.inputs:
                    readers.setdefault(v, []).append(m)
    return [n for n in nodes if id(n) not in drop]


def _dead_code(nodes, outputs):
    """Drop IR nodes whose results nobody reads (left behind by peepholes)."""
    while True:
        used = set(outputs)
        for n in nodes:
            used.update(v for v in n.inputs if v)
        keep = [n for n in nodes if any(v in used for v in n.outputs)]
        if len(keep) == len(nodes):
            return nodes
        nodes = keep


def _rename(self, ir_name, onnx_name):
    """Give the last emitted node's output the ONNX value name (IR values keep ONNX names)."""
    n = self.nodes[-1]
    if n.outputs[0] == ir_name and onnx_name not in self._ir_value_shape:
        n.outputs[0] = onnx_name
        self._ir_value_shape[onnx_name] = self._ir_value_shape[ir_name]
        self.names.add(onnx_name)
        ir_name = onnx_name
    self.set_act(onnx_name, ir_name)


_Converter.rename = _rename


_HANDLERS = {
    "Constant": _op_constant, "Shape": _op_shape, "Size": _op_size, "Identity": _op_identity,
    "Cast": _op_cast, "Dropout": _op_dropout,
    "Relu": _unary("relu"), "Sigmoid": _unary("sigmoid"), "Tanh": _unary("tanh"), "Mish": _unary("mish"),
    "HardSwish": _op_hardswish, "HardSigmoid": _op_hardsigmoid, "LeakyRelu": _op_leaky_relu, "Elu": _op_elu,
    "Selu": _op_selu, "Celu": _op_celu, "Softplus": _op_softplus, "Gelu": _op_gelu, "Clip": _op_clip,
    "PRelu": _op_prelu,
    "Conv": _op_conv, "ConvTranspose": _op_conv_transpose,
    "BatchNormalization": _op_batchnorm, "InstanceNormalization": _op_instancenorm,
    "LayerNormalization": _op_layernorm, "GroupNormalization": _op_groupnorm,
    "Softmax": _op_softmax, "LogSoftmax": _op_softmax,
    "MaxPool": _op_maxpool, "AveragePool": _op_avgpool, "GlobalAveragePool": _op_global_pool,
    "GlobalMaxPool": _op_global_pool, "ReduceMean": _op_reduce, "ReduceMax": _op_reduce,
    "Flatten": _op_flatten, "Reshape": _op_reshape, "Squeeze": _op_squeeze, "Unsqueeze": _op_unsqueeze,
    "Transpose": _op_transpose, "Expand": _op_expand,
    "Gemm": _op_gemm, "MatMul": _op_matmul,
    "Add": _op_binary, "Sub": _op_binary, "Mul": _op_binary, "Div": _op_binary,
    "Sum": _op_sum_mean, "Mean": _op_sum_mean, "Concat": _op_concat, "Pad": _op_pad,
    "DepthToSpace": _op_depth_to_space, "SpaceToDepth": _op_space_to_depth,
    "_LayerNormChannels": _op_layernorm_channels, "_Silu": _unary("silu"), "Upsample": _op_upsample, "Resize": _op_resize, "ConstantOfShape": _op_constant_of_shape,
}
# ops that only ever see constants (folded by evaluating them) are accepted too
for _k in ("Gather", "Slice", "Range", "Equal", "Where", "Floor", "Ceil", "Sqrt", "Pow", "Neg", "Abs",
           "Max", "Min", "ReduceProd", "ReduceSum", "Not", "And", "Or", "Less", "Greater", "Exp", "Log",
           "Reciprocal", "NonZero", "Tile", "Split", "CastLike", "Round", "Sign", "ScatterND", "Trilu",
           "ReduceMin", "ArgMax", "ArgMin", "Mod", "Erf", "Sin", "Cos", "IsNaN", "IsInf"):
    _HANDLERS.setdefault(_k, None)


def _const_only(c, node, attrs):
    raise _Unsupported("op %s on activations" % node.op_type)


for _k, _v in list(_HANDLERS.items()):
    if _v is None:
        _HANDLERS[_k] = _const_only


# ======================================================================================== entry points

def _parse(onnx, model_or_path):
    from google.protobuf.message import DecodeError
    if isinstance(model_or_path, onnx.ModelProto):
        return model_or_path, "<ModelProto>"
    if isinstance(model_or_path, (bytes, bytearray, memoryview)):
        data, where = bytes(model_or_path), "<bytes>"
        try:
            m = onnx.ModelProto()
            m.ParseFromString(data)
        except (DecodeError, ValueError, RuntimeError) as e:
            raise FormatError("%s: not an ONNX model (protobuf decode failed: %s)" % (where, e)) from None
        return m, where
    if isinstance(model_or_path, (str, os.PathLike)):
        where = str(model_or_path)
        if not os.path.exists(where):
            raise FileNotFoundError(where)
        try:
            m = onnx.load(where, load_external_data=False)
        except (DecodeError, ValueError, RuntimeError, OSError) as e:
            raise FormatError("%s: not an ONNX model (protobuf decode failed: %s)" % (where, e)) from None
        except Exception as e:  # noqa: BLE001 - protobuf raises various types on garbage
            raise FormatError("%s: not an ONNX model (%s: %s)" % (where, type(e).__name__, e)) from None
        try:
            from onnx.external_data_helper import load_external_data_for_model, uses_external_data
            if any(uses_external_data(t) for t in m.graph.initializer):
                load_external_data_for_model(m, os.path.dirname(os.path.abspath(where)))
        except Exception as e:  # noqa: BLE001
            raise FormatError("%s: external weight data cannot be read: %s" % (where, e)) from None
        return m, where
    raise TypeError("from_onnx: expected a path, bytes or an onnx.ModelProto, got %s" % type(model_or_path).__name__)


def onnx_to_graph(model_or_path):
    """ONNX model (path, bytes or onnx.ModelProto) -> fastnorm Graph with graph.notes."""
    onnx = _import_onnx()
    m, where = _parse(onnx, model_or_path)
    try:
        if not m.HasField("graph") or (not m.graph.node and not m.graph.output):
            raise FormatError("%s: not an ONNX model (no graph)" % where)
        notes = []
        newest = onnx.defs.onnx_opset_version()
        opset = _default_opset(m)
        if opset > newest:
            raise UnsupportedError("%s: opset %d is newer than the installed onnx %s knows (up to %d); "
                                   "upgrade onnx" % (where, opset, onnx.__version__, newest))
        try:
            onnx.checker.check_model(m, full_check=False)
        except Exception as e:  # noqa: BLE001 - old or slightly off models still load; keep the message
            notes.append(("checker", "", "onnx.checker: %s" % str(e).splitlines()[0] if str(e) else type(e).__name__))
        used = set()
        for n in m.graph.node:
            used.update(v for v in n.input if v)
        used.update(o.name for o in m.graph.output)
        for fixed in (False, True):
            conv = _Converter(onnx, m, fixed)
            conv._used = used
            try:
                graph = conv.run()
            except _Restart:
                continue
            graph.notes = notes + graph.notes
            return graph
        raise UnsupportedError("%s: could not convert" % where)  # pragma: no cover
    except (FormatError, UnsupportedError) as e:
        if where not in str(e):
            raise type(e)("%s: %s" % (where, e)) from None
        raise


def from_onnx(model_or_path, optimize=True):
    """Load an ONNX model (path, bytes or onnx.ModelProto) into a fastnorm Model."""
    from fastnorm.model import Model
    graph = onnx_to_graph(model_or_path)
    try:
        model = Model(graph, optimize=optimize)
        # plan once now (batch 1 where dynamic) so that layouts the kernels lack fail at load, not at predict
        model._plan({t.name: tuple(1 if d is None else d for d in t.shape) for t in model.graph.inputs})
    except UnsupportedError as e:
        raise UnsupportedError("ONNX import: %s" % e) from None
    except FormatError:
        raise
    except ValueError as e:
        raise FormatError("ONNX model does not fit fastnorm's graph checks: %s" % e) from None
    return model
