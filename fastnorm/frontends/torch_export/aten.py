"""ATen ops of a decomposed torch.export program -> fastnorm Graph nodes.

The Builder walks the exported graph once, in order. Each fx node is one of:
  - a parameter, buffer or constant (a placeholder the signature names), or a node computed only from
    those: evaluated here with torch, once, into a constant (weight standardisation, reshaped scales);
  - a symbolic size, shape arithmetic or an assertion: it vanishes (shapes come from each node's traced
    metadata, with the batch as the one symbol allowed, in dim 0);
  - an op on activations: its handler (HANDLERS, by ATen op name) emits canonical graph nodes.
Every op no handler maps is collected, so the error lists them all at once.
"""
import math
import operator

from fastnorm.errors import UnsupportedError
from fastnorm.frontends.torch import _row_attrs
from fastnorm.graph import Graph, Node, TensorSpec
from fastnorm.optable import emit_pow, POW_ACTS, SWAPPED, activations
from fastnorm.shapes import gather_runs

# ops the default core-ATen decomposition table would break up but fastnorm runs whole
_KEEP = ("hardswish.default", "hardsigmoid.default", "mish.default", "silu.default", "softplus.default",
         "celu.default", "selu.default", "gelu.default", "hardtanh.default", "pixel_shuffle.default",
         "pixel_unshuffle.default", "channel_shuffle.default", "native_channel_shuffle.default",
         "reflection_pad2d.default", "replication_pad2d.default", "pad.default", "prelu.default",
         "_prelu_kernel.default", "instance_norm.default", "linear.default", "adaptive_avg_pool2d.default",
         "upsample_nearest2d.vec", "_upsample_nearest_exact2d.vec", "upsample_bilinear2d.vec",
         "log_sigmoid.default", "max_unpool2d.default", "_safe_softmax.default")
# binary ops that broadcast: an expand feeding only these is a no-op
_BROADCASTING = {"add", "sub", "rsub", "mul", "div", "maximum", "minimum"}
_ALIASES = {"clone", "alias", "detach", "contiguous", "lift_fresh_copy", "_to_copy", "dropout", "lift_fresh"}


class _Merged:
    """A value whose batch dim a view merged with the next one (attention's 4-D matmul as torch.export
    writes it: view(B * h, m, k) -> bmm -> view(B, h, m, n)), held as the unmerged value: a bmm of two
    such is a matmul of the unmerged ones, and the view back to (B, h, ...) is that value again."""
    __slots__ = ("name", "shape")

    def __init__(self, name, shape):
        self.name, self.shape = name, tuple(shape)


class BatchDependent(Exception):
    """The traced graph uses the symbolic batch in a way the graph cannot say; trace with it fixed."""


class _Unsupported(Exception):
    pass


def keep_ops(torch):
    out = []
    for name in _KEEP:
        packet, _, overload = name.partition(".")
        op = getattr(getattr(torch.ops.aten, packet, None), overload, None)
        if op is not None:
            out.append(op)
    return out


def _packet(target):
    p = getattr(target, "overloadpacket", None)
    return p.__name__ if p is not None else getattr(target, "__name__", str(target))


def _ints(v, n=2):
    if isinstance(v, int):
        return [int(v)] * n
    v = [int(e) for e in v]
    return v * n if len(v) == 1 else v


def _torch_op_name(target):
    return "aten.%s" % getattr(target, "__name__", target) if hasattr(target, "overloadpacket") else str(target)


