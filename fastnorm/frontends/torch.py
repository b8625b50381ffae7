"""PyTorch frontend: trace an nn.Module with torch.fx and map it onto fastnorm's canonical ops.

Inference always uses eval semantics: BatchNorm normalises with its running statistics, Dropout is
the identity. A module left in training mode is traced on an eval-mode copy, with a warning; the
caller's module is never changed.
"""
import copy
import math
import operator
import warnings

import numpy as np

from fastnorm.errors import UnsupportedError
from fastnorm.graph import Graph, Node, TensorSpec
from fastnorm.optable import ACTIVATION, OPS


def _np(t):
    return t.detach().cpu().numpy().astype(np.float32, copy=True)


def _triple(v):
    return [int(e) for e in v] if isinstance(v, (tuple, list)) else [int(v)] * 3


def _pair(v):
    return [int(v), int(v)] if isinstance(v, int) else [int(e) for e in v]


def _table_activations(torch):
    """The op table's activations with an ActKernel, by the torch objects they answer to:
    ({module class: row}, {function: row}, {method name: row})."""
    spaces = {"nn": torch.nn, "F": torch.nn.functional, "torch": torch}
    modules, functions, methods = {}, {}, {}
    for row in OPS.values():
        if row.category != ACTIVATION or row.weights or (row.act is None and row.attrs):
            continue  # prelu and clamp are mapped with code of their own
        for name in row.torch:
            space, _, attr = name.partition(".")
            if space == "Tensor":
                methods[attr] = row
            elif space in spaces and getattr(spaces[space], attr, None) is not None:
                (modules if space == "nn" else functions)[getattr(spaces[space], attr)] = row
    return modules, functions, methods


def _row_attrs(row, get):
    """A table activation's node attributes, get(name, default) reading each of its ActKernel.args."""
    if row.act is None:
        return {}
    return {a: type(d)(get(a, d)) for a, d in row.act.args}


# the zoos' binary ops (issue 12): torch callable / method name -> op (resolved in zoo_binary)
_ZOO_BINARY_METHODS = {"sub": "sub", "sub_": "sub", "rsub": "rsub", "div": "div", "div_": "div",
                       "truediv": "div", "maximum": "maximum", "minimum": "minimum",
                       "max": "max_or_maximum", "min": "min_or_minimum"}


def _zoo_binary_functions():
    import torch
    return {operator.sub: "sub", operator.isub: "sub", torch.sub: "sub", torch.rsub: "rsub",
            operator.truediv: "div", operator.itruediv: "div", torch.div: "div", torch.true_divide: "div",
            torch.maximum: "maximum", torch.minimum: "minimum", torch.max: "max_or_maximum",
            torch.min: "min_or_minimum"}


class _LazyMap(dict):
    """{torch function: op}, filled on first use (torch is imported only when a model is traced)."""
    def _fill(self):
        if not self:
            self.update(_zoo_binary_functions())

    def __contains__(self, k):
        self._fill()
        try:
            return dict.__contains__(self, k)
        except TypeError:  # unhashable targets
            return False

    def get(self, k, d=None):
        self._fill()
        return dict.get(self, k, d)


_ZOO_BINARY = _LazyMap()
_SIZE_ARITH = (operator.floordiv, operator.truediv, operator.mul, operator.add, operator.sub)


