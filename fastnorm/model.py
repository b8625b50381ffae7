"""Model: a loaded graph, its optimised form, and the C plans that run it (one per input shape)."""
import _thread   # a lock without threading's import (0.6 ms of `import fastnorm`): threading.Lock is this one

import numpy as np

from fastnorm import _C, doctor, fileformat, limits, threads
from fastnorm.errors import UnsupportedError
from fastnorm.graph import Graph, count_macs, infer_shapes
from fastnorm.ops._common import check_plain, readable_f32
from fastnorm.passes import optimize as optimize_graph
from fastnorm.passes.fold_bn import finish_fold_report
from fastnorm.plan import LOWER, Plan, WeightCache
from fastnorm.threads import get_num_threads


class Model:
    """A model ready to run. Build one with fastnorm.from_torch or fastnorm.load.

    predict/run accept float32 NCHW arrays of any batch size; float16/float64 inputs are converted to
    float32 and non-contiguous ones copied. They are safe to call from several threads at once.
    """

    def __init__(self, graph, optimize=True, num_threads=None, max_tensor_bytes=limits.DEFAULT_MAX_TENSOR_BYTES,
                 _prepacked=None, _checked_shapes=None):
        self.num_threads = num_threads
        # _checked_shapes: limits.check_graph(graph, max_tensor_bytes) when the caller (api._fnm_model)
        # ran it and graph.check() already; its result is the graph's shapes at batch 1, which the passes
        # fold at
        shapes = _checked_shapes
        if shapes is None:
            graph.check()
            shapes = limits.check_graph(graph, max_tensor_bytes)
        self.source_graph = graph
        self.graph = optimize_graph(graph, shapes, _defer_report=True) if optimize else graph.copy()
        missing = sorted({"%s (node %r)" % (n.op, n.name) for n in self.graph.nodes if n.op not in LOWER})
        if missing:
            raise UnsupportedError("no kernel in this version for: " + ", ".join(missing))
        self.optimized = optimize
        self._plans = {}
        self._fast = None  # (input shape, ISA, plan or split runner, threads) of the last predict
        # outputs whose values are bool / integer (ONNX comparisons, ArgMax): computed as float32,
        # converted on the way out
        self._out_dtype = {t.name: np.dtype(t.dtype) for t in self.graph.outputs if t.dtype != "float32"}
        self._splits = {}  # (shape, ISA, threads, split mode) -> split.SplitRunner or None
        self._lock = _thread.allocate_lock()
        self._weights = WeightCache()
        if _prepacked is not None:     # a .fnm file's packed weights (fastnorm.prepack), when they fit
            from fastnorm import prepack
            prepack.seed(self, _prepacked)
        # scratch for the thread count predict would use (not _nthreads: that marks the pool started)
        try:
            limits.check_plan(self, max_tensor_bytes).ready_arena(self._num_threads or get_num_threads())
        finally:
            # after the first plan: its packers' BN folds gave the fold report's errors on the way
            # (fastnorm.passes.optimize)
            finish_fold_report(self.graph)
        self._findings = doctor.diagnose(graph, self.graph)
        doctor.warn(self._findings)

    # ------------------------------------------------------------------------------ threads
    @property
    def num_threads(self):
        """Threads this model's predicts use; None (the default) follows fastnorm.get_num_threads()."""
        return self._num_threads

    @num_threads.setter
    def num_threads(self, n):
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ValueError("num_threads: expected an int >= 1 or None, got %r" % (n,))
        self._num_threads = n

    def _nthreads(self):
        n = self._num_threads or get_num_threads()
        return n if n <= threads.cap else threads.capped(n)   # threadpoolctl limit, fork safety

    # ------------------------------------------------------------------------------ introspection
    @property
    def inputs(self):
        return list(self.graph.inputs)

    @property
    def outputs(self):
        return list(self.graph.outputs)

    def doctor(self):
        """The doctor's findings (fastnorm.doctor.Finding: severity, code, node, message, fix), errors
        first. Those of severity warning/error were also emitted as FastnormWarning at construction."""
        return list(self._findings)

    def summary(self, batch=1):
        """The optimised graph: fused ops, output shapes, MACs and parameters, arena memory."""
        shapes = self._example_shapes(batch)
        plan = self._plan({k: v for k, v in shapes.items() if k in {t.name for t in self.graph.inputs}})
        lines = ["fastnorm model: %d ops after optimisation (%d in the source graph), ISA %s"
                 % (len(self.graph.nodes), len(self.source_graph.nodes),
                    _C.ISA_NAMES[_C.resolve_isa(-1)])]
        rows = [("node", "op", "fused", "output shape", "MACs", "params")]
        all_shapes = infer_shapes(self.graph, {t.name: shapes[t.name] for t in self.graph.inputs})
        source_ops = {n.name: n.op for n in self.source_graph.nodes}
        for n in self.graph.nodes:
            fused = []
            if n.attrs.get("folded"):  # batch norms (fold_bn) and layer scales (fold_scale)
                bns = [f for f in n.attrs["folded"] if source_ops.get(f) == "batch_norm"]
                scales = [f for f in n.attrs["folded"] if f not in bns]
                fused += ["BN folded: " + ", ".join(bns)] if bns else []
                fused += ["scale folded: " + ", ".join(scales)] if scales else []
            if n.attrs.get("residual"):
                fused.append("+residual " + n.inputs[3])
            if n.attrs.get("act"):
                fused.append("+" + n.attrs["act"][0])
            macs = count_macs(Graph(self.graph.inputs, [], [n], self.graph.weights), all_shapes)
            params = sum(self.graph.weights[v].size for v in n.inputs if v in self.graph.weights)
            rows.append((n.name, n.op, "; ".join(fused) or "-", str(list(all_shapes[n.outputs[0]])),
                         "{:,}".format(macs), "{:,}".format(params)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        lines += self.batchnorm_report()
        lines.append("batch %d: %s MACs, %s parameters, arena %.1f KiB"
                     % (batch, "{:,}".format(count_macs(self.graph, all_shapes)),
                        "{:,}".format(sum(w.size for w in self.graph.weights.values())),
                        plan.arena_floats * 4 / 1024))
        return "\n".join(lines)

    def batchnorm_report(self):
        """The summary's BatchNorm section: what each source BN became, and the largest fold error."""
        fates = doctor.bn_fates(self.source_graph, self.graph)
        folded = [f["bn"] for f in fates if f["fate"] == "folded"]
        left = [f["bn"] for f in fates if f["fate"] == "standalone"]
        lines = ["BatchNorm: %d folded into the layer before; %d standalone" % (len(folded), len(left))]
        for f in fates:
            if f["fate"] == "folded":
                err = f["max_abs_error"]
                what = "folded into %s%s" % (f["into"], "" if err is None else ", error %.2g" % err)
            elif f["fate"] == "fused":
                what = "fused into %s" % f["into"]
            elif f["fate"] == "standalone":
                what = "standalone %s%s" % (f["into"], " (%s)" % f["reason"] if f["reason"] else "")
            else:
                what = "removed"
            lines.append("  %s -> %s" % (f["bn"], what))
        errs = [f for f in fates if f["max_abs_error"] is not None and np.isfinite(f["max_abs_error"])]
        if errs:
            worst = max(errs, key=lambda f: f["max_abs_error"])
            lines.append("  largest fold error %.2g (%s): what float32 rounding of the folded weights can change "
                         "an output by, per unit input" % (worst["max_abs_error"], worst["bn"]))
        return lines

    def _example_shapes(self, batch):
        return {t.name: tuple(batch if d is None else d for d in t.shape) for t in self.graph.inputs}

    # ------------------------------------------------------------------------------ running
    def _check_feed(self, spec, x):
        name = spec.name
        if not isinstance(x, np.ndarray):
            raise TypeError("input %r: expected a NumPy array, got %s" % (name, type(x).__name__))
        check_plain(x, "input %r" % name)
        if x.dtype.kind != "f":
            raise TypeError("input %r: expected a float32 array, got dtype %s" % (name, x.dtype))
        if x.ndim != len(spec.shape):
            raise ValueError("input %r: expected %dD with shape %s, got %dD with shape %s"
                             % (name, len(spec.shape), _fmt_shape(spec.shape), x.ndim, x.shape))
        for i, (want, got) in enumerate(zip(spec.shape, x.shape)):
            if want is not None and want != got:
                raise ValueError("input %r: expected shape %s, got %s (dimension %d: expected %d, got %d)"
                                 % (name, _fmt_shape(spec.shape), x.shape, i, want, got))
        return readable_f32(x)

    def _plan(self, shapes):
        isa = _C.resolve_isa(-1)
        key = (tuple(sorted(shapes.items())), isa)
        plan = self._plans.get(key)
        if plan is None:
            with self._lock:
                plan = self._plans.get(key)
                if plan is None:
                    plan = self._plans[key] = Plan(self.graph, dict(shapes), isa, self._weights)
        return plan

    def run(self, feeds):
        """Every output, by name: {output name: array}."""
        if not isinstance(feeds, dict):
            raise TypeError("run: expected a dict {input name: array}, got %s" % type(feeds).__name__)
        names = [t.name for t in self.graph.inputs]
        missing = [n for n in names if n not in feeds]
        known = set(names)
        unknown = [n for n in feeds if n not in known]
        if missing or unknown:
            raise ValueError("run: inputs %s expected; missing %s, unknown %s" % (names, missing, unknown))
        arrays = {t.name: self._check_feed(t, feeds[t.name]) for t in self.graph.inputs}
        shapes = {k: v.shape for k, v in arrays.items()}
        if any(0 in s for s in shapes.values()):
            out = infer_shapes(self.graph, shapes)
            return {t.name: np.empty(out[t.name], np.dtype(t.dtype)) for t in self.graph.outputs}
        outs = self._plan(shapes).run(arrays, self._nthreads())
        return {k: self._typed(k, v) for k, v in outs.items()} if self._out_dtype else outs

    def predict(self, x):
        """The first output for the one input x (NumPy, NCHW)."""
        # Fast path: the same input shape, dtype and ISA as the previous call (a tuple swapped whole,
        # so concurrent callers see either the old or the new one, both valid).
        fast = self._fast
        if (fast is not None and type(x) is np.ndarray and x.shape == fast[0] and x.dtype == np.float32
                and x.flags.c_contiguous and x.flags.aligned and _C.resolve_isa(-1) == fast[1]):
            nthreads = self._nthreads()
            if nthreads == fast[3]:
                y = fast[2].run1(x, nthreads)
                return y if not self._out_dtype else self._typed(self.graph.outputs[0].name, y)
        if len(self.graph.inputs) != 1:
            raise ValueError("predict: the model has %d inputs %s; use run({name: array})"
                             % (len(self.graph.inputs), [t.name for t in self.graph.inputs]))
        spec = self.graph.inputs[0]
        arr = self._check_feed(spec, x)
        if 0 in arr.shape or len(self.graph.outputs) != 1:
            return self.run({spec.name: x})[self.graph.outputs[0].name]
        plan = self._plan({spec.name: arr.shape})
        if plan.single_io is None:
            return self.run({spec.name: x})[self.graph.outputs[0].name]
        nthreads = self._nthreads()
        runner = self._split_runner(plan, arr.shape, nthreads) or plan
        self._fast = (arr.shape, plan.isa, runner, nthreads)
        return self._typed(self.graph.outputs[0].name, runner.run1(arr, nthreads))

    def _typed(self, name, y):
        """Output `name` in its dtype: a bool / integer output's float32 values converted."""
        dt = self._out_dtype.get(name)
        return y if dt is None else y.astype(dt)

    def _split_runner(self, plan, shape, nthreads):
        """The batch split among threads for plan (fastnorm.plan.split), built once per (shape, ISA,
        threads, FASTNORM_BATCH_SPLIT), or None where it does not apply."""
        if nthreads < 2 or shape[0] < 2:
            return None
        from fastnorm.plan import split
        key = (tuple(shape), plan.isa, nthreads, split.mode())
        try:
            return self._splits[key]
        except KeyError:
            pass
        with self._lock:
            if key not in self._splits:
                self._splits[key] = split.runner(self.graph, plan, shape, nthreads, self._weights)
            return self._splits[key]

    def profile(self, x, repeat=20):
        """Median time per plan step for input x: [(step, source nodes, seconds)], slowest first.

        A step is one C op record: a fused op is named after every source node it absorbed."""
        arrays = {self.graph.inputs[0].name: self._check_feed(self.graph.inputs[0], x)}
        plan = self._plan({k: v.shape for k, v in arrays.items()})
        nthreads = self._nthreads()
        runs = []
        for _ in range(max(1, repeat)):
            t = []
            plan.run(arrays, nthreads, timings=t)
            runs.append([s for _, s in t])
        med = np.median(np.array(runs), axis=0)
        rows = []
        for i, rec in enumerate(plan.records):
            node = plan.node_of_record[i]
            n = next((m for m in self.graph.nodes if m.name == node), None)
            sources = ([node] + list(n.attrs.get("folded", [])) + plan.absorbed_into.get(node, [])
                       if n is not None else [])
            if n is not None:
                extra = plan.absorbed_into.get(node, [])
                label = "+".join([n.op] + [m.op for m in self.graph.nodes if m.name in extra])
            else:
                label = _C.RECORDS.get(rec["type"], "?")
            rows.append((label, sources, float(med[i])))
        return sorted(rows, key=lambda r: -r[2])

    # ------------------------------------------------------------------------------ pickling
    def __reduce__(self):
        """Pickle as the .fnm bytes plus the settings: no code, no plans, no arenas (fastnorm._pickling)."""
        from fastnorm import _pickling
        return _pickling.reduce_model(self, rebuild_model)

    # ------------------------------------------------------------------------------ files
    def save(self, path, prepacked=False):
        """Write a .fnm file: safetensors container, the source graph as JSON metadata, no pickle.

        prepacked=True also stores the conv weights packed for the ISA in use (fastnorm.prepack), so
        that loading the file on that ISA skips packing them; elsewhere it packs as usual."""
        packed = None
        if prepacked:
            from fastnorm import prepack
            meta, tensors = prepack.collect(self)
            packed = (meta, tensors) if meta is not None else None
        fileformat.save(path, self.source_graph.to_dict(), self.source_graph.weights, packed)


def rebuild_model(fmt, data, optimized, num_threads):
    """Unpickle a Model (Model.__reduce__): parse the .fnm bytes and optimise the graph again."""
    from fastnorm import _pickling
    graph = _pickling.graph_from_bytes(fmt, data)
    return _pickling.quietly(lambda: Model(graph, optimize=optimized, num_threads=num_threads))


def _fmt_shape(shape):
    return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"