class Builder:
    def __init__(self, torch, ep):
        self.torch, self.ep = torch, ep
        self.nodes, self.weights = [], {}
        self.problems = {}      # reason -> [node names], in first-seen order
        self.const = {}         # fx node -> tensor (or tuple of tensors)
        self.val = {}           # fx node -> value name, or [names] for several outputs
        self.shape = {}         # value name -> shape (None: the batch)
        self.failed = set()     # fx nodes not mapped (reported once, at the first)
        self.wname = {}         # fx node -> weight name
        self.fqn = {}           # placeholder name -> parameter / buffer / constant name
        self.taken = set()
        self.batch = None       # str of the symbolic batch, when dynamic
        self.input = None
        self.act_rows = {row.name: row for row in activations()}
        self.neg_inf = {}       # fx node -> whether -inf from a constant or literal can reach it (_safe_softmax)

    # ------------------------------------------------------------------------------ helpers
    def dims(self, fake):
        if isinstance(fake, (tuple, list)):   # a multi-output op: its first output
            fake = fake[0]
        out = []
        for i, d in enumerate(fake.shape):
            if isinstance(d, int):
                out.append(int(d))
                continue
            expr = getattr(getattr(d, "node", None), "expr", None)
            if expr is not None and getattr(expr, "is_number", False):
                out.append(int(expr))
            elif i == 0 and self.batch is not None and str(d) == self.batch:
                out.append(None)
            else:
                raise BatchDependent("a tensor of shape %s" % (tuple(str(e) for e in fake.shape),))
        return tuple(out)

    def name(self, fx, op):
        """A readable unique node name: the module path for a torch.nn layer's op (as torch.fx names it),
        the path plus the op inside a user module, the fx name at the top level."""
        stack = fx.meta.get("nn_module_stack") or {}
        base = fx.name
        if stack:
            path, cls = list(stack.values())[-1]
            cls = cls if isinstance(cls, str) else "%s.%s" % (cls.__module__, cls.__qualname__)
            if path:
                base = path.replace(".", "_").replace("@", "_")
                if not cls.startswith("torch.nn.modules."):
                    base += "_" + op
        name, i = base, 1
        while name in self.taken or name in self.weights:
            name, i = "%s_%d" % (base, i), i + 1
        self.taken.add(name)
        return name

    def weight(self, v, hint, fn=None):
        """The graph weight name of a constant (an fx node or a tensor); fn transforms the tensor."""
        torch = self.torch
        key = v if fn is None and isinstance(v, torch.fx.Node) else None
        if key is not None and key in self.wname:
            return self.wname[key]
        t = self.const[v] if isinstance(v, torch.fx.Node) else v
        if not isinstance(t, torch.Tensor):
            t = torch.tensor(t)
        if fn is not None:
            t = fn(t)
        if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64, torch.bool)):
            raise _Unsupported("a constant of dtype %s" % t.dtype)
        arr = t.detach().cpu().to(torch.float32).contiguous().numpy().copy()
        if arr.ndim == 0:
            arr = arr.reshape(1)
        base = hint
        if isinstance(v, torch.fx.Node):
            base = self.fqn.get(v.name, v.name) + ("" if fn is None else "::" + hint)
        name, i = base, 1
        while name in self.weights or name in self.shape or name in self.taken:
            name, i = "%s_%d" % (base, i), i + 1
        self.weights[name] = arr
        if key is not None:
            self.wname[key] = name
        return name

    def act(self, v, what="input"):
        """The value name of an activation operand."""
        if isinstance(v, self.torch.fx.Node) and isinstance(self.val.get(v), str):
            return self.val[v]
        if isinstance(v, self.torch.fx.Node) and isinstance(self.val.get(v), _Merged):
            raise BatchDependent("a %s whose batch dim is merged with another (%s)" % (what, v.name))
        if isinstance(v, self.torch.fx.Node) and v in self.const:
            raise _Unsupported("a constant %s (only activations)" % what)
        raise _Unsupported("a non-tensor %s" % what)

    def tensor(self, v, what):
        """The constant tensor of a weight operand (a parameter, or computed from parameters)."""
        if isinstance(v, self.torch.fx.Node) and v in self.const:
            return self.const[v]
        raise _Unsupported("a computed %s (only parameters and constants)" % what)

    def emit(self, fx, op, inputs, attrs=None, name=None, shape=None):
        """One graph node; its value is named like the node. Returns the value name."""
        name = name or self.name(fx, op)
        self.nodes.append(Node(name, op, list(inputs), [name], dict(attrs or {})))
        self.shape[name] = shape if shape is not None else self.dims(fx.meta["val"])
        return name

    def out(self, fx, op, inputs, attrs=None):
        self.val[fx] = self.emit(fx, op, inputs, attrs)
        return self.val[fx]

    def sub_name(self, fx, op):
        return self.name(fx, op)

    def problem(self, fx, reason):
        self.problems.setdefault(reason, []).append(fx.name)
        self.failed.add(fx)

    # ------------------------------------------------------------------------------ the walk
    def build(self, input_name, output_name):
        sig = self.ep.graph_signature
        state, consts = self.ep.state_dict, self.ep.constants
        kinds = {}
        for spec in sig.input_specs:
            arg = getattr(spec.arg, "name", None)
            if arg is not None:
                kinds[arg] = (spec.kind.name, spec.target)
        outputs = []
        for fx in self.ep.graph.nodes:
            if fx.op == "placeholder":
                kind, target = kinds.get(fx.name, ("USER_INPUT", None))
                if kind == "USER_INPUT":
                    self.placeholder(fx, input_name)
                elif target in state or target in consts:
                    self.const[fx] = state[target] if target in state else consts[target]
                    self.fqn[fx.name] = target
                else:
                    self.problem(fx, "input of kind %s" % kind)
            elif fx.op == "get_attr":
                obj = self.ep.graph_module
                for part in fx.target.split("."):
                    obj = getattr(obj, part)
                self.const[fx] = obj
            elif fx.op == "call_function":
                self.call(fx)
            elif fx.op == "output":
                specs = sig.output_specs
                res = fx.args[0]
                outputs = [v for v, s in zip(res, specs) if s.kind.name == "USER_OUTPUT"]
        return self.finish(outputs, input_name, output_name)

    def placeholder(self, fx, input_name):
        if self.input is not None:
            return self.problem(fx, "a second input (only single-input models are supported)")
        val = fx.meta["val"]
        d0 = val.shape[0] if val.ndim else None
        if d0 is not None and not isinstance(d0, int):
            self.batch = str(d0)
        self.input = fx
        self.val[fx] = input_name
        self.shape[input_name] = self.dims(val)
        self.taken.add(input_name)

    def call(self, fx):
        torch = self.torch
        t = fx.target
        if t is operator.getitem:
            src, i = fx.args
            if src in self.const:
                self.const[fx] = self.const[src][i]
            elif isinstance(self.val.get(src), list):
                v = self.val[src][i]
                if v is None:
                    self.problem(fx, "output %d of %s" % (i, _torch_op_name(src.target)))
                else:
                    self.val[fx] = v
            elif src in self.failed:
                self.failed.add(fx)
            return
        val = fx.meta.get("val")
        is_tensor = isinstance(val, torch.Tensor) or (
            isinstance(val, (tuple, list)) and val and all(isinstance(v, torch.Tensor) or v is None for v in val))
        if not is_tensor:
            return   # symbolic sizes, shape arithmetic, assertions: they vanish
        deps = []
        torch.fx.node.map_arg((fx.args, fx.kwargs), deps.append)
        handler = HANDLERS.get(_packet(t))
        if any(d in self.failed for d in deps):
            if handler is None:   # reported too: the error lists every op it cannot map at once
                self.problem(fx, _torch_op_name(t))
            self.failed.add(fx)
            return
        if all(d in self.const for d in deps):
            return self.fold(fx)
        if _packet(t) in ("repeat", "expand") and self._const_by_batch(fx):
            return
        if not any(isinstance(self.val.get(d), (str, list, _Merged)) for d in deps):
            raise BatchDependent("a constant computed from the batch size (%s)" % fx.name)
        if handler is None:
            return self.problem(fx, _torch_op_name(t))
        if _packet(t) not in _KIND_OPS:
            odd = [_dtype_name(d.meta.get("val")) for d in deps if isinstance(self.val.get(d), str)
                   and _dtype_name(d.meta.get("val")) not in (None, "float32")]
            if odd:
                return self.problem(fx, "%s of %s %s tensor (it runs in float32; only moves, comparisons, "
                                        "selections and exact integer arithmetic take one)"
                                    % (_torch_op_name(t), "an" if odd[0].startswith(("i", "u")) else "a", odd[0]))
        try:
            handler(self, fx, *fx.args, **fx.kwargs)
        except _Unsupported as e:
            self.problem(fx, "%s: %s" % (_torch_op_name(t), e))

    def _const_by_batch(self, fx):
        """A constant of batch 1 repeated or expanded to the batch size (PointNet's T-net identity,
        eye(k).view(1, -1).repeat(B, 1)) whose every reader broadcasts: the constant itself (repeated
        along its other axes). False for anything else."""
        x, sizes = fx.args[0], fx.args[1]
        if (self.batch is None or x not in self.const or not isinstance(sizes, (list, tuple)) or not sizes
                or not isinstance(sizes[0], self.torch.fx.Node) or str(sizes[0].meta.get("val")) != self.batch
                or not all(isinstance(v, int) for v in sizes[1:])):
            return False
        val = self.const[x]
        if val.dim() != len(sizes) or val.shape[0] != 1 or not fx.users or not all(
                u.op == "call_function" and (_packet(u.target) in _BROADCASTING or _cat_off_batch(u))
                for u in fx.users):
            return False
        rest = [int(v) for v in sizes[1:]]
        with self.torch.no_grad():
            self.const[fx] = val.repeat(1, *rest) if _packet(fx.target) == "repeat" else val.expand(1, *rest)
        return True

    def fold(self, fx):
        """A node whose every input is a constant: run it now (weights standardised at import)."""
        torch = self.torch
        args, kwargs = torch.fx.node.map_arg((fx.args, fx.kwargs), lambda n: self.const[n])
        with torch.no_grad():
            self.const[fx] = fx.target(*args, **kwargs)

    def finish(self, outputs, input_name, output_name):
        if self.problems:
            parts = []
            for reason, names in self.problems.items():
                where = ", ".join(names[:4]) + (" and %d more" % (len(names) - 4) if len(names) > 4 else "")
                parts.append("%s (%s)" % (reason, where))
            count = sum(len(v) for v in self.problems.values())
            raise UnsupportedError("torch.export: %d unsupported construct(s): %s" % (count, "; ".join(parts)))
        if self.input is None:
            raise UnsupportedError("torch.export: the model takes no tensor input")
        names = []
        for i, res in enumerate(outputs):
            v = self.val.get(res) if isinstance(res, self.torch.fx.Node) else None
            if not isinstance(v, str):
                raise UnsupportedError("torch.export: output %d is not a tensor computed from the input" % i)
            if v == input_name or v in names:
                raise UnsupportedError("torch.export: output %d repeats %s (the model computes nothing new)"
                                       % (i, "the input" if v == input_name else "another output"))
            names.append(v)
        if not names:
            raise UnsupportedError("torch.export: the model has no tensor output")
        _fold_zero_pads(self.nodes, set(names))
        _softsigns(self.nodes, self.weights, set(names))
        _channel_shuffles(self.nodes, self.shape, set(names))
        final = [output_name] if len(names) == 1 else ["%s%d" % (output_name, i) for i in range(len(names))]
        rename = dict(zip(names, final))
        for n in self.nodes:
            n.outputs = [rename.get(v, v) for v in n.outputs]
            n.inputs = [rename.get(v, v) for v in n.inputs]
        inputs = [TensorSpec(input_name, self.shape[input_name])]
        outs = [TensorSpec(f, self.shape[v], _value_dtype(res.meta.get("val")))
                for f, v, res in zip(final, names, outputs)]
        return Graph(inputs, outs, self.nodes, self.weights)

    # ------------------------------------------------------------------------------ shared emitters
    def reshape(self, fx, x, dst, name=None):
        """x (a value) to shape dst: nothing if equal, flatten after the batch, else a row-major reshape."""
        src = self.shape[x]
        if tuple(src) == tuple(dst):
            return x
        if dst[0] != src[0] and None in (src[0], dst[0]):
            raise BatchDependent("a reshape that moves the batch dim (%s -> %s)" % (_fmt(src), _fmt(dst)))
        if len(dst) == 2 and len(src) > 2 and dst[0] == src[0]:
            return self.emit(fx, "flatten", [x], {"start_dim": 1, "end_dim": -1}, name=name, shape=tuple(dst))
        want = [-1 if dst[0] is None else int(dst[0])] + [int(d) for d in dst[1:]]
        if len(want) == 1 or any(d < 1 for d in want[1:]):
            raise _Unsupported("a reshape to %s" % _fmt(dst))
        return self.emit(fx, "reshape", [x], {"shape": want}, name=name, shape=tuple(dst))

    def to_shape(self, fx, v, *args, **kwargs):
        src = self.val.get(v) if isinstance(v, self.torch.fx.Node) else None
        if isinstance(src, _Merged):   # the view back from merged dims
            if tuple(self.dims(fx.meta["val"])) != src.shape:
                raise BatchDependent("a reshape of a batch-merged value to another shape (%s)" % fx.name)
            self.val[fx] = src.name
            return
        try:
            dst = self.dims(fx.meta["val"])
        except BatchDependent:
            merged = self._merged_view(fx, v)
            if merged is None:
                raise
            self.val[fx] = merged
            return
        self.val[fx] = self.reshape(fx, self.act(v), dst)

    def _merged_view(self, fx, v):
        """A view (B, h, *rest) -> (h * B, *rest) of an activation: a _Merged value, else None."""
        src = self.val.get(v) if isinstance(v, self.torch.fx.Node) else None
        if not isinstance(src, str) or self.batch is None:
            return None
        xs = self.shape[src]
        fake = fx.meta.get("val")
        if fake is None or len(xs) < 3 or len(fake.shape) != len(xs) - 1 or not isinstance(xs[1], int):
            return None
        if any(not isinstance(d, int) or d != e for d, e in zip(fake.shape[1:], xs[2:])):
            return None
        lead = str(getattr(getattr(fake.shape[0], "node", None), "expr", fake.shape[0])).replace(" ", "")
        if lead not in ("%d*%s" % (xs[1], self.batch), "%s*%d" % (self.batch, xs[1])):
            return None
        return _Merged(src, xs)

    def alias(self, fx, v, *args, **kwargs):
        self.val[fx] = self.act(v)

    def binary(self, fx, op, a, b, alpha=1):
        """add/sub/mul/div/maximum/minimum with broadcasting; a constant operand becomes a weight, and
        add/mul of a constant are preferred (they fold into the op before): x - c = x + (-c),
        x / c = x * (1/c), max(x, scalar) = clamp."""
        torch = self.torch
        ka = isinstance(a, torch.fx.Node) and isinstance(self.val.get(a), str)
        kb = isinstance(b, torch.fx.Node) and isinstance(self.val.get(b), str)
        ca = None if ka else (self.const[a] if isinstance(a, torch.fx.Node) else torch.tensor(float(a)))
        cb = None if kb else (self.const[b] if isinstance(b, torch.fx.Node) else torch.tensor(float(b)))
        if alpha != 1:
            if cb is None:
                raise _Unsupported("alpha=%r with a computed operand" % alpha)
            cb = cb * alpha
        if ka and kb:
            return self.out(fx, op, [self.val[a], self.val[b]])
        x, c = (self.val[a], cb) if ka else (self.val[b], ca)
        c = c.to(torch.float32)
        if op in ("maximum", "minimum") and c.numel() == 1:
            key = "min" if op == "maximum" else "max"
            return self.out(fx, "clamp", [x], {"min": None, "max": None, key: float(c.reshape(-1)[0])})
        if op == "sub":
            if ka:
                return self.out(fx, "add", [x, self.weight(-c, fx.name + ".neg")])
            neg = self.emit(fx, "mul", [x, self.weight(torch.tensor(-1.0), fx.name + ".m1")],
                            name=self.sub_name(fx, "neg"))
            return self.out(fx, "add", [neg, self.weight(c, fx.name + ".c")])
        if op == "div" and ka:
            return self.out(fx, "mul", [x, self.weight(1.0 / c.double(), fx.name + ".recip")])
        src = b if ka else a   # the constant operand: a parameter keeps its name
        w = self.weight(src if isinstance(src, torch.fx.Node) and alpha == 1 else c, fx.name + ".c")
        if op == "div":   # c / x
            return self.out(fx, "div", [w, x])
        return self.out(fx, op, [x, w])

    def reduce_dims(self, x, dims):
        """A reduction's dims (None or [] for all) as sorted non-negative ints; never the batch."""
        r = len(self.shape[x])
        dims = list(range(r)) if dims is None or (isinstance(dims, (list, tuple)) and not dims) else dims
        dims = sorted({int(d) % r for d in ([dims] if isinstance(dims, int) else dims)})
        if 0 in dims:
            raise _Unsupported("a reduction over the batch dim")
        return dims

    def reduce(self, fx, op, x, dims, keepdim):
        xs = self.shape[x]
        r = len(xs)
        dims = self.reduce_dims(x, dims)
        if op == "reduce_mean" and r == 4 and dims == [2, 3]:
            if keepdim:
                return self.out(fx, "adaptive_avg_pool2d", [x], {"output_size": [1, 1]})
            pooled = self.emit(fx, "adaptive_avg_pool2d", [x], {"output_size": [1, 1]},
                               shape=tuple(xs[:2]) + (1, 1))
            return self.out(fx, "flatten", [pooled], {"start_dim": 1, "end_dim": -1})
        return self.out(fx, op, [x], {"axes": dims, "keepdim": bool(keepdim)})


def _dtype_name(val):
    """The dtype of a traced value as a short name ("float32", "bool", "int64", ...), or None."""
    dt = getattr(val, "dtype", None)
    return None if dt is None else str(dt).replace("torch.", "")


def _value_dtype(val):
    """A graph output's dtype: bool and int32 / int64 values (comparisons, argmax) as they are, the
    rest float32 (the values fastnorm computes)."""
    d = _dtype_name(val)
    return d if d in ("bool", "int64", "int32") else "float32"