class _Builder:
    def __init__(self, torch, gm):
        self.torch = torch
        self.gm = gm
        self.nodes, self.weights, self.problems = [], {}, []
        self.value = {}   # fx node -> value name
        self.channels_last = {}  # fx node that is x.permute(0, 2, 3, 1) -> x's value name (NCHW)
        self.params, self.param_users = {}, set()  # get_attr fx node -> tensor; fx nodes reading them
        self.shape = {}   # value name -> tuple
        self.act_modules, self.act_functions, self.act_methods = _table_activations(torch)

    def weight(self, name, tensor, flat=False):
        if tensor is None:
            return ""
        self.weights[name] = _np(tensor).reshape(-1) if flat else _np(tensor)
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
        elif isinstance(m, nn.Conv3d):
            if m.padding_mode != "zeros" or isinstance(m.padding, str):
                return self.fail(fx, "Conv3d (zeros padding, numeric padding)")
            pd = [int(v) for v in m.padding]
            self.add(fx, "conv3d", [xin, self.weight(fx.target + ".weight", m.weight),
                                    self.weight(fx.target + ".bias", m.bias)],
                     {"stride": [int(v) for v in m.stride], "padding": pd + pd,
                      "dilation": [int(v) for v in m.dilation], "groups": int(m.groups)})
        elif isinstance(m, nn.ConvTranspose2d):
            self.conv_transpose_module(fx, m, xin)
        elif isinstance(m, nn.Conv1d):
            self.conv1d_module(fx, m, x)
        elif isinstance(m, (nn.MaxPool1d, nn.AvgPool1d)):
            self.pool1d_module(fx, m, x)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            p = fx.target
            if not m.track_running_stats or m.running_mean is None:
                # torch normalises with the batch's own statistics even in eval mode then
                self.add(fx, "batch_norm", [xin, "", "", self.weight(p + ".weight", m.weight),
                                            self.weight(p + ".bias", m.bias)],
                         {"eps": float(m.eps), "batch_stats": True})
            else:
                self.add(fx, "batch_norm", [xin, self.weight(p + ".running_mean", m.running_mean),
                                            self.weight(p + ".running_var", m.running_var),
                                            self.weight(p + ".weight", m.weight),
                                            self.weight(p + ".bias", m.bias)],
                         {"eps": float(m.eps)})
        elif isinstance(m, nn.LocalResponseNorm):
            self.lrn_module(fx, m, x)
        elif isinstance(m, nn.GroupNorm):
            self.add(fx, "group_norm", [xin, self.weight(fx.target + ".weight", m.weight),
                                        self.weight(fx.target + ".bias", m.bias)],
                     {"num_groups": int(m.num_groups), "eps": float(m.eps)})
        elif isinstance(m, nn.LayerNorm) and x in self.channels_last:
            self.layer_norm_channels(fx, x, m.normalized_shape, m.weight, getattr(m, "bias", None), m.eps,
                                     fx.target)
        elif isinstance(m, nn.LayerNorm):
            self.add(fx, "layer_norm", [xin, self.weight(fx.target + ".weight", m.weight, flat=True),
                                        self.weight(fx.target + ".bias", getattr(m, "bias", None), flat=True)],
                     {"normalized_ndim": len(m.normalized_shape), "eps": float(m.eps)})
        elif isinstance(m, nn.modules.instancenorm._InstanceNorm):
            p = fx.target
            running = m.track_running_stats and m.running_mean is not None
            self.add(fx, "instance_norm", [
                xin, self.weight(p + ".running_mean", m.running_mean) if running else "",
                self.weight(p + ".running_var", m.running_var) if running else "",
                self.weight(p + ".weight", m.weight), self.weight(p + ".bias", m.bias)],
                {"eps": float(m.eps), "use_input_stats": not running})
        elif isinstance(m, nn.Linear):
            self.add(fx, "linear", [xin, self.weight(fx.target + ".weight", m.weight),
                                    self.weight(fx.target + ".bias", m.bias)])
        elif isinstance(m, nn.ReLU6):
            self.add(fx, "clamp", [xin], {"min": 0.0, "max": 6.0})
        elif isinstance(m, nn.Hardtanh):
            self.add(fx, "clamp", [xin], {"min": float(m.min_val), "max": float(m.max_val)})
        elif type(m) in self.act_modules:
            row = self.act_modules[type(m)]
            self.add(fx, row.name, [xin], _row_attrs(row, lambda a, d: getattr(m, a)))
        elif isinstance(m, nn.PReLU):
            self.add(fx, "prelu", [xin, self.weight(fx.target + ".weight", m.weight)])
        elif isinstance(m, (nn.Softmax, nn.LogSoftmax)):
            if m.dim is None:
                return self.fail(fx, "%s without dim" % type(m).__name__)
            self.add(fx, "softmax" if isinstance(m, nn.Softmax) else "log_softmax", [xin], {"dim": int(m.dim)})
        elif isinstance(m, nn.MaxPool2d):
            if m.return_indices:
                return self.fail(fx, "MaxPool2d(return_indices=True)")
            k = _pair(m.kernel_size)
            self.add(fx, "max_pool2d", [xin], {
                "kernel": k, "stride": _pair(m.stride) if m.stride else k, "padding": _pair(m.padding),
                "dilation": _pair(m.dilation), "ceil_mode": bool(m.ceil_mode)})
        elif isinstance(m, nn.AvgPool2d):
            k = _pair(m.kernel_size)
            self.add(fx, "avg_pool2d", [xin], {
                "kernel": k, "stride": _pair(m.stride) if m.stride else k, "padding": _pair(m.padding),
                "ceil_mode": bool(m.ceil_mode), "count_include_pad": bool(m.count_include_pad),
                "divisor_override": m.divisor_override})
        elif isinstance(m, (nn.MaxPool3d, nn.AvgPool3d)):
            self.pool3d_module(fx, m, x)
        elif isinstance(m, nn.AdaptiveAvgPool3d) and _triple(m.output_size) == [1, 1, 1]:
            self.add(fx, "reduce_mean", [xin], {"axes": [2, 3, 4], "keepdim": True})
        elif isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            if getattr(m, "return_indices", False):
                return self.fail(fx, "AdaptiveMaxPool2d(return_indices=True)")
            self.adaptive(fx, "adaptive_avg_pool2d" if isinstance(m, nn.AdaptiveAvgPool2d)
                          else "adaptive_max_pool2d", x, m.output_size)
        elif isinstance(m, (nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d)):
            mode = ("reflect" if isinstance(m, nn.ReflectionPad2d) else
                    "replicate" if isinstance(m, nn.ReplicationPad2d) else "constant")
            self.add(fx, "pad", [xin], {"pads": [int(v) for v in m.padding], "mode": mode,
                                        "value": float(getattr(m, "value", 0.0))})
        elif isinstance(m, nn.Upsample):
            self.interpolate(fx, x, m.size, m.scale_factor, m.mode, m.align_corners,
                             getattr(m, "recompute_scale_factor", None))
        elif isinstance(m, (nn.PixelShuffle, nn.PixelUnshuffle)):
            if isinstance(m, nn.PixelShuffle):
                self.add(fx, "pixel_shuffle", [xin], {"factor": int(m.upscale_factor)})
            else:
                self.add(fx, "pixel_unshuffle", [xin], {"factor": int(m.downscale_factor)})
        elif isinstance(m, nn.ChannelShuffle):
            self.add(fx, "channel_shuffle", [xin], {"groups": int(m.groups)})
        elif isinstance(m, nn.Flatten):
            self.add(fx, "flatten", [xin], {"start_dim": int(m.start_dim), "end_dim": int(m.end_dim)})
        elif isinstance(m, (nn.Dropout, nn.Dropout2d, nn.Dropout1d, nn.AlphaDropout, nn.Identity)):
            self.alias(fx, x)
        else:
            self.fail(fx, "module %s" % type(m).__name__)

    def adaptive(self, fx, op, x, size):
        shape = self.shape_of(x)
        size = [size, size] if isinstance(size, int) else list(size)
        size = [shape[2 + i] if v is None else int(v) for i, v in enumerate(size)]
        self.add(fx, op, [self.value[x]], {"output_size": size})

    def interpolate(self, fx, x, size, scale_factor, mode, align_corners, recompute=None, antialias=False):
        if mode not in ("nearest", "nearest-exact", "bilinear"):
            return self.fail(fx, "interpolate mode %r" % mode)
        if antialias:
            return self.fail(fx, "interpolate with antialias=True")
        attrs = {"mode": mode, "align_corners": bool(align_corners) if align_corners is not None else None}
        if size is None and recompute:
            # the output size computed from the scale, then the scale from the sizes (torch's
            # recompute_scale_factor): the op with that size
            shape = self.shape_of(x)
            if shape is None or len(shape) != 4:
                return self.fail(fx, "interpolate with recompute_scale_factor on an input of unknown shape")
            sf = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
            size = [int(math.floor(float(shape[2 + i]) * float(sf[i]))) for i in range(2)]
        if size is not None:
            attrs["size"] = _pair(size)
        else:
            sf = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
            attrs["scale_factor"] = [float(v) for v in sf]
        self.add(fx, "interpolate", [self.value[x]], attrs)

    # ---------------------------------------------------------------- functions and methods
    def function(self, fx):
        torch, F = self.torch, self.torch.nn.functional
        t = fx.target
        method = fx.op == "call_method"
        args, kw = fx.args, fx.kwargs
        x = args[0] if args else None

        def arg(i, name, default=None):
            return args[i] if len(args) > i else kw.get(name, default)

        row = self.act_methods.get(t) if method else self.act_functions.get(t)
        nodes = [a for a in args if isinstance(a, torch.fx.Node)]
        if (not method and t in _SIZE_ARITH and nodes and all(self.value.get(a, "") is None for a in nodes)):
            self.value[fx] = None  # arithmetic on sizes (c // groups): only feeds view/reshape
        elif row is not None:
            names = [a for a, _ in row.act.args] if row.act is not None else []
            self.add(fx, row.name, [self.value[x]], _row_attrs(row, lambda a, d: arg(1 + names.index(a), a, d)))
        elif t in (F.relu6,):
            self.add(fx, "clamp", [self.value[x]], {"min": 0.0, "max": 6.0})
        elif t in (F.hardtanh,):
            self.add(fx, "clamp", [self.value[x]], {"min": float(arg(1, "min_val", -1.0)),
                                                     "max": float(arg(2, "max_val", 1.0))})
        elif t in (torch.clamp,) or (method and t in ("clamp", "clip")):
            lo, hi = arg(1, "min"), arg(2, "max")
            self.add(fx, "clamp", [self.value[x]], {"min": None if lo is None else float(lo),
                                                     "max": None if hi is None else float(hi)})
        elif t in (F.softmax, torch.softmax, F.log_softmax, torch.log_softmax) or (
                method and t in ("softmax", "log_softmax")):
            dim = arg(1, "dim")
            if dim is None:
                return self.fail(fx, "softmax without dim")
            name = t if method else ("softmax" if t in (F.softmax, torch.softmax) else "log_softmax")
            self.add(fx, name, [self.value[x]], {"dim": int(dim)})
        elif (t in (torch.add, torch.sub) or (method and t in ("add", "add_", "sub", "sub_"))) and \
                arg(2, "alpha", 1) != 1:
            self.fail(fx, "%s with alpha=%r" % (getattr(t, "__name__", t), arg(2, "alpha", 1)))
        elif t in (operator.add, operator.iadd, torch.add) or (method and t in ("add", "add_")):
            self.binary(fx, "add", args[0], args[1])
        elif t in (operator.mul, operator.imul, torch.mul) or (method and t in ("mul", "mul_")):
            self.binary(fx, "mul", args[0], args[1])
        elif t in _ZOO_BINARY or (method and t in _ZOO_BINARY_METHODS):
            self.zoo_binary(fx, t, method, args, kw)
        elif (t in (torch.matmul, torch.bmm, operator.matmul) or (method and t in ("matmul", "bmm"))) and \
                len(args) == 2 and all(isinstance(v, torch.fx.Node) and v.op != "get_attr" and v in self.value for v in args):
            # two activations (attention's q @ k^T, attn @ v); a parameter operand is a linear layer
            sa, sb = self.shape_of(args[0]), self.shape_of(args[1])
            if sa is None or sb is None or len(sa) < 2 or len(sb) < 2:
                return self.fail(fx, "matmul of operands with unknown shapes or under 2 dims")
            self.add(fx, "matmul", [self.value[args[0]], self.value[args[1]]])
        elif t is operator.getitem:
            self.getitem(fx, x, args[1])
        elif t in (torch.split, torch.chunk) or (method and t in ("split", "chunk")):
            self.split(fx, x, arg(2, "dim", 0))
        elif t is torch.narrow or (method and t == "narrow"):
            dim, start, length = arg(1, "dim"), arg(2, "start"), arg(3, "length")
            self.add(fx, "slice", [self.value[x]], {"dim": int(dim), "start": int(start),
                                                    "end": int(start) + int(length), "step": 1})
        elif t in (torch.sum, torch.amax) or (method and t in ("sum", "amax")):
            name = t if method else t.__name__
            self.reduce(fx, x, "reduce_sum" if name == "sum" else "reduce_max", arg(1, "dim"), arg(2, "keepdim", False))
        elif t in (torch.squeeze, torch.unsqueeze) or (method and t in ("squeeze", "unsqueeze")):
            self.reshape(fx, x)
        elif t is torch.transpose or (method and t == "transpose"):
            nd = len(self.shape_of(x) or ())
            d0, d1 = int(arg(1, "dim0")) % max(nd, 1), int(arg(2, "dim1")) % max(nd, 1)
            perm = list(range(nd))
            perm[d0], perm[d1] = perm[d1], perm[d0]
            self.permute(fx, x, tuple(perm))
        elif t is torch.stack:
            self.stack(fx, arg(0, "tensors"), int(arg(1, "dim", 0)))
        elif t in (torch.cat, torch.concat):
            xs = arg(0, "tensors")
            names = self.value.get(xs) if isinstance(xs, torch.fx.Node) else [self.value[v] for v in xs]
            if not isinstance(names, list):
                return self.fail(fx, "cat of a %s" % type(xs).__name__)
            self.add(fx, "cat", names, {"dim": int(arg(1, "dim", 0))})
        elif t in (torch.flatten,) or (method and t == "flatten"):
            self.add(fx, "flatten", [self.value[x]], {"start_dim": int(arg(1, "start_dim", 0)),
                                                       "end_dim": int(arg(2, "end_dim", -1))})
        elif method and t in ("view", "reshape"):
            self.reshape(fx, x)
        elif t is torch.mean or (method and t == "mean"):
            self.mean(fx, x, arg(1, "dim"), arg(2, "keepdim", False))
        elif t is F.adaptive_avg_pool2d or t is F.adaptive_max_pool2d:
            self.adaptive(fx, "adaptive_avg_pool2d" if t is F.adaptive_avg_pool2d else "adaptive_max_pool2d",
                          x, arg(1, "output_size"))
        elif t is F.conv_transpose2d:
            self.conv_transpose_function(fx, arg)
        elif t is F.interpolate:
            self.interpolate(fx, x, arg(1, "size"), arg(2, "scale_factor"), arg(3, "mode", "nearest"),
                             arg(4, "align_corners"), arg(5, "recompute_scale_factor"), arg(6, "antialias", False))
        elif t is torch.permute or (method and t == "permute"):
            dims = args[1:] if method else (arg(1, "dims"),)
            if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
                dims = dims[0]
            self.permute(fx, x, tuple(int(d) for d in dims))
        elif t is F.layer_norm and x in self.channels_last:
            names = {"weight": arg(2, "weight"), "bias": arg(3, "bias")}
            if any(v is not None and not (isinstance(v, self.torch.fx.Node) and v.op == "get_attr")
                   for v in names.values()):
                return self.fail(fx, "layer_norm over channels with computed weight/bias")
            w, b = (None if v is None else self.gm.get_parameter(v.target) for v in names.values())
            self.layer_norm_channels(fx, x, arg(1, "normalized_shape"), w, b, arg(4, "eps", 1e-5), fx.name)
        elif (method and t == "size") or t is getattr:
            self.value[fx] = None  # symbolic sizes only feed view/reshape, resolved from shapes
        elif method and t in ("expand_as", "expand"):
            # only where every reader broadcasts anyway (SE / ECA: x * y.expand_as(x)), its other operand
            # alone bringing the shape back (a scalar, or an operand as small, would not)
            from fastnorm.frontends.torch_export.aten import broadcast_dims
            src, out = self.shape_of(x), self.shape_of(fx)

            def restores(u):
                others = [a for a in u.args[:2] if a is not fx]
                if len(others) != 1 or not isinstance(others[0], self.torch.fx.Node):
                    return False
                o = self.shape_of(others[0])
                return src is not None and o is not None and broadcast_dims(tuple(src), tuple(o)) == tuple(out)

            if not fx.users or not all((u.op == "call_function" and u.target in (operator.mul, operator.add, torch.mul,
                                                                              torch.add)
                                        or (u.op == "call_method" and u.target in ("mul", "add"))) and restores(u)
                                       for u in fx.users):
                return self.fail(fx, "%s read by anything but a broadcasting add/mul with a full-size operand" % t)
            self.alias(fx, x)
        elif t in (F.dropout, F.dropout2d) or (method and t in ("contiguous",)):
            self.alias(fx, x)
        else:
            name = getattr(t, "__name__", str(t))
            self.fail(fx, "%s %s" % ("method" if method else "function", name))

    def conv_transpose_module(self, fx, m, xin):
        if m.padding_mode != "zeros":
            return self.fail(fx, "ConvTranspose2d padding_mode=%r" % m.padding_mode)
        op = _pair(m.output_padding)
        if len(fx.args) > 1 or fx.kwargs.get("output_size") is not None:
            # output_size at call time picks output_padding; the traced output shape holds the pick
            op = self.implied_output_padding(fx, m.weight.shape, m.stride, m.padding, m.dilation)
            if op is None:
                return self.fail(fx, "ConvTranspose2d output_size with an unknown output shape")
        self.add(fx, "conv_transpose2d", [xin, self.weight(fx.target + ".weight", m.weight),
                                          self.weight(fx.target + ".bias", m.bias)],
                 self.conv_transpose_attrs(m.stride, m.padding, op, m.dilation, m.groups))

    def conv_transpose_function(self, fx, arg):
        """F.conv_transpose2d(x, self.weight, self.bias, ...): weight and bias must be parameters."""
        x = self.value.get(arg(0, "input"))
        tensors = []
        for i, name in ((1, "weight"), (2, "bias")):
            v = arg(i, name)
            if v is None and name == "bias":
                tensors.append("")
                continue
            if v not in self.params:
                return self.fail(fx, "F.conv_transpose2d with a computed %s (only module parameters)" % name)
            self.param_users.add(fx)
            tensors.append(self.weight(v.target, self.params[v]))
        stride, padding, op = arg(3, "stride", 1), arg(4, "padding", 0), arg(5, "output_padding", 0)
        groups, dilation = arg(6, "groups", 1), arg(7, "dilation", 1)
        if isinstance(padding, str):
            return self.fail(fx, "F.conv_transpose2d padding=%r" % padding)
        self.add(fx, "conv_transpose2d", [x] + tensors,
                 self.conv_transpose_attrs(stride, padding, op, dilation, groups))

    def conv_transpose_attrs(self, stride, padding, output_padding, dilation, groups):
        ph, pw = _pair(padding)
        return {"stride": _pair(stride), "padding": [ph, pw, ph, pw], "output_padding": _pair(output_padding),
                "dilation": _pair(dilation), "groups": int(groups)}

    def implied_output_padding(self, fx, wshape, stride, padding, dilation):
        src, out = self.shape_of(fx.args[0]), self.shape_of(fx)
        if src is None or out is None:
            return None
        (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
        base_h = (src[2] - 1) * sh - 2 * ph + dh * (wshape[2] - 1) + 1
        base_w = (src[3] - 1) * sw - 2 * pw + dw * (wshape[3] - 1) + 1
        return [int(out[2]) - base_h, int(out[3]) - base_w]

    def get_attr(self, fx):
        """A parameter read in forward (F.conv_transpose2d(x, self.weight)): fine as the weight of a
        function that takes one; any other use is reported once the whole graph is seen."""
        obj = self.gm
        for part in fx.target.split("."):
            obj = getattr(obj, part, None)
        if not isinstance(obj, self.torch.Tensor):
            return self.fail(fx, "attribute %s is not a tensor" % fx.target)
        self.params[fx] = obj
        self.value[fx] = fx.name

    def check_params(self):
        for fx in self.params:
            if any(u not in self.param_users for u in fx.users):
                self.problems.append("node %r: parameter used directly (%s)" % (fx.name, fx.target))

    def binary(self, fx, op, a, b, ordered=False):
        torch = self.torch
        names = []
        for v in (a, b):
            if isinstance(v, torch.fx.Node):
                if self.value.get(v) is None:
                    return self.fail(fx, "%s of a non-tensor value" % op)
                names.append(self.value[v])
            elif isinstance(v, (int, float)):
                const = "%s.const%d" % (fx.name, len(names))
                self.weights[const] = np.array([v], np.float32)
                names.append(const)
            else:
                return self.fail(fx, "%s with a %s operand" % (op, type(v).__name__))
        if names[0] in self.weights and not ordered:
            names.reverse()  # the activation first: a weight operand is the broadcast one
        self.add(fx, op, names)

    def mean(self, fx, x, dims, keepdim):
        shape = self.shape_of(x)
        dims = [dims] if isinstance(dims, int) else list(dims or [])
        if shape is None or len(shape) != 4 or sorted(d % 4 for d in dims) != [2, 3]:
            return self.reduce(fx, x, "reduce_mean", dims, keepdim)
        if keepdim:
            self.add(fx, "adaptive_avg_pool2d", [self.value[x]], {"output_size": [1, 1]})
        else:
            pooled = fx.name + ".pooled"
            self.nodes.append(Node(pooled, "adaptive_avg_pool2d", [self.value[x]], [pooled],
                                   {"output_size": [1, 1]}))
            self.nodes.append(Node(fx.name, "flatten", [pooled], [fx.name], {"start_dim": 1, "end_dim": -1}))
            self.value[fx] = fx.name

    def reshape(self, fx, x):
        src = self.shape_of(x)
        dst = self.shape_of(fx)
        if src is None or dst is None:
            return self.fail(fx, "view/reshape with unknown shapes")
        if len(dst) == 2 and len(src) >= 2 and dst[0] == src[0]:
            self.add(fx, "flatten", [self.value[x]], {"start_dim": 1, "end_dim": -1})
        elif src and dst and dst[0] == src[0] and all(int(d) >= 1 for d in dst[1:]):
            # the batch dim kept (-1): the graph stays batch-generic
            self.add(fx, "reshape", [self.value[x]], {"shape": [-1] + [int(d) for d in dst[1:]]})
        else:
            self.fail(fx, "view/reshape %s -> %s (only reshapes that keep the batch dim are supported)"
                      % (tuple(src), tuple(dst)))

    def permute(self, fx, x, dims):
        """NCHW <-> NHWC permutes survive only around a LayerNorm over the channels (ConvNeXt's
        LayerNorm2d: permute(0, 2, 3, 1) -> LayerNorm(C) -> permute(0, 3, 1, 2)), which becomes one
        layer_norm_channels node; any other permute is unsupported."""
        nd = len(self.shape_of(x) or ())
        if x in self.channels_last and dims == (0, 3, 1, 2):
            self.value[fx] = self.channels_last[x]
            return
        users = list(fx.users)
        if nd == 4 and dims == (0, 2, 3, 1) and users and all(self._is_channel_ln(u, fx) for u in users):
            self.channels_last[fx] = self.value[x]
            self.value[fx] = None
            return
        self.add(fx, "transpose", [self.value[x]], {"perm": [int(d) % max(nd, 1) for d in dims]})

    def _is_channel_ln(self, u, src):
        c = (self.shape_of(src) or (0,))[-1]
        if u.op == "call_module":
            m = self.gm.get_submodule(u.target)
            return isinstance(m, self.torch.nn.LayerNorm) and tuple(m.normalized_shape) == (c,)
        if u.op == "call_function" and u.target is self.torch.nn.functional.layer_norm:
            shape = u.args[1] if len(u.args) > 1 else u.kwargs.get("normalized_shape")
            return tuple(shape) == (c,) and u.args[0] is src
        return False

    def layer_norm_channels(self, fx, x, normalized_shape, weight, bias, eps, prefix):
        src = self.channels_last[x]
        users = list(fx.users)
        if not users or not all(u.op == "call_method" and u.target == "permute" and
                                tuple(int(d) for d in (u.args[1:] if len(u.args) > 2 else u.args[1]))
                                == (0, 3, 1, 2) for u in users):
            return self.fail(fx, "layer_norm over channels whose result is used channels-last")
        self.nodes.append(Node(fx.name, "layer_norm_channels",
                               [src, self.weight(prefix + ".weight", weight, flat=True),
                                self.weight(prefix + ".bias", bias, flat=True)], [fx.name],
                               {"eps": float(eps)}))
        self.channels_last[fx] = fx.name
        self.value[fx] = None

    # ---------------------------------------------------------------- the zoos' ops (issue 12)
    def zoo_binary(self, fx, t, method, args, kw):
        op = _ZOO_BINARY_METHODS.get(t) if method else _ZOO_BINARY.get(t)
        if op == "div" and kw.get("rounding_mode") is not None:
            return self.fail(fx, "div(rounding_mode=%r)" % kw["rounding_mode"])
        if op == "max_or_maximum":  # torch.max(a, b) is maximum; torch.max(x, dim) is not supported
            if len(args) != 2 or not isinstance(args[1], self.torch.fx.Node):
                return self.fail(fx, "torch.max over a dim (only torch.max(a, b))")
            op = "maximum"
        elif op == "min_or_minimum":
            if len(args) != 2 or not isinstance(args[1], self.torch.fx.Node):
                return self.fail(fx, "torch.min over a dim (only torch.min(a, b))")
            op = "minimum"
        a, b = args[0], args[1] if len(args) > 1 else kw.get("other")
        if op == "rsub":  # torch.rsub(x, other) = other - x
            op, a, b = "sub", b, a
        alpha = kw.get("alpha", args[2] if len(args) > 2 and op == "sub" else 1)
        if alpha != 1:
            return self.fail(fx, "sub with alpha=%r" % (alpha,))
        if op in ("maximum", "minimum"):
            return self.binary(fx, op, a, b)
        self.binary(fx, op, a, b, ordered=True)

    def getitem(self, fx, x, index):
        """A piece of a split, a size (x.shape[i]: resolved from shapes), or x[..., a:b, ...]."""
        src = self.value.get(x)
        if isinstance(src, list):  # the outputs of a split (a slice of them stays a list)
            self.value[fx] = src[index] if isinstance(index, slice) else src[int(index)]
            return
        if src is None or not isinstance(x, self.torch.fx.Node) or self.shape_of(x) is None:
            self.value[fx] = None
            return
        nd = len(self.shape_of(x))
        idx = list(index) if isinstance(index, tuple) else [index]
        new_axes = sum(i is None for i in idx)
        if Ellipsis in idx:
            e = idx.index(Ellipsis)
            idx = idx[:e] + [slice(None)] * (nd - len(idx) + new_axes + 1) + idx[e + 1:]
        if new_axes and all(i is None or i == slice(None) for i in idx):
            return self.reshape(fx, x)       # x[:, :, None, None]: only new unit axes, an unsqueeze
        if len(idx) > nd or not all(isinstance(i, slice) for i in idx):
            return self.fail(fx, "indexing with %r (only slices and ...)" % (index,))
        cur = src
        steps = [(d, i) for d, i in enumerate(idx) if i != slice(None)]
        for k, (d, i) in enumerate(steps):
            if any(v is not None and not isinstance(v, int) for v in (i.start, i.stop, i.step)):
                return self.fail(fx, "slice with computed bounds %r" % (i,))
            name = fx.name if k == len(steps) - 1 else "%s.d%d" % (fx.name, d)
            self.nodes.append(Node(name, "slice", [cur], [name], {
                "dim": d, "start": 0 if i.start is None else i.start, "end": i.stop,
                "step": 1 if i.step is None else i.step}))
            cur = name
        self.value[fx] = cur

    def stack(self, fx, xs, dim):
        """torch.stack as an unsqueeze (a reshape) of each input and a cat."""
        out = self.shape_of(fx)
        if out is None or dim % len(out) == 0:
            return self.fail(fx, "stack along the batch dim or of unknown shape")
        dim %= len(out)
        ups = []
        for i, v in enumerate(xs):
            s = list(out[1:])
            s[dim - 1] = 1
            name = "%s.u%d" % (fx.name, i)
            self.nodes.append(Node(name, "reshape", [self.value[v]], [name], {"shape": [-1] + [int(d) for d in s]}))
            ups.append(name)
        self.add(fx, "cat", ups, {"dim": dim})

    def split(self, fx, x, dim):
        """torch.split / chunk: the pieces' extents come from the traced output shapes."""
        meta = fx.meta.get("tensor_meta")
        if not isinstance(meta, (tuple, list)):
            return self.fail(fx, "split with unknown output shapes")
        nd = len(meta[0].shape)
        dim = int(dim) % nd
        names = ["%s.%d" % (fx.name, i) for i in range(len(meta))]
        self.nodes.append(Node(fx.name, "split", [self.value[x]], names,
                               {"dim": dim, "sizes": [int(m.shape[dim]) for m in meta]}))
        self.value[fx] = names

    def reduce(self, fx, x, op, dims, keepdim):
        shape = self.shape_of(x)
        if shape is None:
            return self.fail(fx, "%s with an unknown input shape" % op)
        dims = list(range(len(shape))) if dims is None else [dims] if isinstance(dims, int) else list(dims)
        if 0 in [d % len(shape) for d in dims]:
            return self.fail(fx, "%s over the batch dim" % op)
        self.add(fx, op, [self.value[x]], {"axes": [int(d) for d in dims], "keepdim": bool(keepdim)})

    def conv1d_module(self, fx, m, x):
        """Conv1d on (n, c, l) as conv2d on (n, c, 1, l): reshape, conv2d, reshape."""
        shape = self.shape_of(x)
        if m.padding_mode != "zeros" or shape is None or len(shape) != 3 or isinstance(m.padding, str):
            return self.fail(fx, "Conv1d (zeros padding, numeric padding, a 3D input)")
        p = int(m.padding[0])
        w = _np(m.weight)[:, :, None, :]
        self.weights[fx.target + ".weight"] = w
        self.unit_height(fx, x, "conv2d", [self.weight(fx.target + ".bias", m.bias)],
                         {"stride": [1, int(m.stride[0])], "padding": [0, p, 0, p],
                          "dilation": [1, int(m.dilation[0])], "groups": int(m.groups)},
                         weight=fx.target + ".weight")

    def lrn_module(self, fx, m, x):
        """LocalResponseNorm on an image as fastnorm.frontends.onnx.norm.emit_lrn's nodes (its window
        starts size // 2 channels before each channel, as torch's)."""
        from fastnorm.frontends.onnx.norm import emit_lrn
        shape = self.shape_of(x)
        if shape is None or len(shape) != 4 or not float(m.k) > 0 or float(m.alpha) < 0:
            return self.fail(fx, "LocalResponseNorm (a 4D input, k > 0, alpha >= 0)")
        names = iter(range(1, 1 << 30))

        def emit(op, ins, attrs, last):
            out = fx.name if last else "%s__lrn%d" % (fx.name, next(names))
            self.nodes.append(Node(out, op, ins, [out], attrs))
            return out

        def weight(suffix, arr):
            self.weights[fx.target + "." + suffix] = arr
            return fx.target + "." + suffix

        self.value[fx] = emit_lrn(emit, weight, self.value[x], int(shape[1]), int(m.size), float(m.alpha),
                                  float(m.beta), float(m.k), int(m.size) // 2)

    def pool1d_module(self, fx, m, x):
        k = int(_pair(m.kernel_size)[0])
        s = int(_pair(m.stride)[0]) if m.stride else k
        p = int(_pair(m.padding)[0])
        if isinstance(m, self.torch.nn.MaxPool1d):
            if m.return_indices:
                return self.fail(fx, "MaxPool1d(return_indices=True)")
            attrs = {"kernel": [1, k], "stride": [1, s], "padding": [0, p],
                     "dilation": [1, int(_pair(m.dilation)[0])], "ceil_mode": bool(m.ceil_mode)}
            return self.unit_height(fx, x, "max_pool2d", [], attrs)
        attrs = {"kernel": [1, k], "stride": [1, s], "padding": [0, p], "ceil_mode": bool(m.ceil_mode),
                 "count_include_pad": bool(m.count_include_pad), "divisor_override": None}
        self.unit_height(fx, x, "avg_pool2d", [], attrs)

    def pool3d_module(self, fx, m, x):
        """MaxPool3d / AvgPool3d on (n, c, t, h, w) as two 2-D pools between reshapes that keep the batch
        (the frames axis over (n, c, t, h*w), then (n, c*ot, h, w)), as the export route does."""
        from fastnorm.shapes import pool_out_extent
        shape = self.shape_of(x)
        is_max = isinstance(m, self.torch.nn.MaxPool3d)
        if (shape is None or len(shape) != 5 or (is_max and m.return_indices)
                or (not is_max and m.divisor_override is not None)):
            return self.fail(fx, "%s (a 5D input, no indices / divisor_override)" % type(m).__name__)
        n, c, t, h, w = (int(v) for v in shape)
        k = _triple(m.kernel_size)
        st = _triple(m.stride) if m.stride else k
        pd = _triple(m.padding)
        dl = _triple(m.dilation) if is_max else [1, 1, 1]
        attrs = {"ceil_mode": bool(m.ceil_mode)}
        if not is_max:
            attrs.update(count_include_pad=bool(m.count_include_pad), divisor_override=None)
        op = "max_pool2d" if is_max else "avg_pool2d"
        ot = pool_out_extent(t, k[0], st[0], pd[0], dl[0], bool(m.ceil_mode))
        v1, p1, v2, p2 = (fx.name + s for s in (".v1", ".t", ".v2", ".hw"))
        v = self.value[x]
        if (k[0], st[0], pd[0]) != (1, 1, 0):   # else nothing to pool along T
            self.nodes.append(Node(v1, "reshape", [v], [v1], {"shape": [-1, c, t, h * w]}))
            d1 = {"dilation": [dl[0], 1]} if is_max else {}
            self.nodes.append(Node(p1, op, [v1], [p1], dict(attrs, kernel=[k[0], 1], stride=[st[0], 1],
                                                            padding=[pd[0], 0], **d1)))
            v = p1
        if (k[1], k[2], st[1], st[2], pd[1], pd[2]) != (1, 1, 1, 1, 0, 0):
            self.nodes.append(Node(v2, "reshape", [v], [v2], {"shape": [-1, c * ot, h, w]}))
            d2 = {"dilation": dl[1:]} if is_max else {}
            self.nodes.append(Node(p2, op, [v2], [p2], dict(attrs, kernel=k[1:], stride=st[1:], padding=pd[1:],
                                                            **d2)))
            v = p2
        out = self.shape_of(fx)
        self.add(fx, "reshape", [v], {"shape": [-1] + [int(v) for v in out[1:]]})

    def unit_height(self, fx, x, op, extra, attrs, weight=None):
        """A 1-D op on (n, c, l) as the 2-D op on (n, c, 1, l)."""
        shape, out = self.shape_of(x), self.shape_of(fx)
        if shape is None or out is None or len(shape) != 3:
            return self.fail(fx, "%s on a %s input (1-D ops take (n, c, l))" % (op, shape))
        up, mid = fx.name + ".h1", fx.name + ".2d"
        self.nodes.append(Node(up, "reshape", [self.value[x]], [up], {"shape": [-1, int(shape[1]), 1, int(shape[2])]}))
        ins = [up] + ([weight] if weight else []) + extra
        self.nodes.append(Node(mid, op, ins, [mid], attrs))
        self.add(fx, "reshape", [mid], {"shape": [-1, int(out[1]), int(out[2])]})

    def shape_of(self, fx):
        meta = fx.meta.get("tensor_meta") if hasattr(fx, "meta") else None
        return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None

    def fail(self, fx, what):
        self.problems.append("node %r: %s" % (fx.name, what))
        self.value[fx] = fx.name


# In-place ops: torch.fx records `self.relu(y)` (an nn.ReLU(inplace=True)), `F.relu(y, inplace=True)`,
# `y.add_(1)` or `y += z` as a node whose result is a new value, while the nodes after it that read
# `y` by its old node still see the value before the mutation (Python's name `y` is not rebound when
# the result is discarded; an alias `identity = y` never is). torch computes those reads after the
# mutation, so they are redirected to the in-place node's result (_functionalize_inplace). A view of
# `y` made before the mutation and read after it would change too; that is refused, not guessed.
_INPLACE_OPERATORS = (operator.iadd, operator.isub, operator.imul, operator.itruediv, operator.ifloordiv,
                      operator.ipow, operator.iand, operator.ior, operator.ixor)
_ARITH_OPERATORS = (operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
                    operator.pow, operator.and_, operator.or_, operator.xor)
# Ops whose result may share storage with their first argument (a view, or the tensor itself).
_ALIAS_NAMES = frozenset((
    "view", "view_as", "reshape", "flatten", "unflatten", "permute", "transpose", "t", "swapaxes",
    "movedim", "squeeze", "unsqueeze", "expand", "expand_as", "narrow", "select", "chunk", "split",
    "unbind", "getitem", "contiguous", "detach", "as_strided", "diagonal", "unfold", "real", "dropout",
    "dropout2d", "alpha_dropout", "identity", "type_as", "to", "float", "type"))


def _inplace_target(torch, gm, n):
    """The fx node n mutates in place (its first argument), or None."""
    if not n.args or not isinstance(n.args[0], torch.fx.Node):
        return None
    if n.op == "call_module":
        return n.args[0] if getattr(gm.get_submodule(n.target), "inplace", False) is True else None
    if n.op == "call_function":
        name = getattr(n.target, "__name__", "")
        if (n.target in _INPLACE_OPERATORS or n.kwargs.get("inplace") is True
                or (name.endswith("_") and not name.startswith("_"))):
            return n.args[0]
        return None
    if n.op == "call_method" and isinstance(n.target, str):
        t = n.target
        return n.args[0] if t.endswith("_") and not t.startswith("_") else None
    return None


def _may_alias(torch, gm, u):
    """Whether fx node u's result may share storage with its first argument."""
    nn = torch.nn
    if u.op == "call_module":
        return isinstance(gm.get_submodule(u.target), (nn.Identity, nn.Flatten, nn.Unflatten, nn.Dropout,
                                                       nn.Dropout2d, nn.AlphaDropout))
    if u.op in ("call_function", "call_method"):
        name = u.target if isinstance(u.target, str) else getattr(u.target, "__name__", "")
        return name in _ALIAS_NAMES
    return False


def _functionalize_inplace(torch, gm):
    """Redirect the reads of a tensor that follow an in-place op on it to that op's result (see
    _INPLACE_OPERATORS above); UnsupportedError where a view of it made earlier is read later."""
    nodes = list(gm.graph.nodes)
    order = {n: i for i, n in enumerate(nodes)}
    for n in nodes:
        # fx traces `y += z` as `y = y + z` (a Proxy has no __iadd__): the in-place change is lost
        # and only shows as an arithmetic result nothing reads while y itself is read after it
        # (through an alias: `identity = y; y += z; ... identity`). Pure code would not compute a
        # value it never reads, so the two cannot be told apart: refused.
        if (n.op == "call_function" and n.target in _ARITH_OPERATORS and not n.users and n.args
                and isinstance(n.args[0], torch.fx.Node)
                and any(order[u] > order[n] for u in n.args[0].users)):
            raise UnsupportedError(
                "from_torch: %s = %s(%s) is computed but never read, while %s is read after it: torch.fx "
                "traces an in-place `+=` (or -=, *=, /=) as this, and the reads after it of an "
                "alias of %s (identity = y; y += z; ... identity) would see the value before the "
                "change; write it out of place (y = y + z) or load through route='export'"
                % (n.name, n.target.__name__, ", ".join(str(a) for a in n.args), n.args[0].name,
                   n.args[0].name))
        y = _inplace_target(torch, gm, n)
        if y is None:
            continue
        views, todo = [], [y]
        while todo:  # the views of y made before n (transitively)
            for u in todo.pop().users:
                if u is not n and order[u] < order[n] and _may_alias(torch, gm, u) and u.args[0] in (y, *views):
                    views.append(u)
                    todo.append(u)
        for v in views:
            if any(order[u] > order[n] for u in v.users):
                raise UnsupportedError(
                    "from_torch: %s changes %s in place while %s, a view of it made before, is read "
                    "after the change; make the op out of place (inplace=False, x = x + y)"
                    % (n.name, y.name, v.name))
        for u in list(y.users):
            if u is not n and order[u] > order[n]:
                u.replace_input_with(y, n)
    gm.graph.lint()
    gm.recompile()


def check_torch_args(torch, module, example_input):
    """from_torch's arguments (both routes): an nn.Module, and the example as a tensor."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError("from_torch: expected a torch.nn.Module, got %s" % type(module).__name__)
    if isinstance(example_input, np.ndarray):
        example_input = torch.from_numpy(np.ascontiguousarray(example_input, np.float32))
    if not isinstance(example_input, torch.Tensor):
        raise TypeError("from_torch: example_input must be a torch.Tensor or NumPy array, got %s"
                        % type(example_input).__name__)
    return example_input


def torch_to_graph(module, example_input, input_name="input", output_name="output"):
    """Trace `module` (an nn.Module) on `example_input` and return its fastnorm Graph."""
    try:
        import torch
        import torch.fx
        from torch.fx.passes.shape_prop import ShapeProp
    except ImportError as e:  # pragma: no cover - exercised only without torch
        raise ImportError("fastnorm.from_torch needs PyTorch: pip install torch") from e

    example_input = check_torch_args(torch, module, example_input)
    if module.training:
        warnings.warn("from_torch: the module is in training mode; it is exported with eval semantics "
                      "(BatchNorm uses its running statistics, Dropout is off), as inference always does. "
                      "Call module.eval() to silence this.", UserWarning, stacklevel=3)
    m = copy.deepcopy(module).eval()
    gm = torch.fx.symbolic_trace(m)
    _functionalize_inplace(torch, gm)
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
        elif fx.op in ("call_module", "call_function", "call_method"):
            try:
                if fx.op == "call_module":
                    b.module(fx, gm.get_submodule(fx.target))
                else:
                    b.function(fx)
            except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
                # a construct the mapping does not expect (a size read from a tensor's .shape, an
                # op on a rank it does not handle): reported with the others, not raised raw
                b.problems.append("%s (%s): %s" % (fx.name, fx.target if isinstance(fx.target, str)
                                                   else getattr(fx.target, "__name__", fx.target), e))
        elif fx.op == "get_attr":
            if fx.users and all(u.op == "call_function" and u.target is torch.nn.functional.layer_norm
                                and u.args[0] in b.channels_last for u in fx.users):
                b.value[fx] = None  # a LayerNorm2d's weight/bias, read where the layer_norm is mapped
            else:
                b.get_attr(fx)  # a weight of F.conv_transpose2d, or reported by check_params
        elif fx.op == "output":
            res = fx.args[0]
            if not isinstance(res, torch.fx.Node):
                b.problems.append("output: only a single tensor output is supported")
                continue
            shape = b.shape_of(res)
            outputs.append((res, shape))
    b.check_params()
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
    return graph
