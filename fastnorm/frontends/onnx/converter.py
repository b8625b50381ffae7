"""The converter: walks the live ONNX nodes in order, folds constants, dispatches to the handlers by op type,
and returns the Graph (with graph.notes for the doctor).
"""
import collections

import numpy as np

from fastnorm import onnxpb
from fastnorm.errors import FormatError, UnsupportedError
from fastnorm.onnxpb.fold import fold as onnxpb_fold
from fastnorm.graph import Graph, Node, TensorSpec
from fastnorm.limits import DEFAULT_MAX_TENSOR_BYTES
from fastnorm.optable import OPS
from fastnorm.frontends.onnx._base import (BATCH, P_BATCH, UNKNOWN, BatchDep, Malformed, OnnxNode, Restart,
    DIMS_ATTRS, MAX_DIMS_LIST, MAX_RANK, NEWEST_OPSET, Unsupported, attr_value, default_opset, has_batch, import_onnx,
    is_sym, onnx_dtype_name)
from fastnorm.frontends.onnx.foldbound import check_fold
from fastnorm.frontends.onnx.idioms import rewrite_patterns
from fastnorm.frontends.onnx.parse import read_model
from fastnorm.frontends.onnx.symbolic import NO_FOLD, SYM_OPS, op_constant
from fastnorm.frontends.onnx import (act, control, conv, einsum, glue, logic, norm, pool, resize, shape, slicing,
    symbolic)


# ops on batch constants (symbolic._sym_expand): elementwise folds, and readers that broadcast a
# batch-1 operand over their activations' batch
BCONST_FOLDS = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Neg", "Abs", "Exp", "Log", "Sin", "Cos",
                          "Tan", "Atan", "Asin", "Acos", "Tanh", "Sigmoid", "Relu", "Clip", "Max", "Min",
                          "Cast", "Identity", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Erf", "Where",
                          "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or"})
BCONST_READERS = frozenset({"Concat", "Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean"})