# aten ops that may read a bool / integer tensor (computed in float32, exact below 2^24)
_KIND_OPS = frozenset({
    "eq", "ne", "lt", "gt", "le", "ge", "where", "masked_fill", "bitwise_and", "bitwise_or", "bitwise_xor",
    "bitwise_not", "logical_and", "logical_or", "logical_xor", "logical_not", "_to_copy", "argmax", "argmin",
    "view", "_unsafe_view", "reshape", "unsqueeze", "squeeze", "flatten", "expand", "permute", "transpose", "t",
    "cat", "concat", "slice", "narrow", "select", "index", "index_select", "split", "split_with_sizes", "add",
    "sub", "mul", "neg", "amax", "amin", "maximum", "minimum", "relu", "abs", "max_unpool2d", "repeat"} | set(_ALIASES))


def _fmt(shape):
    return "(%s)" % ", ".join("N" if d is None else str(d) for d in shape)


def _fold_zero_pads(nodes, outputs):
    """A zero constant pad read only by convolutions becomes their padding (TF-"same" padding)."""
    readers = {}
    for n in nodes:
        for v in n.inputs:
            readers.setdefault(v, []).append(n)
    drop = set()
    for n in nodes:
        if (n.op != "pad" or n.attrs.get("mode", "constant") != "constant" or n.attrs.get("value", 0.0) != 0.0
                or min(n.attrs["pads"]) < 0 or any(n.attrs.get("cpads", ())) or n.outputs[0] in outputs):
            continue
        rs = readers.get(n.outputs[0], [])
        if not rs or any(r.op != "conv2d" or r.inputs[0] != n.outputs[0] or r.inputs.count(n.outputs[0]) > 1
                         for r in rs):
            continue
        l, r_, t, b = n.attrs["pads"]
        for c in rs:
            pt, pl, pb, pr = c.attrs.get("padding", [0, 0, 0, 0])
            c.attrs["padding"] = [pt + t, pl + l, pb + b, pr + r_]
            c.inputs[0] = n.inputs[0]
        drop.add(id(n))
    nodes[:] = [n for n in nodes if id(n) not in drop]


def _softsigns(nodes, weights, outputs):
    """F.softsign arrives decomposed, x / (abs(x) + 1): one softsign node again (its limits at +-inf)."""
    producer, readers = {}, {}
    for n in nodes:
        for v in n.outputs:
            producer[v] = n
        for v in n.inputs:
            readers.setdefault(v, []).append(n)
    drop = set()
    for n in nodes:
        if n.op != "div" or len(n.inputs) != 2:
            continue
        x, d = n.inputs
        a = producer.get(d)
        if a is None or a.op != "add" or len(a.inputs) != 2 or d in outputs or len(readers.get(d, [])) != 1:
            continue
        one = a.inputs[1]
        ab = producer.get(a.inputs[0])
        w = weights.get(one)
        if (ab is None or ab.op != "abs" or ab.inputs != [x] or ab.outputs[0] in outputs or w is None
                or w.size != 1 or float(w.reshape(-1)[0]) != 1.0 or len(readers.get(ab.outputs[0], [])) != 1):
            continue
        n.op, n.inputs, n.attrs = "softsign", [x], {}
        drop.update((id(a), id(ab)))
    nodes[:] = [n for n in nodes if id(n) not in drop]


def _channel_shuffles(nodes, shapes, outputs):
    """ShuffleNet's idiom, x.view(N, g, C/g, H, W).transpose(1, 2).reshape(N, C, H, W): one
    channel_shuffle(groups=g) instead of a 5-D transpose between two reshapes."""
    readers = {}
    for n in nodes:
        for v in n.inputs:
            readers.setdefault(v, []).append(n)

    def only_reader(n, op):
        rs = readers.get(n.outputs[0], [])
        ok = len(rs) == 1 and rs[0].op == op and n.outputs[0] not in outputs
        return rs[0] if ok else None
    drop = set()
    for r1 in nodes:
        src = shapes.get(r1.inputs[0]) if r1.op == "reshape" else None
        mid = shapes.get(r1.outputs[0])
        if src is None or len(src) != 4 or mid is None or len(mid) != 5 or tuple(mid[3:]) != tuple(src[2:]):
            continue
        t = only_reader(r1, "transpose")
        if t is None or t.attrs.get("perm") != [0, 2, 1, 3, 4]:
            continue
        r2 = only_reader(t, "reshape")
        if r2 is None or tuple(shapes.get(r2.outputs[0], ())) != tuple(src):
            continue
        r2.op, r2.inputs, r2.attrs = "channel_shuffle", [r1.inputs[0]], {"groups": int(mid[1])}
        drop.update((id(r1), id(t)))
    nodes[:] = [n for n in nodes if id(n) not in drop]


# ------------------------------------------------------------------------------------------ handlers
def _arg(args, kwargs, i, name, default=None):
    return args[i] if len(args) > i else kwargs.get(name, default)


def _convolution(b, fx, x, w, bias, stride, padding, dilation, transposed, output_padding, groups):
    xin = b.act(x)
    wt = b.tensor(w, "weight")
    if bias is not None:
        b.tensor(bias, "bias")
    bname = "" if bias is None else b.weight(bias, "bias")
    nd = wt.ndim - 2
    if nd not in (1, 2, 3) or (nd == 3 and transposed):
        raise _Unsupported("a %d-D %sconvolution" % (nd, "transposed " if transposed else ""))
    if nd == 3:
        pd = _ints(padding, 3)
        return b.out(fx, "conv3d", [xin, b.weight(w, "weight"), bname], {
            "stride": _ints(stride, 3), "padding": pd + pd, "dilation": _ints(dilation, 3), "groups": int(groups)})
    op = "conv_transpose2d" if transposed else "conv2d"
    if nd == 2:
        def lift(v, unit):
            return _ints(v)
    else:   # 1-D as 2-D with a unit height: (N, C, L) -> (N, C, 1, L)
        def lift(v, unit):
            return [unit, _ints(v, 1)[0]]
    pd = lift(padding, 0)
    attrs = {"stride": lift(stride, 1), "padding": [pd[0], pd[1], pd[0], pd[1]], "dilation": lift(dilation, 1),
             "groups": int(groups)}
    if transposed:
        attrs["output_padding"] = lift(output_padding, 0)
    if nd == 2:
        return b.out(fx, op, [xin, b.weight(w, "weight"), bname], attrs)
    n, c, length = b.shape[xin]
    name = b.name(fx, op)
    x4 = b.reshape(fx, xin, (n, c, 1, length), name=name + ".x4")
    w4 = b.weight(wt, name + ".weight", fn=lambda t: t.unsqueeze(2))
    out = b.dims(fx.meta["val"])
    y4 = b.emit(fx, op, [x4, w4, bname], attrs, name=name, shape=(out[0], out[1], 1, out[2]))
    b.val[fx] = b.reshape(fx, y4, out, name=name + ".y")


def _bn_common(b, fx, x, weight, bias, mean, var, training, eps):
    xin = b.act(x)
    ws = [b.weight(v, "bn") if v is not None else "" for v in (weight, bias)]
    if training or mean is None:
        name = b.emit(fx, "batch_norm", [xin, "", ""] + ws, {"eps": float(eps), "batch_stats": True})
    else:
        name = b.emit(fx, "batch_norm", [xin, b.weight(mean, "rm"), b.weight(var, "rv")] + ws,
                      {"eps": float(eps)})
    b.val[fx] = [name, None, None]


def _bn_no_training(b, fx, x, weight, bias, mean, var, momentum, eps):
    _bn_common(b, fx, x, weight, bias, mean, var, False, eps)


def _bn_legit(b, fx, *args, **kwargs):
    if fx.target.__name__.endswith("no_stats"):   # (x, w, b, training, momentum, eps)
        x, w, bias, training, _, eps = args[:6]
        return _bn_common(b, fx, x, w, bias, None, None, True, eps)
    x, w, bias, mean, var, training, _, eps = args[:8]
    _bn_common(b, fx, x, w, bias, mean, var, training, eps)


def _group_norm(b, fx, x, weight, bias, n, c, hw, group, eps):
    name = b.emit(fx, "group_norm", [b.act(x)] + [b.weight(v, "flat", fn=lambda t: t.reshape(-1)) if v is not None
                                                  else "" for v in (weight, bias)],
                  {"num_groups": int(group), "eps": float(eps)})
    b.val[fx] = [name, None, None]


def _layer_norm(b, fx, x, normalized_shape, weight=None, bias=None, eps=1e-5):
    name = b.emit(fx, "layer_norm", [b.act(x)] + [b.weight(v, "flat", fn=lambda t: t.reshape(-1)) if v is not None
                                                  else "" for v in (weight, bias)],
                  {"normalized_ndim": len(normalized_shape), "eps": float(eps)})
    b.val[fx] = [name, None, None]


def _instance_norm(b, fx, x, weight, bias, mean, var, use_input_stats, momentum, eps, cudnn=False):
    ins = [b.act(x)] + [b.weight(v, "in") if v is not None else "" for v in (mean, var, weight, bias)]
    b.out(fx, "instance_norm", ins, {"eps": float(eps), "use_input_stats": bool(use_input_stats)})


def _pool3d(b, fx, x, op, kernel, stride, padding, attrs, dilation=1):
    """A 3-D pool on (n, c, t, h, w) as two 2-D pools between reshapes that keep the batch: the frames
    axis over (n, c, t, h*w) with a (kt, 1) window, then (n, c*ot, h, w) (max and average are
    separable, the average's window count the product of its axes' counts)."""
    from fastnorm.shapes import pool_out_extent
    xin = b.act(x)
    n, c, t, h, w = b.shape[xin]
    k = _ints(kernel, 3)
    st = _ints(stride, 3) if stride else k
    pd, dl = _ints(padding, 3), _ints(dilation, 3)
    cm = bool(attrs.get("ceil_mode"))
    name = b.name(fx, op)
    ot = pool_out_extent(t, k[0], st[0], pd[0], dl[0], cm)
    oh, ow = pool_out_extent(h, k[1], st[1], pd[1], dl[1], cm), pool_out_extent(w, k[2], st[2], pd[2], dl[2], cm)
    dil = {"dilation": [dl[0], 1]} if op == "max_pool2d" else {}
    v = xin
    if (k[0], st[0], pd[0]) != (1, 1, 0):   # a window of one frame at stride 1 pools nothing along T
        v = b.reshape(fx, v, (n, c, t, h * w), name=name + ".v1")
        v = b.emit(fx, op, [v], dict(attrs, kernel=[k[0], 1], stride=[st[0], 1], padding=[pd[0], 0], **dil),
                   name=name + ".t", shape=(n, c, ot, h * w))
    dil = {"dilation": dl[1:]} if op == "max_pool2d" else {}
    if (k[1], k[2], st[1], st[2], pd[1], pd[2]) != (1, 1, 1, 1, 0, 0):
        v = b.reshape(fx, v, (n, c * ot, h, w), name=name + ".v2")
        v = b.emit(fx, op, [v], dict(attrs, kernel=k[1:], stride=st[1:], padding=pd[1:], **dil), name=name + ".hw",
                   shape=(n, c * ot, oh, ow))
    out = b.reshape(fx, v, (n, c, ot, oh, ow), name=name)
    b.val[fx] = [out, None] if isinstance(fx.meta["val"], (tuple, list)) else out


