"""PyTorch frontend: trace an nn.Module with torch.fx and map it onto fastnorm's canonical ops.

Inference always uses eval semantics: BatchNorm normalises with its running statistics, Dropout is
the identity. A module left in training mode is traced on an eval-mode copy, with a warning; the
caller's module is never changed.
"""
import copy
import operator
import warnings

import numpy as np

from fastnorm.errors import UnsupportedError
from fastnorm.graph import Graph, Node, TensorSpec


def _np(t):
    return t.detach().cpu().numpy().astype(np.float32, copy=True)


def _pair(v):
    return [int(v), int(v)] if isinstance(v, int) else [int(e) for e in v]


class _Builder:
    def __init__(self, torch, gm):
        self.torch = torch
        self.gm = gm
        self.nodes, self.weights, self.problems = [], {}, []
        self.value = {}   # fx node -> value name
        self.shape = {}   # value name -> tuple

    def weight(self, name, tensor):
        if tensor is None:
            return ""
        self.weights[name] = _np(tensor)
        return name

    def add(self, fx, op, inputs, attrs=None):
        out = fx.name
        self.nodes.append(Node(fx.name, op, inputs, [out], attrs or {}))
        self.value[fx] = out

    def alias(self, fx, src):
        self.value[fx] = self.value[src]

    # ---------------------------------------------------------------- modules
    def module(self, fx, m):
        nn = self.torch.nn
        x = fx.args[0] if fx.args else None
        xin = self.value.get(x)
        if isinstance(m, nn.Conv2d):
            if m.padding_mode != "zeros":
                return self.fail(fx, "Conv2d padding_mode=%r" % m.padding_mode)
            kh, kw = m.kernel_size
            dil = _pair(m.dilation)
            if isinstance(m.padding, str):
                if m.padding == "valid":
                    pad = [0, 0, 0, 0]
                else:  # 'same', stride 1: extra padding goes bottom/right, as torch
                    th, tw = dil[0] * (kh - 1), dil[1] * (kw - 1)
                    pad = [th // 2, tw // 2, th - th // 2, tw - tw // 2]
            else:
                ph, pw = _pair(m.padding)
                pad = [ph, pw, ph, pw]
            self.add(fx, "conv2d", [xin, self.weight(fx.target + ".weight", m.weight),
                                    self.weight(fx.target + ".bias", m.bias)],
                     {"stride": _pair(m.stride), "padding": pad, "dilation": dil, "groups": int(m.groups)})
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            if not m.track_running_stats or m.running_mean is None:
                return self.fail(fx, "%s with track_running_stats=False" % type(m).__name__)
            self.add(fx, "batch_norm", [xin, self.weight(fx.target + ".running_mean", m.running_mean),
                                        self.weight(fx.target + ".running_var", m.running_var),
                                        self.weight(fx.target + ".weight", m.weight),
                                        self.weight(fx.target + ".bias", m.bias)],
                     {"eps": float(m.eps)})
        elif isinstance(m, nn.Linear):
            self.add(fx, "linear", [xin, self.weight(fx.target + ".weight", m.weight),
                                    self.weight(fx.target + ".bias", m.bias)])
        elif isinstance(m, nn.ReLU):
            self.add(fx, "relu", [xin])
        elif isinstance(m, nn.ReLU6):
            self.add(fx, "clamp", [xin], {"min": 0.0, "max": 6.0})
        elif isinstance(m, nn.Hardtanh):
            self.add(fx, "clamp", [xin], {"min": float(m.min_val), "max": float(m.max_val)})
        elif isinstance(m, nn.MaxPool2d):
            if m.return_indices:
                return self.fail(fx, "MaxPool2d(return_indices=True)")
            k = _pair(m.kernel_size)
            self.add(fx, "max_pool2d", [xin], {
                "kernel": k, "stride": _pair(m.stride) if m.stride else k, "padding": _pair(m.padding),
                "dilation": _pair(m.dilation), "ceil_mode": bool(m.ceil_mode)})
        elif isinstance(m, nn.Flatten):
            self.add(fx, "flatten", [xin], {"start_dim": int(m.start_dim), "end_dim": int(m.end_dim)})
        elif isinstance(m, (nn.Dropout, nn.Dropout2d, nn.Dropout1d, nn.AlphaDropout, nn.Identity)):
            self.alias(fx, x)
        else:
            self.fail(fx, "module %s" % type(m).__name__)

    # ---------------------------------------------------------------- functions and methods
    def function(self, fx):
        torch, F = self.torch, self.torch.nn.functional
        t = fx.target
        x = fx.args[0] if fx.args else None
        if t in (F.relu, torch.relu) or (fx.op == "call_method" and t == "relu"):
            self.add(fx, "relu", [self.value[x]])
        elif t in (torch.flatten,) or (fx.op == "call_method" and t == "flatten"):
            start = fx.args[1] if len(fx.args) > 1 else fx.kwargs.get("start_dim", 0)
            end = fx.args[2] if len(fx.args) > 2 else fx.kwargs.get("end_dim", -1)
            self.add(fx, "flatten", [self.value[x]], {"start_dim": int(start), "end_dim": int(end)})
        elif fx.op == "call_method" and t in ("view", "reshape"):
            self.reshape(fx, x)
        elif fx.op == "call_method" and t == "size" or t is getattr:
            self.value[fx] = None  # symbolic sizes only feed view/reshape, resolved from shapes
        elif t in (F.dropout, F.dropout2d) or (fx.op == "call_method" and t in ("contiguous",)):
            self.alias(fx, x)
        elif t is torch.nn.functional.max_pool2d:
            self.fail(fx, "F.max_pool2d (use nn.MaxPool2d)")
        elif t is operator.getitem:
            self.fail(fx, "indexing")
        else:
            name = getattr(t, "__name__", str(t))
            self.fail(fx, "%s %s" % ("method" if fx.op == "call_method" else "function", name))

    def reshape(self, fx, x):
        src = self.shape_of(x)
        dst = self.shape_of(fx)
        if src is None or dst is None:
            return self.fail(fx, "view/reshape with unknown shapes")
        if len(dst) == 2 and dst[0] == src[0]:
            self.add(fx, "flatten", [self.value[x]], {"start_dim": 1, "end_dim": -1})
        else:
            self.fail(fx, "view/reshape %s -> %s (only flattening after the batch dim is supported)"
                      % (tuple(src), tuple(dst)))

    def shape_of(self, fx):
        meta = fx.meta.get("tensor_meta")
        return tuple(meta.shape) if meta is not None else None

    def fail(self, fx, what):
        self.problems.append("node %r: %s" % (fx.name, what))
        self.value[fx] = fx.name


def from_torch(module, example_input, input_name="input", output_name="output"):
    """Trace `module` (an nn.Module) on `example_input` and return a fastnorm Model."""
    try:
        import torch
        import torch.fx
        from torch.fx.passes.shape_prop import ShapeProp
    except ImportError as e:  # pragma: no cover - exercised only without torch
        raise ImportError("fastnorm.from_torch needs PyTorch: pip install torch") from e
    from fastnorm.model import Model

    if not isinstance(module, torch.nn.Module):
        raise TypeError("from_torch: expected a torch.nn.Module, got %s" % type(module).__name__)
    if isinstance(example_input, np.ndarray):
        example_input = torch.from_numpy(np.ascontiguousarray(example_input, np.float32))
    if not isinstance(example_input, torch.Tensor):
        raise TypeError("from_torch: example_input must be a torch.Tensor or NumPy array, got %s"
                        % type(example_input).__name__)
    if module.training:
        warnings.warn("from_torch: the module is in training mode; it is exported with eval semantics "
                      "(BatchNorm uses its running statistics, Dropout is off), as inference always does. "
                      "Call module.eval() to silence this.", UserWarning, stacklevel=3)
    m = copy.deepcopy(module).eval()
    gm = torch.fx.symbolic_trace(m)
    with torch.no_grad():
        ShapeProp(gm).propagate(example_input.to(torch.float32))
    b = _Builder(torch, gm)
    inputs, outputs = [], []
    for fx in gm.graph.nodes:
        if fx.op == "placeholder":
            if inputs:
                b.problems.append("input %r: only single-input models are supported" % fx.name)
            shape = b.shape_of(fx)
            inputs.append(TensorSpec(input_name, (None,) + tuple(int(d) for d in shape[1:])))
            b.value[fx] = input_name
        elif fx.op == "call_module":
            b.module(fx, gm.get_submodule(fx.target))
        elif fx.op in ("call_function", "call_method"):
            b.function(fx)
        elif fx.op == "get_attr":
            b.fail(fx, "parameter used directly (%s)" % fx.target)
        elif fx.op == "output":
            res = fx.args[0]
            if not isinstance(res, torch.fx.Node):
                b.problems.append("output: only a single tensor output is supported")
                continue
            shape = b.shape_of(res)
            outputs.append((res, shape))
    if b.problems:
        raise UnsupportedError("from_torch: %d unsupported construct(s): %s"
                               % (len(b.problems), "; ".join(b.problems)))
    # name the output value
    res, shape = outputs[0]
    last = b.value[res]
    if last == input_name:
        raise UnsupportedError("from_torch: the model computes nothing (output is the input)")
    for n in b.nodes:
        n.outputs = [output_name if v == last else v for v in n.outputs]
        n.inputs = [output_name if v == last else v for v in n.inputs]
    graph = Graph(inputs, [TensorSpec(output_name, (None,) + tuple(int(d) for d in shape[1:]))],
                  b.nodes, b.weights)
    return Model(graph)