class _Converter:
    def __init__(self, model, fixed, max_tensor_bytes=DEFAULT_MAX_TENSOR_BYTES, spatial=None):
        self.max_tensor_bytes = max_tensor_bytes   # bounds what constant folding may compute
        self.spatial = spatial      # {input name: its shape} for inputs with dynamic spatial dims
        self.dynamic_dims = {}      # {input name: the axes declared dynamic after the batch}
        self.model = model
        self.graph = model.graph
        self.fixed = fixed          # True: every input's declared batch is used concretely
        self.opset = default_opset(model)
        self.nodes = []             # IR nodes
        self._producer = {}         # IR value -> the last IR node that writes it (producer_of)
        self.weights = {}           # IR weights
        self.const = {}             # onnx value -> np array (float / int constants) or object array (symbolic)
        self.shape = {}             # onnx value (activation) -> shape tuple (BATCH at dim 0 unless fixed)
        self.ir = {}                # onnx value (activation) -> IR value name
        self.kind = {}              # onnx value (activation) -> "bool" / "int64" / "int32" (float: absent)
        self.problems = []          # unsupported
        self.malformed = []
        self.batch_deps = []
        self.notes = []
        self.poisoned = set()
        self.bconst = set()         # onnx values: a constant expanded over the batch, kept at batch 1
        self.names = set()          # IR value names in use
        self.node_names = set()     # IR node names in use
        self.declared_batch = {}
        self._implicit = set()      # onnx values the outer graph's If branches read (control.py)
        self.main_names = set()
        self._queue = collections.deque()

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
        out = {a.name: attr_value(a) for a in node.attribute}
        empty = sorted(k for k, v in out.items() if v is None)
        if empty:
            raise Malformed("%s: attribute %r has no value (undefined attribute type)" % (self.where(node), empty[0]))
        for k in DIMS_ATTRS.intersection(out):
            if isinstance(out[k], (list, tuple)) and len(out[k]) > MAX_DIMS_LIST:
                raise Malformed("attribute %r has %d entries; a tensor has at most %d dims"
                                % (k, len(out[k]), MAX_RANK))
        return out

    def weight(self, node, suffix, array, transposed_ok=False):
        """transposed_ok: a linear's (out, in) weight that is the transpose of a C-contiguous float32
        array (ONNX's MatMul B) stays that view; the plan packs it as it is (_C.conv2d_pack_kn)."""
        name = self.uniq("%s::%s" % (node._fn_name, suffix))
        a = np.asarray(array)
        if not (transposed_ok and a.ndim == 2 and a.dtype == np.float32 and a.T.flags.c_contiguous
                and a.flags.aligned):
            a = np.ascontiguousarray(a, dtype=np.float32)
        self.weights[name] = a
        return name

    def inp(self, node, i):
        return node.input[i] if len(node.input) > i else ""

    def cval(self, node, i, what=None, required=False):
        """Constant input i (np array) or None when absent; an activation there is unsupported."""
        v = self.inp(node, i)
        if not v:
            if required:
                raise Malformed("input %d (%s) is required" % (i, what or "operand"))
            return None
        if v in self.const:
            c = self.const[v]
            if is_sym(c):
                if any(e is BATCH or e is UNKNOWN for e in c.reshape(-1)):
                    raise BatchDep("%s depends on the batch size" % (what or "input %d" % i))
            return c
        raise Unsupported("%s computed at run time (input %r; only constants are supported there)"
                           % (what or "input %d" % i, v))

    def fweight(self, node, i, what, required=False):
        c = self.cval(node, i, what, required)
        if c is None:
            return None
        if c.dtype.kind not in "fiub":
            raise Malformed("%s has dtype %s, which cannot be cast to float32" % (what, c.dtype))
        return c.astype(np.float32, copy=False)    # no copy of a float32 weight (a read-only view may stay one)

    def act(self, node, i=0):
        """(IR name, shape) of activation input i."""
        v = self.inp(node, i)
        if not v:
            raise Malformed("input %d is required" % i)
        if v in self.const:
            raise Unsupported("input %d (%r) is a constant where an activation is expected" % (i, v))
        if v not in self.shape:
            raise Malformed("input %r is not produced by any node, initializer or graph input" % v)
        return self.ir[v], self.shape[v]

    def is_act(self, v):
        return bool(v) and v in self.shape

    def ir_shape(self, shape):
        return tuple(P_BATCH if d is BATCH else d for d in shape)

    def from_ir_shape(self, shape, batch):
        out = tuple(int(d) for d in shape)
        if batch and out and out[0] == P_BATCH:
            out = (BATCH,) + out[1:]
        if any(d == P_BATCH or (d > P_BATCH and d % P_BATCH == 0) for d in out[1:]):
            raise BatchDep("the batch would be moved or merged")
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
                batch = batch or has_batch(s)
                shapes.append(self.ir_shape(s))
        try:
            res = OPS[op].shape(n, shapes, self.weights)
        except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError) as e:
            if batch and not self.fixed and str(P_BATCH) in str(e) and (
                    self._can_fix() or self._fit_at_batch1(n, op, shapes)):
                # (with every batch declared, converting again at that batch says what fits or not)
                raise BatchDep("shapes only fit at one batch size (%s)" % e)
            # the probe batch reads as the symbolic N it stands for
            raise Malformed("shapes do not fit: %s" % str(e).replace("(%d, " % P_BATCH, "(N, "))
        self._ir_value_shape[out] = self.from_ir_shape(res[0], batch)
        self.nodes.append(n)
        self._producer[out] = n
        return out

    def _fit_at_batch1(self, n, op, shapes):
        """Whether the shapes that failed with the probe batch fit with a batch of 1 or of a batch the
        inputs declare: only then is the failure the batch's (a height that does not match fits at no
        batch, and says so as malformed)."""
        for b in {1} | {d for d in self.declared_batch.values() if isinstance(d, int)}:
            fixed = [s if s is None or not s or s[0] != P_BATCH else (b,) + tuple(s[1:]) for s in shapes]
            try:
                OPS[op].shape(n, fixed, self.weights)
            except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError):
                continue
            return True
        return False

    def _convert(self, h, node):
        """Run node's handler and record its outputs' kinds (frontends/onnx/logic.py): a bool or
        integer activation reaches only the ops that take one."""
        kinds = [self.kind[v] for v in node.input if v in self.kind and v in self.shape]
        if kinds and node.op_type not in logic.KIND_OPS:
            raise Unsupported("%s of %s %s value (it runs in float32; only moves, comparisons, selections and "
                              "exact integer arithmetic take %s values)"
                              % (node.op_type, "an" if kinds[0].startswith("i") else "a", kinds[0], kinds[0]))
        res = h(self, node, self.attrs(node))
        if node.op_type in logic.BOOL_OUT:
            kind = "bool"
        elif node.op_type in ("ArgMax", "ArgMin"):
            kind = "int64"
        elif node.op_type in ("Cast", "CastLike", "Where"):
            kind = res
        elif node.op_type in logic.KIND_KEEPING and kinds:
            kind = kinds[0]
        else:
            kind = None
        if kind is not None:
            for o in node.output:
                if o and o in self.shape:
                    self.kind[o] = kind

    def shape_of_ir(self, ir_name):
        """The shape (BATCH at dim 0 where dynamic) of an IR value emit() made."""
        return self._ir_value_shape[ir_name]

    def set_act(self, onnx_name, ir_name):
        self.ir[onnx_name] = ir_name
        self.shape[onnx_name] = self._ir_value_shape[ir_name]

    def note(self, code, node, msg):
        self.notes.append((code, node if isinstance(node, str) else node._fn_name, msg))

    # ------------------------------------------------------------------ driver
    def run(self):
        g = self.graph
        self._ir_value_shape = {}
        init_names = set()
        views = []
        for t in g.initializer:
            if t.name in init_names:
                raise FormatError("initializer %r is defined twice (names must be unique)" % t.name)
            init_names.add(t.name)
            try:
                views.append((t.name, onnxpb.to_array_view(t)))
            except Exception as e:
                raise FormatError("initializer %r cannot be read: %s" % (t.name, e)) from None
        for (name, _), a in zip(views, onnxpb.detach([v for _, v in views])):   # one copy for them all
            self.const[name] = np.asarray(a)
        for t in getattr(g, "sparse_initializer", []):
            try:
                self.const[t.values.name] = onnxpb.sparse_to_dense(t)
                init_names.add(t.values.name)
            except Exception as e:
                raise FormatError("sparse initializer %r cannot be read: %s" % (t.values.name, e)) from None
        inputs = []
        seen_inputs = set()
        for vi in g.input:
            if vi.name in seen_inputs:
                raise FormatError("graph input %r is listed twice" % vi.name)
            seen_inputs.add(vi.name)
            if vi.name in init_names:
                continue  # legacy: initializers listed as graph inputs are constants (weights)
            tt = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
            if tt is None:
                self.problems.append("input %r: only tensor inputs are supported" % vi.name)
                self.poisoned.add(vi.name)
                continue
            if tt.elem_type not in (onnxpb.TensorProto.FLOAT, onnxpb.TensorProto.DOUBLE, onnxpb.TensorProto.FLOAT16):
                self.problems.append("input %r: dtype %s (only float inputs are supported)"
                                     % (vi.name, onnx_dtype_name(tt.elem_type)))
                self.poisoned.add(vi.name)
                continue
            if not tt.HasField("shape"):
                self.problems.append("input %r: no shape declared (the non-batch dims must be known)" % vi.name)
                self.poisoned.add(vi.name)
                continue
            zero = [i for i, d in enumerate(tt.shape.dim) if d.HasField("dim_value") and d.dim_value == 0]
            if zero:
                self.problems.append("input %r: dim %d is 0 (an empty tensor)" % (vi.name, zero[0]))
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
                empty = [i for i, d in enumerate(tt.shape.dim) if i > 0 and dims[i] is None and d.HasField("dim_value")]
                # NCHW: H, W (dims 2, 3) may be dynamic; an NHWC image (dims 1 and 2 both dynamic, dim 3
                # known: tf2onnx) too
                nhwc = len(dims) == 4 and dims[3] is not None and dims[2] is None
                if (dims[1] is None and not nhwc) or len(dims) < 3 or empty:
                    named = [(d.dim_param or "?") if dims[i] is None else dims[i]
                             for i, d in enumerate(tt.shape.dim)]
                    self.problems.append("input %r: shape %s has dynamic dims after the batch other than the "
                                         "spatial ones (only the batch, height and width may be dynamic)"
                                         % (vi.name, named))
                    self.poisoned.add(vi.name)
                    continue
                dims = self._spatial_dims(vi.name, dims)
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
        self.main_names = set(known)    # the main graph's value names (an If branch must not shadow them)
        for node in g.node:
            self.names.update(v for v in node.output if v)
            self.main_names.update(v for v in node.output if v)
        self.names.update(self.const)
        try:
            # (a value an If branch reads is kept as if it were an output)
            live = rewrite_patterns(live, {o.name for o in g.output} | self._implicit, self.const)
        except Exception:  # noqa: BLE001 - the idioms are optional rewrites: the nodes convert one by one
            pass
        handlers = _HANDLERS
        # a queue: an If whose condition is known puts its branch's nodes at its front (inline)
        self._queue = queue = collections.deque(live)
        while queue:
            node = queue.popleft()
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
                if node.op_type == "If":     # never folded: its condition picks the branch to inline
                    h(self, node, self.attrs(node))
                    continue
                if self.bconst and any(v in self.bconst for v in node.input if v):
                    self._bconst_check(node)
                if node.op_type not in NO_FOLD and node.input and all(
                        (not v) or (v in self.const and not is_sym(self.const[v])) for v in node.input):
                    self._fold(node)
                    if self.bconst and any(v in self.bconst for v in node.input if v):
                        self._bconst_mark(node)
                elif node.op_type in SYM_OPS and any(v and is_sym(self.const.get(v)) for v in node.input) \
                        and all((not v) or v in self.const for v in node.input):
                    self._fold_sym(node)
                else:
                    self._convert(h, node)
            except Unsupported as e:
                self.problems.append("%s: %s" % (self.where(node), e))
                self._poison(node)
            except Malformed as e:
                self.malformed.append("%s: %s" % (self.where(node), e))
                self._poison(node)
            except BatchDep as e:
                if self._can_fix():
                    raise Restart()
                self.batch_deps.append("%s: %s (the batch is dynamic here)" % (self.where(node), e))
                self._poison(node)
            # ImportError: a fallback needs onnx; MemoryError: a tensor over max_tensor_bytes
            except (FormatError, UnsupportedError, ImportError, MemoryError):
                raise
            except Exception as e:  # noqa: BLE001 - never crash on a strange model
                self.malformed.append("%s: cannot be converted: %s: %s" % (self.where(node), type(e).__name__, e))
                self._poison(node)
        outputs = []
        graph_outputs = {o.name for o in g.output}
        renames = {}    # IR value -> the ONNX output name it takes (applied to the nodes once, below)
        listed = set()
        for vo in g.output:
            v = vo.name
            if v in listed:
                continue    # listed twice: one output (the run's dict has one entry per name)
            listed.add(v)
            if v in self.poisoned:
                continue
            if v in self.const:
                self.problems.append("output %r: a constant (computes nothing from the input)" % v)
                continue
            if v not in self.shape:
                self.malformed.append("output %r is not produced by any node" % v)
                continue
            src = self.ir[v]
            src = renames.get(src, src)
            if src != v and self._take_name(src, v, graph_outputs, renames):
                src = v
            if src != v:
                # an alias (Identity, Dropout, a no-op Reshape) or an input: copy exactly (x * 1)
                one = self.uniq(v + "::one")
                self.weights[one] = np.ones((1,), np.float32)
                n = Node(self.uniq(v + "::copy"), "mul", [src, one], [v])
                self.nodes.append(n)
                self._producer[v] = n
                self._ir_value_shape[v] = self._ir_value_shape[src]
            shape = self._ir_value_shape[v]
            outputs.append(TensorSpec(v, tuple(None if d is BATCH else d for d in shape),
                                      self.kind.get(vo.name, "float32")))
        self._apply_renames(renames)
        if self.malformed:
            raise FormatError("malformed ONNX model: %d problem(s): %s"
                              % (len(self.malformed), "; ".join(self.malformed)))
        problems = self.problems + self.batch_deps
        if problems:
            raise UnsupportedError("ONNX import: %d unsupported construct(s): %s"
                                   % (len(problems), "; ".join(problems)))
        if not outputs:
            raise UnsupportedError("ONNX import: the model has no tensor output")
        # the per-channel Add/Mul folds (a MatMul + Add linear, GroupNorm as InstanceNorm + Mul + Add) are
        # fastnorm.passes.canonicalize, run on every frontend's graph by fastnorm.api
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
        for name, axes in self.dynamic_dims.items():
            shape = dict((t.name, t.shape) for t in inputs)[name]
            self.notes.append(("dynamic_spatial", name, "input %r declares dims %s dynamic: the model is "
                               "converted and planned per input size (shown at %s)"
                               % (name, list(axes), "x".join(str(shape[i]) for i in axes))))
        graph.notes = list(self.notes)
        graph.dynamic_dims = dict(self.dynamic_dims)
        return graph

    def _spatial_dims(self, name, dims):
        """Dynamic spatial dims (H, W of an NCHW input): the graph is converted per input size, at the
        size asked for (self.spatial[name]) or, at load, at SPATIAL_PROBE; graph.dynamic_dims says which."""
        axes = tuple(i for i, d in enumerate(dims) if i > 0 and d is None)
        self.dynamic_dims[name] = axes
        given = (self.spatial or {}).get(name)
        out = list(dims)
        for i in axes:
            out[i] = int(given[i]) if given is not None else SPATIAL_PROBE
        return out

    def _can_fix(self):
        return (not self.fixed and self.declared_batch
                and all(b is not None for b in self.declared_batch.values()))

    def inline(self, nodes):
        """Convert OnnxNodes `nodes` next, before the rest of the queue (an If's taken branch)."""
        self._queue.extendleft(reversed(nodes))

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
                    if v in producer:
                        raise FormatError("value %r is written by two nodes (%r and %r; names must be unique)"
                                          % (v, g.node[producer[v]].name or "#%d" % producer[v], n.name or "#%d" % i))
                    if v in known:
                        raise FormatError("node %r (%s) writes %r, which is already a graph input or an "
                                          "initializer" % (n.name or "#%d" % i, n.op_type, v))
                    producer[v] = i

        def reads(n):
            # an If reads what its branches read (only the taken one's when the file states the condition)
            if n.op_type != "If":
                return [v for v in n.input if v]
            p = producer.get(n.input[0]) if n.input else None
            return control.node_reads(n, cond=control.known_cond(n, self.const, None if p is None else g.node[p]))
        # keep graph order (ONNX requires a topological order; check it)
        order = control.live_nodes([o.name for o in g.output], producer, lambda i: reads(g.node[i]))
        defined = set(known)
        for i in order:
            n = g.node[i]
            rs = reads(n)
            if n.op_type == "If":
                self._implicit.update(rs[len([v for v in n.input if v]):])
            for v in rs:
                if v and v not in defined and v in producer and producer[v] > i:
                    raise FormatError("node %r (%s): input %r is produced later (nodes are not in "
                                      "topological order)" % (n.name or "#%d" % i, n.op_type, v))
            defined.update(n.output)
        return [OnnxNode(g.node[i], i) for i in order]

    # ------------------------------------------------------------------ batch constants
    def _bconst_check(self, node):
        """A node reading a batch constant (symbolic._sym_expand: one value for every sample, held at
        batch 1): an elementwise op on constants (folded at batch 1, still a batch constant), or a
        reader that broadcasts it over the batch of same-rank activations (Concat off the batch axis,
        the binary ops); anything else would see its batch as 1."""
        ins = [v for v in node.input if v]
        acts = [v for v in ins if v in self.shape]
        rank = {np.ndim(self.const[v]) for v in ins if v in self.bconst}
        if not acts and node.op_type in BCONST_FOLDS:
            return
        if acts and node.op_type in BCONST_READERS and all(len(self.shape[v]) in rank for v in acts) \
                and len(rank) == 1:
            return
        raise BatchDep("%s of a constant expanded to the batch size" % node.op_type)

    def _bconst_mark(self, node):
        rank = {np.ndim(self.const[v]) for v in node.input if v in self.bconst}
        for v in node.output:
            if v and v in self.const:
                a = self.const[v]
                if is_sym(a) or np.ndim(a) not in rank or np.shape(a)[0] != 1:
                    raise BatchDep("%s of a constant expanded to the batch size" % node.op_type)
                self.bconst.add(v)

    # ------------------------------------------------------------------ constant folding
    def _fold(self, node):
        if node.op_type == "Constant":
            return op_constant(self, node, self.attrs(node))
        check_fold(node.op_type, [self.const[v] if v else None for v in node.input], self.attrs(node),
                   self.max_tensor_bytes)
        try:
            res = onnxpb_fold(node.op_type, [self.const[v] if v else None for v in node.input], self.attrs(node),
                              self.opset)
        except (FormatError, UnsupportedError, ValueError, TypeError, IndexError, OverflowError) as e:
            raise Malformed("constant folding failed: %s" % e)
        if res is NotImplemented:
            res = self._fold_reference(node)
        for v, r in zip([v for v in node.output if v], res):
            self.const[v] = np.asarray(r)

    def _fold_reference(self, node):
        """An op (or input type) onnxpb.fold lacks: onnx's ReferenceEvaluator, the one place of the normal
        conversion that imports onnx (rare ops on constants: Trilu, ScatterND, NonZero, Einsum ...)."""
        onnx = import_onnx()
        from onnx.reference import ReferenceEvaluator
        feeds = {v: self.const[v] for v in node.input if v}
        h = onnx.helper
        ins = [h.make_tensor_value_info(v, h.np_dtype_to_tensor_dtype(self.const[v].dtype), self.const[v].shape)
               for v in dict.fromkeys(x for x in node.input if x)]
        outs = [h.make_empty_tensor_value_info(v) for v in node.output if v]
        proto = onnx.NodeProto.FromString(onnxpb.serialize(node.proto))
        m = h.make_model(h.make_graph([proto], "fold", ins, outs), opset_imports=[h.make_opsetid("", self.opset)])
        try:
            return ReferenceEvaluator(m).run(None, feeds)
        except Exception as e:  # noqa: BLE001
            raise Malformed("constant folding failed: %s" % e)

    def _fold_sym(self, node):
        """Fold a shape op over values holding the symbolic batch. Where the symbolic arrays do not fit
        the op (the TorchScript exporter's index arithmetic for an in-place slice write, ReXNet's
        ScatterND: a Concat of a batch-sized vector with others), the graph depends on the batch in a
        way the symbol cannot carry: fixed, the same node folds on plain numbers (or says what is
        wrong with it)."""
        try:
            SYM_OPS[node.op_type](self, node, self.attrs(node))
        except (ValueError, IndexError, TypeError):
            raise BatchDep("%s computes indices or shapes from the batch size (e.g. an in-place slice write "
                           "exported with a dynamic batch); export with a static batch" % node.op_type) from None

    # ------------------------------------------------------------------ IR naming
    def producer_of(self, ir_name):
        """The IR node that writes ir_name (indexed: a scan per reshape made import quadratic)."""
        return self._producer.get(ir_name)


    def _take_name(self, src, name, graph_outputs, renames):
        """Let the node producing IR value `src` write the ONNX output `name` directly (an output reached
        through Identity / Dropout / a no-op Reshape), when `src` is not itself an input or an output.
        Recorded in renames, which _apply_renames applies to every node in one pass (renaming node by
        node per output was quadratic in the number of outputs)."""
        if src in graph_outputs or src in self.declared_batch or self.producer_of(src) is None:
            return False
        renames[src] = name
        if src in self._producer:
            self._producer[name] = self._producer.pop(src)
        self._ir_value_shape[name] = self._ir_value_shape[src]
        return True

    def _apply_renames(self, renames):
        if not renames:
            return
        for n in self.nodes:
            n.inputs = [renames.get(v, v) for v in n.inputs]
            n.outputs = [renames.get(v, v) for v in n.outputs]
        for k, v in self.ir.items():
            if v in renames:
                self.ir[k] = renames[v]

    def rename(self, ir_name, onnx_name):
        """Give the last emitted node's output the ONNX value name (IR values keep ONNX names)."""
        n = self.nodes[-1]
        if n.outputs[0] == ir_name and onnx_name not in self._ir_value_shape:
            n.outputs[0] = onnx_name
            if self._producer.get(ir_name) is n:
                del self._producer[ir_name]
            self._producer[onnx_name] = n
            self._ir_value_shape[onnx_name] = self._ir_value_shape[ir_name]
            self.names.add(onnx_name)
            ir_name = onnx_name
        self.set_act(onnx_name, ir_name)