def _max_pool3d(b, fx, x, kernel, stride=(), padding=0, dilation=1, ceil_mode=False):
    if any(u.target is operator.getitem and u.args[1] == 1 and u.users for u in fx.users):
        raise _Unsupported("max_pool3d's indices")
    _pool3d(b, fx, x, "max_pool2d", kernel, stride, padding, {"ceil_mode": bool(ceil_mode)}, dilation)


def _avg_pool3d(b, fx, x, kernel, stride=(), padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None):
    if divisor_override is not None:
        raise _Unsupported("avg_pool3d with divisor_override")
    _pool3d(b, fx, x, "avg_pool2d", kernel, stride, padding, {
        "ceil_mode": bool(ceil_mode), "count_include_pad": bool(count_include_pad), "divisor_override": None})


def _adaptive_avg_pool3d(b, fx, x, output_size):
    if [int(v) for v in output_size] != [1, 1, 1]:
        raise _Unsupported("adaptive_avg_pool3d to %r (only (1, 1, 1))" % (list(output_size),))
    b.out(fx, "reduce_mean", [b.act(x)], {"axes": [2, 3, 4], "keepdim": True})


def _max_pool(b, fx, x, kernel, stride=(), padding=0, dilation=1, ceil_mode=False):
    if len(b.shape[b.act(x)]) != 4:
        raise _Unsupported("pooling of a %d-D tensor" % len(b.shape[b.act(x)]))
    k = _ints(kernel)
    attrs = {"kernel": k, "stride": _ints(stride) if stride else k, "padding": _ints(padding),
             "dilation": _ints(dilation), "ceil_mode": bool(ceil_mode)}
    multi = isinstance(fx.meta["val"], (tuple, list))
    shape = b.dims(fx.meta["val"][0] if multi else fx.meta["val"])
    if multi and any(u.target is operator.getitem and u.args[1] == 1 and u.users for u in fx.users):
        # the indices are read (by max_unpool2d): the op with both outputs
        name = b.name(fx, "max_pool2d_indices")
        outs = [name, name + ".indices"]
        b.nodes.append(Node(name, "max_pool2d_indices", [b.act(x)], outs, attrs))
        b.shape[outs[0]] = b.shape[outs[1]] = shape
        b.val[fx] = outs
        return
    name = b.emit(fx, "max_pool2d", [b.act(x)], attrs, shape=shape)
    b.val[fx] = [name, None] if multi else name


def _max_unpool(b, fx, x, indices, output_size, *rest):
    """aten max_unpool2d(x, indices, output_size): the indices a max_pool2d_indices' second output."""
    xin, iin = b.act(x), b.act(indices)
    if len(b.shape[xin]) != 4:
        raise _Unsupported("max_unpool2d of a %d-D tensor" % len(b.shape[xin]))
    b.out(fx, "max_unpool2d", [xin, iin], {"output_size": [int(v) for v in output_size]})


def _avg_pool(b, fx, x, kernel, stride=(), padding=0, ceil_mode=False, count_include_pad=True,
              divisor_override=None):
    k = _ints(kernel)
    b.out(fx, "avg_pool2d", [b.act(x)], {
        "kernel": k, "stride": _ints(stride) if stride else k, "padding": _ints(padding),
        "ceil_mode": bool(ceil_mode), "count_include_pad": bool(count_include_pad),
        "divisor_override": None if divisor_override is None else int(divisor_override)})


def _adaptive(op):
    def handler(b, fx, x, output_size):
        val = fx.meta["val"]
        multi = isinstance(val, (tuple, list))
        shape = b.dims(val[0] if multi else val)
        if len(shape) != 4:
            raise _Unsupported("adaptive pooling of a %d-D tensor" % len(shape))
        name = b.emit(fx, op, [b.act(x)], {"output_size": [int(shape[2]), int(shape[3])]}, shape=shape)
        b.val[fx] = [name, None] if multi else name
    return handler


def _mean(b, fx, x, dim=None, keepdim=False, dtype=None):
    b.reduce(fx, "reduce_mean", b.act(x), dim, keepdim)


def _sum(b, fx, x, dim=None, keepdim=False, dtype=None):
    b.reduce(fx, "reduce_sum", b.act(x), dim, keepdim)


def _amax(b, fx, x, dim=(), keepdim=False):
    b.reduce(fx, "reduce_max", b.act(x), dim, keepdim)


def _max(b, fx, x, dim=None, keepdim=False):
    if not isinstance(fx.meta["val"], (tuple, list)):
        if dim is None:
            raise _Unsupported("max over every dim (the batch included)")
        return b.binary(fx, "maximum", x, dim)   # max.other(x, y)
    shape = b.dims(fx.meta["val"][0])
    xin = b.act(x)
    r = len(b.shape[xin])
    if int(dim) % r == 0:
        raise _Unsupported("a reduction over the batch dim")
    name = b.emit(fx, "reduce_max", [xin], {"axes": [int(dim) % r], "keepdim": bool(keepdim)}, shape=shape)
    b.val[fx] = [name, None]


def _cat_off_batch(u):
    """Whether fx node u is a cat along a dim other than the batch's (a reader of a constant expanded
    to the batch: CoordConv's coordinate channels)."""
    if _packet(u.target) not in ("cat", "concat"):
        return False
    d = u.args[1] if len(u.args) > 1 else u.kwargs.get("dim", 0)
    return isinstance(d, int) and d != 0


def _cat(b, fx, tensors, dim=0):
    acts = [v for v in tensors if not (isinstance(v, b.torch.fx.Node) and v in b.const)]
    if not acts:
        raise _Unsupported("a cat of constants only")
    ref = b.shape[b.act(acts[0], "cat input")]
    r = len(ref)
    d = int(dim) % r
    if d == 0:
        raise _Unsupported("a concatenation along the batch dim")
    xs = []
    for v in tensors:
        if v in acts:
            xs.append(b.act(v, "cat input"))
            continue
        # a constant (CoordConv's coordinates, expanded to the batch: _const_by_batch keeps it at batch 1)
        t = b.const[v]
        if t.dim() != r or t.shape[0] != (1 if ref[0] is None else ref[0]) or any(
                int(t.shape[k]) != int(ref[k]) for k in range(1, r) if k != d):
            raise _Unsupported("a constant cat input of shape %s beside %s" % (tuple(t.shape), ref))
        if t.shape[0] > 1 and not bool((t == t[:1]).all()):
            raise _Unsupported("a constant cat input that differs across the batch")
        xs.append(b.weight(t[:1], v.name))
    if len(xs) == 1:
        b.val[fx] = xs[0]
        return
    b.out(fx, "cat", xs, {"dim": d})


def _slice_scatter(b, fx, x, src, dim=0, start=None, end=None, step=1):
    """x with x[dim-slice] replaced by src (functionalised in-place slice writes: timm ReXNet's
    `x[:, 0:C] += shortcut`): the pieces of x around the slice and src, one cat."""
    xin, sin = b.act(x), b.act(src, "scattered value")
    xs = b.shape[xin]
    d = int(dim) % len(xs)
    if d == 0 and (start in (None, 0) and (end is None or end >= 2 ** 62) and step == 1
                   and tuple(b.shape[sin]) == tuple(xs)):
        b.val[fx] = sin   # the whole dim 0 (an in-place write into a view, functionalised): src itself
        return
    if d == 0:
        if b.batch is not None:
            raise BatchDependent("a slice_scatter on the batch dim (%s)" % fx.name)
        raise _Unsupported("a slice_scatter on dim 0")
    s, e, st = slice(start, end, step).indices(xs[d])
    if st != 1:
        raise _Unsupported("a slice_scatter with step %d" % st)
    if tuple(b.shape[sin]) != tuple(xs[:d]) + (max(e - s, 0),) + tuple(xs[d + 1:]):
        raise _Unsupported("a slice_scatter whose value does not fill the slice")
    pieces = []
    if s > 0:
        pieces.append(b.emit(fx, "slice", [xin], {"dim": d, "start": 0, "end": s, "step": 1},
                             name=b.name(fx, "head"), shape=tuple(xs[:d]) + (s,) + tuple(xs[d + 1:])))
    pieces.append(sin)
    if e < xs[d]:
        pieces.append(b.emit(fx, "slice", [xin], {"dim": d, "start": e, "end": xs[d], "step": 1},
                             name=b.name(fx, "tail"), shape=tuple(xs[:d]) + (xs[d] - e,) + tuple(xs[d + 1:])))
    if len(pieces) == 1:
        b.val[fx] = sin
        return
    b.out(fx, "cat", pieces, {"dim": d})


def _copy(b, fx, dst, src, non_blocking=False):
    """aten.copy (functionalised copy_): src's values in dst's shape."""
    din, sin = b.act(dst, "copy target"), b.act(src, "copied value")
    if tuple(b.shape[din]) != tuple(b.shape[sin]):
        raise _Unsupported("a copy that broadcasts")
    b.val[fx] = sin


def broadcast_dims(a, c):
    """numpy's broadcast of two shapes whose entries may be None (the batch); None when they do not."""
    out = []
    for i in range(1, max(len(a), len(c)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = c[-i] if i <= len(c) else 1
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            return None
    return tuple(out[::-1])


def _broadcast_restores(b, fx, src, out):
    """Whether every reader of expand fx is a broadcasting binary op whose other operand alone brings
    src (the unexpanded shape) back to out: then the expand need not be made (SE: x * y.expand_as(x)).
    A scalar, or an operand as small as src, would leave the result at src's shape."""
    if not fx.users:
        return False
    for u in fx.users:
        if not (u.op == "call_function" and _packet(u.target) in _BROADCASTING):
            return False
        others = [a for a in u.args[:2] if a is not fx]
        if len(others) != 1 or not isinstance(others[0], b.torch.fx.Node):
            return False
        try:
            other = b.dims(others[0].meta.get("val"))
        except (BatchDependent, AttributeError, TypeError):
            return False
        if broadcast_dims(tuple(src), other) != tuple(out):
            return False
    return True


def _expand(b, fx, x, size, implicit=False):
    xin = b.act(x)
    out = b.dims(fx.meta["val"])
    if tuple(b.shape[xin]) == out:
        b.val[fx] = xin
    elif _broadcast_restores(b, fx, b.shape[xin], out):
        b.val[fx] = xin   # the binary op broadcasts it anyway
    else:
        xs = b.shape[xin]
        if len(xs) == len(out) and xs[0] != out[0]:
            raise _Unsupported("an expand of the batch dim")
        zeros = b.weight(b.torch.zeros((1,) + tuple(out[1:])), fx.name + ".zeros")
        b.out(fx, "add", [xin, zeros])


def _repeat(b, fx, x, repeats):
    """x.repeat(...) of an activation (a grey image made RGB: x.repeat(1, 3, 1, 1)): one cat per repeated
    axis; the batch axis only where the batch is fixed."""
    xin = b.act(x)
    xs = b.shape[xin]
    reps = [int(r) for r in repeats]
    if len(reps) != len(xs):
        raise _Unsupported("repeats %r of a %d-D tensor (only one per dim)" % (reps, len(xs)))
    if min(reps) < 1:
        raise _Unsupported("repeats %r (an empty output)" % (reps,))
    if reps[0] != 1 and xs[0] is None:
        raise BatchDependent("a repeat of the batch dim (%s)" % fx.name)
    axes = [a for a, r in enumerate(reps) if r > 1]
    if not axes:
        return b.alias(fx, x)
    cur, shape = xin, list(xs)
    for k, a in enumerate(axes):
        shape[a] *= reps[a]
        if k + 1 == len(axes):
            b.val[fx] = b.emit(fx, "cat", [cur] * reps[a], {"dim": a}, shape=tuple(shape))
        else:
            cur = b.emit(fx, "cat", [cur] * reps[a], {"dim": a}, name=b.sub_name(fx, "cat"), shape=tuple(shape))


def _permute(b, fx, x, dims):
    xin = b.act(x)
    xs = b.shape[xin]
    perm = [int(d) % len(xs) for d in dims]
    kept = [p for p in perm if xs[p] != 1]
    if kept == sorted(kept):   # only unit dims move: a reshape
        return b.to_shape(fx, x)
    if perm[0] != 0 and b.batch is not None:   # the graph's batch is dim 0: trace with it fixed
        raise BatchDependent("a permute that moves the batch dim (%s)" % fx.name)
    b.out(fx, "transpose", [xin], {"perm": perm})


def _transpose(b, fx, x, d0, d1):
    r = len(b.shape[b.act(x)])
    perm = list(range(r))
    perm[d0 % r], perm[d1 % r] = perm[d1 % r], perm[d0 % r]
    _permute(b, fx, x, perm)


def _t(b, fx, x):
    _transpose(b, fx, x, 0, 1)


def _to_copy(b, fx, x, *args, **kwargs):
    """A cast: to a float type, or between bool / integer types, the values are the same floats; to bool,
    x != 0; a float to an integer type (a truncation) is not mapped."""
    dtype = kwargs.get("dtype")
    torch = b.torch
    if dtype is None or dtype.is_floating_point:
        return b.alias(fx, x)
    src = _dtype_name(x.meta.get("val")) if isinstance(x, torch.fx.Node) else None
    if dtype == torch.bool:
        if src == "bool":
            return b.alias(fx, x)
        return b.out(fx, "ne", [b.act(x), b.weight(torch.zeros(1), fx.name + ".zero")])
    if dtype in (torch.int64, torch.int32) and src in ("bool", "int64", "int32"):
        return b.alias(fx, x)
    raise _Unsupported("a cast to %s of a %s tensor" % (dtype, src))


def _compare(op):
    """eq / ne / lt / gt / le / ge (Tensor and Scalar); bitwise / logical and, or, xor of bools as mul,
    maximum, ne: 1.0 where true, 0.0 where false."""
    def handler(b, fx, a, c, *rest, **kwargs):
        torch = b.torch
        ka = isinstance(a, torch.fx.Node) and isinstance(b.val.get(a), str)
        kc = isinstance(c, torch.fx.Node) and isinstance(b.val.get(c), str)
        if op in ("mul", "maximum"):
            for v in (a, c):
                d = _dtype_name(v.meta.get("val")) if isinstance(v, torch.fx.Node) else type(v).__name__
                if d != "bool":
                    raise _Unsupported("a bitwise op of a %s operand (bools map)" % d)
        if ka and kc:
            return b.out(fx, op, [b.val[a], b.val[c]])
        x, k, o = (b.val[a], c, op) if ka else (b.val[c], a, SWAPPED[op])
        kt = b.const[k] if isinstance(k, torch.fx.Node) else torch.tensor(float(k))
        return b.out(fx, o, [x, b.weight(kt, fx.name + ".c")])
    return handler


def _logical_not(b, fx, x):
    d = _dtype_name(x.meta.get("val"))
    if d != "bool" and fx.target.overloadpacket.__name__ == "bitwise_not":
        raise _Unsupported("bitwise_not of a %s tensor (bools map)" % d)
    b.out(fx, "eq", [b.act(x), b.weight(b.torch.zeros(1), fx.name + ".zero")])


def _where(b, fx, cond, x, y):
    torch = b.torch
    ins = []
    for v, hint in ((cond, "cond"), (x, "x"), (y, "y")):
        if isinstance(v, torch.fx.Node) and isinstance(b.val.get(v), str):
            ins.append(b.val[v])
        else:
            t = b.const[v] if isinstance(v, torch.fx.Node) else torch.tensor(float(v))
            ins.append(b.weight(t, fx.name + "." + hint))
    b.out(fx, "where", ins)


def _masked_fill(b, fx, x, mask, value):
    _where(b, fx, mask, value, x)


def _argreduce(op):
    def handler(b, fx, x, dim=None, keepdim=False):
        if dim is None:
            raise _Unsupported("%s over every dim (the batch included)" % op)
        xin = b.act(x)
        r = len(b.shape[xin])
        if int(dim) % r == 0:
            raise _Unsupported("a reduction over the batch dim")
        b.out(fx, op, [xin], {"axes": [int(dim) % r], "keepdim": bool(keepdim), "select_last": False})
    return handler


def _amin(b, fx, x, dim=(), keepdim=False):
    b.reduce(fx, "reduce_min", b.act(x), dim, keepdim)


def _prod(b, fx, x, dim=None, keepdim=False, dtype=None):
    b.reduce(fx, "reduce_prod", b.act(x), dim, keepdim)


def _linear_weight(b, w, transpose):
    t = b.tensor(w, "weight")
    if t.ndim != 2:
        raise _Unsupported("a matrix product with a %d-D weight" % t.ndim)
    return b.weight(t.t() if transpose else t, "weight") if transpose else b.weight(w, "weight")


def _linear(b, fx, x, weight, bias=None):
    if bias is not None:
        b.tensor(bias, "bias")
    b.out(fx, "linear", [b.act(x), _linear_weight(b, weight, False), "" if bias is None else b.weight(bias, "bias")])


def _addmm(b, fx, bias, x, w, beta=1, alpha=1):
    bt = b.tensor(bias, "bias")
    wt = b.tensor(w, "weight")
    if wt.ndim != 2:
        raise _Unsupported("a matrix product with a %d-D weight" % wt.ndim)
    out_f = wt.shape[1]
    bias_arr = (bt * beta).reshape(-1) if bt.numel() == out_f else (bt * beta).expand(out_f).clone()
    b.out(fx, "linear", [b.act(x), b.weight((wt * alpha).t(), fx.name + ".weight"),
                         b.weight(bias_arr, fx.name + ".bias")])


def _is_activation(b, v):
    return isinstance(v, b.torch.fx.Node) and isinstance(b.val.get(v), str)


def _mm(b, fx, x, w):
    if _is_activation(b, w):      # two activations: attention's q @ k^T, attn @ v
        b.out(fx, "matmul", [b.act(x), b.act(w)])
        return
    b.out(fx, "linear", [b.act(x), _linear_weight(b, w, True), ""])


def _bmm(b, fx, x, y):
    mx, my = b.val.get(x), b.val.get(y)
    if isinstance(mx, _Merged) and isinstance(my, _Merged) and mx.shape[:-2] == my.shape[:-2] \
            and len(mx.shape) == len(my.shape) == 4 and mx.shape[-1] == my.shape[-2]:
        shape = mx.shape[:-1] + my.shape[-1:]
        b.val[fx] = _Merged(b.emit(fx, "matmul", [mx.name, my.name], shape=shape), shape)
        return
    if x in b.const or y in b.const:
        return _bmm_const(b, fx, x, y)
    b.out(fx, "matmul", [b.act(x), b.act(y, "second operand")])


def _bmm_const(b, fx, x, y):
    """bmm of an activation and a constant (DETR's object queries, from parameters only, against the
    memory's keys; BoTNet's relative logits, q against a constant table). A constant the same in every
    group is a linear: act @ C = linear(act, C^T), C @ act = (linear(act^T, C))^T. A constant that differs
    per group (per head) is made an activation first, as where(m, C, C) with m a one-element-per-group
    slice of the other operand (a select: C exactly, whatever m holds), then one matmul."""
    first = x in b.const
    c = b.tensor(x if first else y, "matmul operand")
    v = b.act(y if first else x, "matmul operand")
    vs = b.shape[v]
    if c.dim() != 3 or len(vs) != 3:
        raise _Unsupported("a bmm of a %d-D constant and a %d-D activation" % (c.dim(), len(vs)))
    if bool((c == c[:1]).all()):
        if not first:
            return b.out(fx, "linear", [v, b.weight(c[0].t(), fx.name + ".weight"), ""])
        vt = b.emit(fx, "transpose", [v], {"perm": [0, 2, 1]}, name=b.sub_name(fx, "transpose"),
                    shape=(vs[0], vs[2], vs[1]))
        lin = b.emit(fx, "linear", [vt, b.weight(c[0], fx.name + ".weight"), ""], name=b.sub_name(fx, "linear"),
                     shape=(vs[0], vs[2], c.shape[1]))
        return b.out(fx, "transpose", [lin], {"perm": [0, 2, 1]})
    if vs[0] is None:
        raise BatchDependent("a bmm of a constant that differs per group (%s)" % fx.name)
    m = v
    for d in (1, 2):
        m = b.emit(fx, "slice", [m], {"dim": d, "start": 0, "end": 1, "step": 1}, name=b.sub_name(fx, "group"),
                   shape=(vs[0], 1, 1) if d == 2 else (vs[0], 1, vs[2]))
    w = b.weight(c, fx.name + ".const")
    cv = b.emit(fx, "where", [m, w, w], name=b.sub_name(fx, "const"), shape=tuple(c.shape))
    b.out(fx, "matmul", [cv, v] if first else [v, cv])


def _relu(b, fx, x):
    b.out(fx, "relu", [b.act(x)])


def _clamp(b, fx, x, lo=None, hi=None):
    """clamp / clamp_min / clamp_max: scalar bounds (or one-element tensors) are the clamp op (fused into
    the op before it); a tensor bound, constant or computed, is a maximum (lower) then a minimum (upper),
    as torch's min(max(x, lo), hi), so hi wins where lo > hi. The bound goes first: x86 max / min return
    their second operand on NaN, so a NaN x stays NaN, as in torch."""
    torch = b.torch

    def bound(v):   # -> None, a float, or a value name
        if v is None:
            return None
        if isinstance(v, torch.fx.Node) and isinstance(b.val.get(v), str):
            return b.val[v]
        if isinstance(v, torch.fx.Node):
            t = b.tensor(v, "clamp bound")
            if t.numel() == 1:
                return float(t.reshape(-1)[0])
            return b.weight(v, fx.name + ".bound")
        return float(v)
    xin = b.act(x)
    lo, hi = bound(lo), bound(hi)
    if not isinstance(lo, str) and not isinstance(hi, str):
        return b.out(fx, "clamp", [xin], {"min": lo, "max": hi})
    v = xin
    if lo is not None:
        if isinstance(lo, str):
            shape = broadcast_dims(b.shape[v], b.shape[lo] if lo in b.shape else b.weights[lo].shape)
            v = b.emit(fx, "maximum", [lo, v], name=b.sub_name(fx, "maximum"), shape=shape)
        else:
            v = b.emit(fx, "clamp", [v], {"min": lo, "max": None}, name=b.sub_name(fx, "clamp"), shape=b.shape[v])
    if hi is None:
        b.val[fx] = v
    elif isinstance(hi, str):
        b.out(fx, "minimum", [hi, v])
    else:
        b.out(fx, "clamp", [v], {"min": None, "max": hi})


def _clamp_min(b, fx, x, lo):
    _clamp(b, fx, x, lo, None)


def _clamp_max(b, fx, x, hi):
    _clamp(b, fx, x, None, hi)


def _hardtanh(b, fx, x, lo=-1.0, hi=1.0):
    _clamp(b, fx, x, lo, hi)


def _table_act(b, fx, x, *args, **kwargs):
    row = b.act_rows[_packet(fx.target)]
    names = [a for a, _ in row.act.args]
    if row.name == "elu" and (_arg(args, kwargs, 1, "scale", 1) != 1 or _arg(args, kwargs, 2, "input_scale", 1) != 1):
        raise _Unsupported("elu with scale or input_scale")
    b.out(fx, row.name, [b.act(x)], _row_attrs(row, lambda a, d: _arg(args, kwargs, names.index(a), a, d)))


def _prelu(b, fx, x, weight):
    b.out(fx, "prelu", [b.act(x), b.weight(weight, "flat", fn=lambda t: t.reshape(-1))])


def _binary(op):
    def handler(b, fx, a, c, *rest, **kwargs):
        alpha = kwargs.get("alpha", rest[0] if rest else 1)
        if kwargs.get("rounding_mode") is not None:
            raise _Unsupported("div with rounding_mode=%r" % kwargs["rounding_mode"])
        if op == "rsub":   # c - alpha * a
            if alpha != 1 and isinstance(a, b.torch.fx.Node):
                raise _Unsupported("rsub with alpha=%r" % alpha)
            return b.binary(fx, "sub", c, a * alpha if not isinstance(a, b.torch.fx.Node) else a)
        b.binary(fx, op, a, c, alpha)
    return handler


def _neg(b, fx, x):
    b.binary(fx, "mul", x, -1.0)


def _reciprocal(b, fx, x):
    b.binary(fx, "div", 1.0, x)


def _pow(b, fx, x, e):
    """x ** e for a scalar e (pow.Tensor_Scalar; optable.emit_pow); base ** e for a positive scalar base
    and a tensor e (pow.Scalar) as exp(e ln base)."""
    if isinstance(x, (int, float)) and not isinstance(x, bool) and isinstance(e, b.torch.fx.Node):
        base = float(x)
        if not (base > 0 and math.isfinite(base)):
            raise _Unsupported("pow of the scalar base %r (a positive base runs, as exp(x ln base))" % base)
        ein = b.act(e)
        shape = b.shape[ein]
        lnb = b.weight(b.torch.tensor([math.log(base)], dtype=b.torch.float32), fx.name + ".log_base")
        mul = b.emit(fx, "mul", [ein, lnb], {}, name=b.sub_name(fx, "mul"), shape=shape)
        b.val[fx] = b.emit(fx, "exp", [mul], {}, name=b.sub_name(fx, "exp"), shape=shape)
        return
    if isinstance(x, (int, float)) or not isinstance(e, (int, float)):
        raise _Unsupported("pow of a scalar base or a tensor exponent")
    e = float(e)
    if e == 1.0:
        return b.alias(fx, x)
    if e == -1.0:
        return _reciprocal(b, fx, x)
    if e in POW_ACTS:
        return b.out(fx, POW_ACTS[e], [b.act(x)])
    if not math.isfinite(e):
        raise _Unsupported("pow with exponent %r" % e)
    xin = b.act(x)
    shape = b.shape[xin]

    def emit(op, ins, attrs):
        return b.emit(fx, op, ins, attrs, name=b.sub_name(fx, op), shape=shape)

    b.val[fx] = emit_pow(emit, xin, e, lambda suffix, arr: b.weight(b.torch.from_numpy(arr), fx.name + "." + suffix))


def _steps(b, fx, xin):
    """(emit, const) for an op written as several elementwise nodes of xin's shape: emit(op, inputs,
    attrs=None, last=False) -> value (last: the node named after fx, its value fx's); const(v) -> the
    weight name of the float32 scalar v."""
    shape = b.shape[xin]

    def emit(op, ins, attrs=None, last=False):
        if last:
            return b.out(fx, op, ins, attrs)
        return b.emit(fx, op, ins, attrs, name=b.sub_name(fx, op), shape=shape)

    consts = {}

    def const(v):
        if v not in consts:
            consts[v] = b.weight(b.torch.tensor([v], dtype=b.torch.float32), "%s.k%g" % (fx.name, v))
        return consts[v]
    return emit, const


def _log1p(b, fx, x):
    """log1p(x): the act kind (vmath.h's v_log1p, 2e-7 relative; log(1 + x) would lose it all near 0)."""
    b.out(fx, "log1p", [b.act(x)])


def _sign(b, fx, x):
    """sign(x) as (x > 0) - (x < 0): 0 at 0 and, as torch's CPU kernel, at NaN."""
    xin = b.act(x)
    emit, const = _steps(b, fx, xin)
    emit("sub", [emit("gt", [xin, const(0.0)]), emit("lt", [xin, const(0.0)])], last=True)


# 2 ** 23: from here on a float32 is an integer, and v + 2 ** 23 (0 <= v < 2 ** 23) rounds v to one
_ROUND_MAGIC = float(2 ** 23)


def _round(b, fx, x, decimals=0):
    """round (half to even) without a kernel of its own: v + m - m with m = 2 ** 23 and v's sign, each
    step rounded to float32 by the default round-to-nearest-even (m = 0 where |v| >= 2 ** 23, already
    an integer, or NaN: v itself). The steps are sub and add of two activations, so no pass folds the
    magic constant into the op before (a conv's bias would round its sum instead). decimals as torch:
    round(x * 10 ** d) / 10 ** d, or round(x / 10 ** -d) * 10 ** -d. A value within an ulp of a .5 tie
    may round the other way than in torch when the op before it sums in another order."""
    xin = b.act(x)
    emit, const = _steps(b, fx, xin)
    d = int(decimals)
    v = xin
    if d:
        scale = const(10.0 ** abs(d))
        v = emit("mul" if d > 0 else "div", [v, scale])
    small = emit("lt", [emit("abs", [v]), const(_ROUND_MAGIC)])
    sign = emit("add", [emit("mul", [emit("lt", [v, const(0.0)]), const(2 * _ROUND_MAGIC)]), const(-_ROUND_MAGIC)])
    m = emit("mul", [sign, small])   # -2 ** 23 for v >= 0, 2 ** 23 below, 0 for |v| >= 2 ** 23
    r = emit("add", [emit("sub", [v, m]), m], last=not d)
    if d:
        emit("div" if d > 0 else "mul", [r, scale], last=True)


def _vector_norm(b, fx, x, ord=2, dim=None, keepdim=False, dtype=None):
    """linalg_vector_norm (F.normalize's norm) of ord 2: sqrt(sum(x ** 2))."""
    if float(ord) != 2.0:
        raise _Unsupported("a vector norm of ord %r (2 maps)" % (ord,))
    xin = b.act(x)
    xs = b.shape[xin]
    dims = b.reduce_dims(xin, dim)
    sq = b.emit(fx, "square", [xin], {}, name=b.sub_name(fx, "square"), shape=xs)
    oshape = tuple(1 if i in dims else d for i, d in enumerate(xs)) if keepdim else \
        tuple(d for i, d in enumerate(xs) if i not in dims)
    s = b.emit(fx, "reduce_sum", [sq], {"axes": dims, "keepdim": bool(keepdim)}, name=b.sub_name(fx, "sum"),
               shape=oshape)
    b.out(fx, "sqrt", [s])


def _var(sqrt):
    """var / std (aten var.correction, var.dim, std.*): mean((x - mean(x)) ** 2) * n / (n - correction)
    over the dims, its sqrt for std; n the elements reduced, correction 1 (Bessel's) unless given."""
    def handler(b, fx, x, dim=None, unbiased=True, keepdim=False, correction=None):
        corr = (1.0 if unbiased else 0.0) if correction is None else float(correction)
        xin = b.act(x)
        xs = b.shape[xin]
        dims = b.reduce_dims(xin, dim)
        n = math.prod(int(xs[d]) for d in dims)
        if n <= corr:
            raise _Unsupported("a var / std of %d elements with correction %g (no finite answer)" % (n, corr))
        kshape = tuple(1 if i in dims else d for i, d in enumerate(xs))
        oshape = kshape if keepdim else tuple(d for i, d in enumerate(xs) if i not in dims)
        torch = b.torch
        m = b.emit(fx, "reduce_mean", [xin], {"axes": dims, "keepdim": True}, name=b.sub_name(fx, "mean"),
                   shape=kshape)
        neg = b.emit(fx, "mul", [m, b.weight(torch.tensor(-1.0), fx.name + ".m1")], name=b.sub_name(fx, "neg"),
                     shape=kshape)
        dev = b.emit(fx, "add", [xin, neg], name=b.sub_name(fx, "dev"), shape=xs)
        sq = b.emit(fx, "square", [dev], {}, name=b.sub_name(fx, "square"), shape=xs)
        steps = [("reduce_mean", {"axes": dims, "keepdim": bool(keepdim)}, None)]
        if corr != 0.0:
            steps.append(("mul", {}, b.weight(torch.tensor(n / (n - corr)), fx.name + ".bessel")))
        if sqrt:
            steps.append(("sqrt", {}, None))
        v = sq
        for k, (op, attrs, w) in enumerate(steps):
            ins = [v] if w is None else [v, w]
            if k + 1 == len(steps):
                b.val[fx] = b.emit(fx, op, ins, attrs, shape=oshape)
            else:
                v = b.emit(fx, op, ins, attrs, name=b.sub_name(fx, op), shape=oshape)
    return handler


def _softmax(op):
    def handler(b, fx, x, dim, half_to_float=False):
        xin = b.act(x)
        d = int(dim) % max(len(b.shape[xin]), 1)
        if d == 0:
            raise _Unsupported("a softmax over the batch dim")
        b.out(fx, op, [xin], {"dim": d})
    return handler


def _safe_softmax(b, fx, x, dim, dtype=None):
    """aten._safe_softmax (the math path of F.scaled_dot_product_attention and nn.MultiheadAttention):
    softmax, except that a row whose every entry is -inf gives 0, where softmax (torch's and the softmax
    kernel) gives NaN. Only a mask makes such a row, so the row is guarded, as
    where(max(x) == -inf, 0, softmax(x)), only where -inf from a constant or a literal can reach x and
    no additive constant mask already leaves each row an entry above -inf (causal): an unmasked
    attention is one softmax. (An all -inf row from overflow, or from an input that holds -inf, gives
    NaN.)"""
    xin = b.act(x)
    xs = b.shape[xin]
    d = int(dim) % max(len(xs), 1)
    if d == 0:
        raise _Unsupported("a softmax over the batch dim")
    if not _masked_rows(b, x, d, len(xs)):
        return b.out(fx, "softmax", [xin], {"dim": d})
    torch = b.torch
    kshape = tuple(1 if i == d else v for i, v in enumerate(xs))
    sm = b.emit(fx, "softmax", [xin], {"dim": d}, name=b.sub_name(fx, "softmax"), shape=xs)
    top = b.emit(fx, "reduce_max", [xin], {"axes": [d], "keepdim": True}, name=b.sub_name(fx, "rowmax"),
                 shape=kshape)
    empty = b.emit(fx, "eq", [top, b.weight(torch.tensor([-math.inf]), fx.name + ".neg_inf")],
                   name=b.sub_name(fx, "masked_row"), shape=kshape)
    b.out(fx, "where", [empty, b.weight(torch.zeros(1), fx.name + ".zero"), sm])


def _masked_rows(b, x, d, rank):
    """Whether x (an fx node) may have a row along d whose every entry is -inf: a constant mask added
    to a value -inf cannot reach is checked row by row; else any -inf source above x counts."""
    torch = b.torch
    if isinstance(x, torch.fx.Node) and _packet(x.target) == "add" and len(x.args) == 2 and not x.kwargs:
        consts = [a for a in x.args if isinstance(a, torch.fx.Node) and a in b.const]
        acts = [a for a in x.args if isinstance(a, torch.fx.Node) and a not in b.const]
        if len(consts) == 1 and len(acts) == 1 and isinstance(b.const[consts[0]], torch.Tensor) \
                and not _reaches_neg_inf(b, acts[0]):
            c = b.const[consts[0]]
            c = c.reshape((1,) * (rank - c.dim()) + tuple(c.shape))
            return bool(torch.isneginf(c).all(dim=d).any())
    return _reaches_neg_inf(b, x)


def _reaches_neg_inf(b, target):
    """Whether -inf from a constant tensor or a literal argument (masked_fill(s, m, -inf)) can reach fx
    node target: one walk of the graph in order up to it, each node once (b.neg_inf)."""
    torch = b.torch
    memo = b.neg_inf

    def source(a):
        if isinstance(a, torch.fx.Node):
            if a not in b.const:
                return memo.get(a, False)
            if a not in memo:
                t = b.const[a]
                memo[a] = isinstance(t, torch.Tensor) and t.is_floating_point() and bool(torch.isneginf(t).any())
            return memo[a]
        return isinstance(a, float) and a == -math.inf
    for n in b.ep.graph.nodes:
        if n not in memo and n not in b.const:
            found = []
            torch.fx.node.map_aggregate((n.args, n.kwargs), lambda a: found.append(source(a)))
            memo[n] = any(found)
        if n is target:
            break
    return source(target)


def _pad4(b, x, pad, channels=False):
    """F.pad's (w_left, w_right, h_top, h_bottom[, c_front, c_back]) as the pad node's attributes:
    {"pads": [l, r, t, b]} plus "cpads" where the channels are padded (constant mode only)."""
    xs = b.shape[x]
    pad = [int(p) for p in pad]
    if len(xs) != 4 or len(pad) not in (2, 4, 6, 8) or any(pad[6:]) or (any(pad[4:6]) and not channels):
        raise _Unsupported("padding %r of a %d-D tensor (only C (constant), H and W of an image)"
                           % (pad, len(xs)))
    a = {"pads": (pad + [0, 0])[:4]}
    if any(pad[4:6]):
        if min(pad[4:6]) < 0:
            raise _Unsupported("negative channel padding %r" % (pad[4:6],))
        a["cpads"] = pad[4:6]
    return a


def _pad_out(b, fx, xin, pad, attrs):
    """The pad node of F.pad: on an image directly; on another rank through an image view (n, m, h, w):
    (n, l) -> (n, 1, 1, l); (n, c, l) -> (n, c, 1, l) (a causal Conv1d's left padding, WaveNet / TCN;
    the channels padded in constant mode); (n, d1, .., h, w) -> (n, d1 * .., h, w), the last two dims."""
    xs = b.shape[xin]
    pad = [int(p) for p in pad]
    r = len(xs)
    if r == 4:
        return b.out(fx, "pad", [xin], dict(_pad4(b, xin, pad, channels=attrs["mode"] == "constant"), **attrs))
    if r == 5 and xs[1] == 1 and len(pad) == 6 and attrs["mode"] == "constant" and min(pad[4:6]) >= 0:
        # (n, 1, c, h, w) padded on c (torch's LocalResponseNorm decomposition): the image's channel pad
        view = (xs[0],) + tuple(xs[2:])
        name = b.name(fx, "pad")
        x4 = b.reshape(fx, xin, view, name=name + ".x4")
        y4 = b.emit(fx, "pad", [x4], dict(_pad4(b, x4, pad, channels=True), **attrs), name=name,
                    shape=(view[0], view[1] + pad[4] + pad[5], view[2] + pad[2] + pad[3], view[3] + pad[0] + pad[1]))
        b.val[fx] = b.reshape(fx, y4, b.dims(fx.meta["val"]), name=name + ".y")
        return
    if r < 2 or len(pad) % 2 or len(pad) > 2 * r or any(pad[4:]) or (
            r == 2 and any(pad[2:])) or (r == 3 and any(pad[2:4]) and attrs["mode"] != "constant"):
        raise _Unsupported("padding %r of a %d-D tensor (only its last two dims; C of a 3-D one in constant "
                           "mode)" % (pad, r))
    pad = pad + [0] * (4 - len(pad)) if len(pad) < 4 else pad
    n = xs[0]
    if r == 2:
        view, p4 = (n, 1, 1, xs[1]), pad[:2] + [0, 0]
    elif r == 3:
        view, p4 = (n, xs[1], 1, xs[2]), pad[:2] + [0, 0] + pad[2:4]
    else:
        view, p4 = (n, math.prod(xs[1:-2]), xs[-2], xs[-1]), pad[:4]
    name = b.name(fx, "pad")
    x4 = b.reshape(fx, xin, view, name=name + ".x4")
    a = dict(_pad4(b, x4, p4, channels=True), **attrs)
    out = b.dims(fx.meta["val"])
    y4 = b.emit(fx, "pad", [x4], a, name=name, shape=(view[0], view[1] + sum(p4[4:6]), view[2] + p4[2] + p4[3],
                                                       view[3] + p4[0] + p4[1]))
    b.val[fx] = b.reshape(fx, y4, out, name=name + ".y")


def _constant_pad(b, fx, x, pad, value=0.0):
    _pad_out(b, fx, b.act(x), pad, {"mode": "constant", "value": float(value)})


def _pad(b, fx, x, pad, mode="constant", value=None):
    if mode == "circular":
        return _pad_circular(b, fx, b.act(x), pad)
    if mode not in ("constant", "reflect", "replicate"):
        raise _Unsupported("pad mode %r" % mode)
    _pad_out(b, fx, b.act(x), pad, {"mode": mode, "value": float(value or 0.0)})


def _pad_circular(b, fx, xin, pad):
    """F.pad(mode="circular") (Conv2d(padding_mode="circular")): each padded dim, last first, as a gather
    (slices of its runs and one cat). As torch, a negative pad crops first and the positive ones wrap
    around what is left: output i reads start + (i - before) % kept. Any rank; never the batch dim."""
    xs = b.shape[xin]
    pad = [int(p) for p in pad]
    dims = [(len(xs) - 1 - k, pad[2 * k], pad[2 * k + 1]) for k in range(len(pad) // 2)]
    dims = [(d, lo, hi) for d, lo, hi in dims if lo or hi]
    if len(pad) % 2 or any(d <= 0 for d, _, _ in dims):
        raise _Unsupported("circular padding %r of a %d-D tensor (not the batch dim)" % (pad, len(xs)))
    v = xin
    for k, (d, lo, hi) in enumerate(dims):
        n = int(b.shape[v][d])
        start, kept = max(-lo, 0), n + min(lo, 0) + min(hi, 0)
        if kept < 1:
            raise _Unsupported("circular padding %r of a dim of %d (nothing left to wrap)" % ((lo, hi), n))
        before = max(lo, 0)
        idx = [start + (i - before) % kept for i in range(kept + before + max(hi, 0))]
        v = _gather_runs(b, fx, v, d, gather_runs(idx, n), k + 1 == len(dims))
    b.val[fx] = v


def _pad_mode(mode):
    def handler(b, fx, x, padding):
        xin = b.act(x)
        b.out(fx, "pad", [xin], dict(_pad4(b, xin, padding), mode=mode, value=0.0))
    return handler


def _upsample(mode):
    def handler(b, fx, x, *args):
        xin = b.act(x)
        out = b.dims(fx.meta["val"])
        if len(out) != 4:
            raise _Unsupported("%s upsampling of a %d-D tensor" % (mode, len(out)))
        overload = fx.target._overloadname
        if overload == "vec":     # (output_size, [align_corners,] scale_factors)
            align = args[1] if mode == "bilinear" else None
            scales = args[-1]
        else:                     # (output_size, [align_corners,] scales_h, scales_w)
            align = args[1] if mode == "bilinear" else None
            sh, sw = args[-2:] if len(args) >= 3 else (None, None)
            scales = None if sh is None or sw is None else [sh, sw]
        attrs = {"mode": mode, "align_corners": None if align is None else bool(align)}
        _, _, h, w = b.shape[xin]
        if scales is not None and [math.floor(h * scales[0]), math.floor(w * scales[1])] == list(out[2:]):
            attrs["scale_factor"] = [float(s) for s in scales]
        else:
            attrs["size"] = [int(out[2]), int(out[3])]
        b.out(fx, "interpolate", [xin], attrs)
    return handler


def _shuffle(op, key):
    def handler(b, fx, x, factor):
        b.out(fx, op, [b.act(x)], {key: int(factor)})
    return handler


def _slice(b, fx, x, dim=0, start=None, end=None, step=1):
    xin = b.act(x)
    xs = b.shape[xin]
    d = int(dim) % len(xs)
    size = xs[d]
    if d == 0 and (start in (None, 0)) and (end is None or end >= 2 ** 62) and step == 1:
        b.val[fx] = xin
        return
    if d == 0 and b.batch is not None:
        raise BatchDependent("a slice of the batch dim (%s)" % fx.name)
    s, e, st = slice(start, end, step).indices(size)
    if s == 0 and e == size and st == 1:
        b.val[fx] = xin
        return
    b.out(fx, "slice", [xin], {"dim": d, "start": s, "end": e, "step": st})


def _flip(b, fx, x, dims):
    """flip: a backwards slice (step -1) per flipped dim, each one strided copy."""
    xin = b.act(x)
    xs = b.shape[xin]
    ds = sorted({int(d) % len(xs) for d in dims})
    if 0 in ds:
        raise _Unsupported("a flip of the batch dim")
    v = xin
    for k, d in enumerate(ds):
        attrs = {"dim": d, "start": None, "end": None, "step": -1}
        if k + 1 == len(ds):
            b.val[fx] = b.emit(fx, "slice", [v], attrs, shape=xs)
        else:
            v = b.emit(fx, "slice", [v], attrs, name=b.sub_name(fx, "flip%d" % d), shape=xs)
    if not ds:
        b.val[fx] = xin


def _index(b, fx, x, indices):
    """x[..., idx, ...] with one constant 1-D integer index list on a non-batch dim (a channel
    reorder: BGR -> RGB): its runs as slices, then one concat (shapes.gather_runs)."""
    xin = b.act(x)
    xs = b.shape[xin]
    picks = [(d, t) for d, t in enumerate(indices) if t is not None]
    if len(picks) != 1:
        raise _Unsupported("advanced indexing on %d dims (one constant index list maps)" % len(picks))
    d, t = picks[0]
    if d == 0:
        raise _Unsupported("indexing the batch dim")
    vals = b.tensor(t, "index")
    if vals.dtype == b.torch.bool or vals.dim() != 1 or vals.is_floating_point():
        raise _Unsupported("an index that is not a 1-D integer list (%s, %d-D)" % (vals.dtype, vals.dim()))
    try:
        runs = gather_runs(vals.tolist(), int(xs[d]))
    except ValueError as e:
        raise _Unsupported(str(e))
    _emit_runs(b, fx, xin, xs, d, runs)


def _emit_runs(b, fx, xin, xs, d, runs):
    b.val[fx] = _gather_runs(b, fx, xin, d, runs, True)


def _gather_runs(b, fx, xin, d, runs, last):
    """xin's dim d gathered by runs (shapes.gather_runs): a slice per run, then one cat; a run over the
    whole dim is xin itself. last: the node named after fx, else an intermediate. Returns the value."""
    xs = b.shape[xin]
    pieces, total = [], 0
    for k, (s0, end, st) in enumerate(runs):
        ln = len(range(s0, -1 if end is None else end, st))
        total += ln
        if (s0, end, st) == (0, xs[d], 1):
            pieces.append(xin)
            continue
        shape = tuple(ln if i == d else v for i, v in enumerate(xs))
        attrs = {"dim": d, "start": s0, "end": end, "step": st}
        name = b.sub_name(fx, "run%d" % k) if len(runs) > 1 or not last else None
        pieces.append(b.emit(fx, "slice", [xin], attrs, name=name, shape=shape))
    if len(pieces) == 1:
        return pieces[0]
    shape = tuple(total if i == d else v for i, v in enumerate(xs))
    return b.emit(fx, "cat", pieces, {"dim": d}, name=None if last else b.sub_name(fx, "cat"), shape=shape)


def _index_select(b, fx, x, dim, index):
    """index_select by a constant integer index on a non-batch dim (torch.roll's decomposition, Swin's
    shifted windows: x[(i - shift) % n]), as slices of its runs and one cat."""
    xin = b.act(x)
    xs = b.shape[xin]
    d = int(dim) % max(len(xs), 1)
    if d == 0:
        if b.batch is not None:
            raise BatchDependent("an index_select on the batch dim (%s)" % fx.name)
        raise _Unsupported("an index_select on the batch dim")
    vals = b.tensor(index, "index")
    if vals.dtype == b.torch.bool or vals.is_floating_point() or vals.dim() > 1 or not vals.numel():
        raise _Unsupported("an index that is not a 1-D integer list (%s, %d-D)" % (vals.dtype, vals.dim()))
    try:
        runs = gather_runs(vals.reshape(-1).tolist(), int(xs[d]))
    except ValueError as e:
        raise _Unsupported(str(e))
    b.val[fx] = _gather_runs(b, fx, xin, d, runs, True)


def _narrow(b, fx, x, dim, start, length):
    _slice(b, fx, x, dim, start, int(start) + int(length), 1)


def _select(b, fx, x, dim, index):
    xin = b.act(x)
    xs = b.shape[xin]
    d = int(dim) % len(xs)
    if d == 0 and b.batch is not None:
        raise BatchDependent("a select on the batch dim (%s)" % fx.name)
    i = int(index) % xs[d]
    shape = xs[:d] + (1,) + xs[d + 1:]
    name = b.emit(fx, "slice", [xin], {"dim": d, "start": i, "end": i + 1, "step": 1}, shape=shape)
    b.val[fx] = b.reshape(fx, name, b.dims(fx.meta["val"]), name=name + ".squeeze")


def _split_sizes(b, fx, x, sizes, dim=0):
    xin = b.act(x)
    xs = b.shape[xin]
    d = int(dim) % len(xs)
    if d == 0 and b.batch is not None:
        raise BatchDependent("a split of the batch dim (%s)" % fx.name)
    name = b.name(fx, "split")
    outs = ["%s.%d" % (name, i) for i in range(len(sizes))]
    b.nodes.append(Node(name, "split", [xin], outs, {"dim": d, "sizes": [int(s) for s in sizes]}))
    for o, v in zip(outs, fx.meta["val"]):
        b.shape[o] = b.dims(v)
    b.val[fx] = outs


def _split(b, fx, x, split_size, dim=0):
    xs = b.shape[b.act(x)]
    n = xs[int(dim) % len(xs)]
    if isinstance(split_size, (list, tuple)):
        return _split_sizes(b, fx, x, split_size, dim)
    k = int(split_size)
    _split_sizes(b, fx, x, [min(k, n - i) for i in range(0, n, k)], dim)


HANDLERS = {
    "convolution": _convolution,
    "_native_batch_norm_legit_no_training": _bn_no_training,
    "_native_batch_norm_legit": _bn_legit, "native_batch_norm": _bn_legit,
    "native_group_norm": _group_norm, "native_layer_norm": _layer_norm, "instance_norm": _instance_norm,
    "max_pool2d_with_indices": _max_pool, "max_pool2d": _max_pool, "avg_pool2d": _avg_pool,
    "max_pool3d_with_indices": _max_pool3d, "max_pool3d": _max_pool3d, "avg_pool3d": _avg_pool3d,
    "adaptive_avg_pool3d": _adaptive_avg_pool3d, "_adaptive_avg_pool3d": _adaptive_avg_pool3d,
    "max_unpool2d": _max_unpool,
    "adaptive_avg_pool2d": _adaptive("adaptive_avg_pool2d"), "_adaptive_avg_pool2d": _adaptive("adaptive_avg_pool2d"),
    "adaptive_max_pool2d": _adaptive("adaptive_max_pool2d"),
    "mean": _mean, "sum": _sum, "amax": _amax, "max": _max, "var": _var(False), "std": _var(True),
    "cat": _cat, "concat": _cat,
    "view": Builder.to_shape, "_unsafe_view": Builder.to_shape, "reshape": Builder.to_shape,
    "unsqueeze": Builder.to_shape, "squeeze": Builder.to_shape, "flatten": Builder.to_shape,
    "expand": _expand, "repeat": _repeat, "permute": _permute, "transpose": _transpose, "t": _t,
    "_to_copy": _to_copy,
    "linear": _linear, "addmm": _addmm, "mm": _mm, "bmm": _bmm,
    "relu": _relu, "clamp": _clamp, "clamp_min": _clamp_min, "clamp_max": _clamp_max, "hardtanh": _hardtanh,
    "prelu": _prelu, "_prelu_kernel": _prelu,
    "add": _binary("add"), "sub": _binary("sub"), "rsub": _binary("rsub"), "mul": _binary("mul"),
    "div": _binary("div"), "maximum": _binary("maximum"), "minimum": _binary("minimum"), "neg": _neg,
    "reciprocal": _reciprocal, "pow": _pow, "linalg_vector_norm": _vector_norm,
    "log1p": _log1p, "sign": _sign, "round": _round,
    "_softmax": _softmax("softmax"), "softmax": _softmax("softmax"), "_safe_softmax": _safe_softmax,
    "_log_softmax": _softmax("log_softmax"), "log_softmax": _softmax("log_softmax"),
    "constant_pad_nd": _constant_pad, "pad": _pad,
    "reflection_pad2d": _pad_mode("reflect"), "replication_pad2d": _pad_mode("replicate"),
    "upsample_nearest2d": _upsample("nearest"), "_upsample_nearest_exact2d": _upsample("nearest-exact"),
    "upsample_bilinear2d": _upsample("bilinear"),
    "pixel_shuffle": _shuffle("pixel_shuffle", "factor"), "pixel_unshuffle": _shuffle("pixel_unshuffle", "factor"),
    "channel_shuffle": _shuffle("channel_shuffle", "groups"),
    "native_channel_shuffle": _shuffle("channel_shuffle", "groups"),
    "slice": _slice, "narrow": _narrow, "flip": _flip, "index": _index, "select": _select, "slice_scatter": _slice_scatter, "copy": _copy,
    "index_select": _index_select,
    "split_with_sizes": _split_sizes, "split": _split,
    "eq": _compare("eq"), "ne": _compare("ne"), "lt": _compare("lt"), "gt": _compare("gt"), "le": _compare("le"),
    "ge": _compare("ge"), "bitwise_and": _compare("mul"), "logical_and": _compare("mul"),
    "bitwise_or": _compare("maximum"), "logical_or": _compare("maximum"), "bitwise_xor": _compare("ne"),
    "logical_xor": _compare("ne"), "bitwise_not": _logical_not, "logical_not": _logical_not,
    "where": _where, "masked_fill": _masked_fill, "argmax": _argreduce("argmax"), "argmin": _argreduce("argmin"),
    "amin": _amin, "prod": _prod,
}
HANDLERS.update({a: Builder.alias for a in _ALIASES if a != "_to_copy"})
HANDLERS.update({row.name: _table_act for row in activations() if row.name not in HANDLERS})
HANDLERS["log_sigmoid"] = lambda b, fx, x: b.out(fx, "logsigmoid", [b.act(x)], {})