_HANDLERS = {}
for _family in (act, conv, glue, norm, pool, resize, shape, slicing, symbolic, logic, einsum, control):
    _HANDLERS.update(_family.HANDLERS)
# the ONNX names the op table lists are a promise: each has a handler
assert not {t for row in OPS.values() for t in row.onnx} - set(_HANDLERS), "an op table ONNX name has no handler"
# ops that only ever see constants (folded by evaluating them) are accepted too
for _k in ("Gather", "Slice", "Range", "Equal", "Where", "Floor", "Ceil", "Sqrt", "Pow", "Neg", "Abs",
           "Max", "Min", "ReduceProd", "ReduceSum", "Not", "And", "Or", "Less", "Greater", "Exp", "Log",
           "Reciprocal", "NonZero", "Tile", "Split", "CastLike", "Round", "Sign", "ScatterND", "Trilu",
           "ReduceMin", "ArgMax", "ArgMin", "Mod", "Erf", "Sin", "Cos", "IsNaN", "IsInf", "CumSum"):
    _HANDLERS.setdefault(_k, None)


def _const_only(c, node, attrs):
    raise Unsupported("op %s on activations" % node.op_type)


for _k, _v in list(_HANDLERS.items()):
    if _v is None:
        _HANDLERS[_k] = _const_only


SPATIAL_PROBE = 224   # the size a dynamic H / W is converted at by onnx_to_graph(m) (ImageNet's)


def onnx_to_graph(model_or_path, max_tensor_bytes=DEFAULT_MAX_TENSOR_BYTES, external_data_dir=None, spatial=None):
    """ONNX model (path, bytes or onnx.ModelProto) -> fastnorm Graph with graph.notes; constant folding
    computes no tensor over max_tensor_bytes; external data as parse.read_model.

    Inputs whose spatial dims are dynamic (exported with dynamic_axes on H and W) are converted at the
    shape spatial[input name] gives (N, C, H, W; the batch entry is ignored), by default at
    SPATIAL_PROBE; graph.dynamic_dims = {input name: dynamic axes} ({} when every size is fixed)."""
    m, where = read_model(model_or_path, external_data_dir)
    try:
        if not m.HasField("graph") or (not m.graph.node and not m.graph.output):
            raise FormatError("%s: not an ONNX model (no graph)" % where)
        notes = []
        opset = default_opset(m)
        if opset > NEWEST_OPSET:
            raise UnsupportedError("%s: opset %d is newer than fastnorm's ONNX frontend knows (up to %d); "
                                   "upgrade fastnorm" % (where, opset, NEWEST_OPSET))
        used = set()
        for n in m.graph.node:
            used.update(v for v in n.input if v)
            used.update(control.subgraph_reads(n))
        used.update(o.name for o in m.graph.output)
        for fixed in (False, True):
            conv = _Converter(m, fixed, max_tensor_bytes, spatial)
            conv._used = used
            try:
                graph = conv.run()
            except Restart:
                continue
            except (FormatError, UnsupportedError) as e:
                if spatial is None and conv.dynamic_dims:
                    # a valid file may only fit one size (a Linear head after Flatten): say that the size
                    # was fastnorm's guess, and how to give the right one
                    names = ", ".join("%r: (N, C, H, W)" % k for k in conv.dynamic_dims)
                    raise UnsupportedError(
                        "%s: its input's height and width are dynamic and fastnorm converts it at load at "
                        "%dx%d, where it does not fit: %s. If the model runs at one size only, load it "
                        "with input_shapes={%s} (or export it with fixed sizes)"
                        % (where, SPATIAL_PROBE, SPATIAL_PROBE, e, names)) from None
                raise
            graph.notes = notes + graph.notes
            return graph
        raise UnsupportedError("%s: could not convert" % where)  # pragma: no cover
    except (FormatError, UnsupportedError) as e:
        if where not in str(e):
            raise type(e)("%s: %s" % (where, e)) from None
        raise
