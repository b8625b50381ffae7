"""The op table: one row per canonical op, the one place that says what an op is.

A row gives the op's name, the attributes a node may carry, its shape rule (fastnorm.shapes), the doctor's
category, the torch and ONNX names it answers to, and for an elementwise activation its kernel: the
fn_act kind and how the node's attributes fill fn_act_params. Readers:

  graph.py                Graph.check (attributes, which inputs are weights), infer_shapes (shape rules)
  frontends/torch.py      activation modules and functions listed here map without code of their own
  frontends/onnx/act.py   ONNX activations listed here (with onnx_attrs) map without a handler of their own
  ops/_act.py             generates the functional API of every activation row with `generate=True`
  doctor.py, passes/      categories: which ops are activations, which are the layers a BatchNorm folds into
  plan (fastnorm.plan)    lowers each op by name; an activation row's ActKernel.lower() gives (kind, params)

Torch names are spelled "nn.<Module>", "F.<function>" (torch.nn.functional), "torch.<function>" and
"Tensor.<method>"; ONNX names are op types of the default domain (a leading underscore marks the frontend's
own idiom nodes, frontends/onnx/idioms.py). Names the frontends map with code of their own (a handler, a
module with special arguments) are listed too: the table says what answers to what, the code how.
"""
import numpy as np

from fastnorm import shapes as S
from fastnorm._record import FrozenRecord
from fastnorm.shapes import ACT_ATTR

# torch's SELU constants (torch/csrc/api, the paper's values)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

# the doctor's categories
LAYER = "layer"            # conv2d, conv_transpose2d, linear: the weighted layers a BatchNorm folds into
NORM = "norm"
ACTIVATION = "activation"  # elementwise (prelu: per channel); what "BN -> act -> conv" means
SOFTMAX = "softmax"
POOL = "pool"
SHAPE = "shape"            # data movement: flatten, reshape, transpose, pad, shuffles, interpolate
GLUE = "glue"              # add, mul, cat


class ActKernel(FrozenRecord):
    """How an elementwise activation runs on src_c/act (fn_act_apply).

    kind:   the fn_actk_kind name; its id is _C.ACTK_<kind> (FN_ACTK_KINDS in src_c/act/fn_act.h)
    args:   ((name, default), ...) in torch.nn.functional's order after the input: the functional API's
            arguments and the node's attributes (numbers, or the default's type)
    params: ((fn_act_params field, arg name), ...): where each argument goes in the kernel's params
    lower:  attrs -> (kind, fn_act_params fields), for a kind or params the two tuples cannot say
    inplace: whether F.<name> takes inplace=
    """
    FIELDS = ("kind", "args", "params", "lower_fn", "inplace")

    def __init__(self, kind, args=(), params=(), lower_fn=None, inplace=True):
        self._set(kind=kind, args=args, params=params, lower_fn=lower_fn, inplace=inplace)

    def lower(self, attrs):
        """(kind name, {fn_act_params field: value}) for a node with these attributes."""
        if self.lower_fn is not None:
            return self.lower_fn(attrs)
        defaults = dict(self.args)
        return self.kind, {f: float(attrs.get(a, defaults[a])) for f, a in self.params}


class Op(FrozenRecord):
    """One row. name, attrs (the attribute names a node may carry), shape ((node, input shapes, weights)
    -> output shapes, fastnorm.shapes), category; weights: inputs after the first are weights; torch:
    "nn.ReLU", "F.relu", "torch.relu", "Tensor.relu"; onnx: ONNX op types; onnx_attrs: ((ONNX attribute,
    node attribute, default), ...) for the generic mapping; act: ActKernel of an elementwise activation run
    by fn_act; generate: ops/_act.py generates fastnorm.ops.<name> from `act`; doc (not compared)."""
    FIELDS = ("name", "attrs", "shape", "category", "weights", "torch", "onnx", "onnx_attrs", "act", "generate",
              "doc")
    COMPARE = FIELDS[:-1]

    def __init__(self, name, attrs, shape, category, weights=False, torch=(), onnx=(), onnx_attrs=(), act=None,
                 generate=False, doc=""):
        self._set(name=name, attrs=attrs, shape=shape, category=category, weights=weights, torch=torch, onnx=onnx,
                  onnx_attrs=onnx_attrs, act=act, generate=generate, doc=doc)

    @property
    def fuses_act(self):
        """The op's kernels apply a relu/clamp epilogue (passes.fuse_activations)."""
        return ACT_ATTR in self.attrs


# kept as OpSpec for readers of graph.OPS[...].attrs / .shape
OpSpec = Op


def _act(name, kind, torch, onnx=(), args=(), params=(), lower=None, inplace=True, generate=True,
         onnx_attrs=(), doc=""):
    numbers = tuple(a for a, d in args if isinstance(d, float))
    return Op(name, frozenset(a for a, _ in args), S.shape_elementwise(numbers), ACTIVATION, torch=torch,
              onnx=onnx, onnx_attrs=onnx_attrs, act=ActKernel(kind, args, params, lower, inplace),
              generate=generate, doc=doc)


# x ** e for a constant scalar e: the activation each exponent maps to (1 is the identity and -1 a
# division, by the frontends); ONNX Pow and aten pow.Tensor_Scalar read this one table.
POW_ACTS = {2.0: "square", 0.5: "sqrt", -0.5: "rsqrt"}
POW_MAX_INT = 16   # x ** n for an integer n up to this by multiplications (exponentiation by squaring)


def emit_pow(emit, x, e, weight):
    """x ** e (e a float constant) as graph nodes: e in POW_ACTS one activation; 1 the input itself; an
    integer 2 <= |n| <= POW_MAX_INT by squarings and multiplications (negative: 1 / x ** |n|), exact
    for a negative base; any other e as exp(e * log(x)) (NaN for a negative base, 0 / inf at 0, as
    torch). emit(op, inputs, attrs) -> value; weight(suffix, array) -> weight name. Returns the value."""
    if e == 1.0:
        return x
    if e in POW_ACTS:
        return emit(POW_ACTS[e], [x], {})
    if e == -1.0:
        return emit("div", [weight("one", np.array([1.0], np.float32)), x], {})
    n = abs(int(e)) if float(e).is_integer() else 0
    if 2 <= n <= POW_MAX_INT:
        acc, base = None, x
        while n:
            if n & 1:
                acc = base if acc is None else emit("mul", [acc, base], {})
            n >>= 1
            if n:
                base = emit("square", [base], {})
        if e < 0:
            acc = emit("div", [weight("one", np.array([1.0], np.float32)), acc], {})
        return acc
    if not np.isfinite(e):
        raise ValueError("exponent %r" % e)
    lg = emit("log", [x], {})
    return emit("exp", [emit("mul", [lg, weight("exponent", np.array([e], np.float32))], {})], {})


def _celu(a):
    alpha = float(a.get("alpha", 1.0))
    return "ELU", {"alpha": alpha, "input_scale": 1.0 / alpha}


def _gelu(a):
    return ("GELU_TANH" if a.get("approximate", "none") == "tanh" else "GELU"), {}


_ROWS = [
    # ---------------------------------------------------------------- layers
    Op("conv2d", frozenset({"stride", "padding", "dilation", "groups", ACT_ATTR, "folded", "residual"}),
       S.shape_conv2d, LAYER, weights=True, torch=("nn.Conv2d",), onnx=("Conv",)),
    Op("conv_transpose2d", frozenset({"stride", "padding", "output_padding", "dilation", "groups", ACT_ATTR,
                                      "folded"}),
       S.shape_conv_transpose2d, LAYER, weights=True, torch=("nn.ConvTranspose2d", "F.conv_transpose2d"),
       onnx=("ConvTranspose",)),
    Op("conv3d", frozenset({"stride", "padding", "dilation", "groups", ACT_ATTR, "folded"}), S.shape_conv3d, LAYER,
       weights=True, torch=("nn.Conv3d",),
       doc="video convs (N, C, T, H, W): per temporal tap, the frames it reads as a batch of images on the "
           "conv2d kernels, the taps summed through the residual epilogue (fastnorm/plan/lower_conv.py)"),
    Op("linear", frozenset({ACT_ATTR, "folded"}), S.shape_linear, LAYER, weights=True, torch=("nn.Linear",),
       onnx=("Gemm", "MatMul")),
    # ---------------------------------------------------------------- normalizations
    Op("batch_norm", frozenset({"eps", ACT_ATTR, "batch_stats"}), S.shape_batch_norm, NORM, weights=True,
       torch=("nn.BatchNorm1d", "nn.BatchNorm2d", "nn.BatchNorm3d"), onnx=("BatchNormalization",)),
    Op("layer_norm", frozenset({"normalized_ndim", "eps", ACT_ATTR}), S.shape_norm("layer_norm"), NORM,
       weights=True, torch=("nn.LayerNorm",), onnx=("LayerNormalization",)),
    Op("layer_norm_channels", frozenset({"eps", ACT_ATTR}), S.shape_norm("layer_norm_channels"), NORM,
       weights=True, torch=("nn.LayerNorm", "F.layer_norm", "Tensor.permute"), onnx=("_LayerNormChannels",),
       doc="LayerNorm over dim 1 of an NCHW value (ConvNeXt's permute -> LayerNorm(C) -> permute)"),
    Op("group_norm", frozenset({"num_groups", "eps", ACT_ATTR}), S.shape_norm("group_norm"), NORM, weights=True,
       torch=("nn.GroupNorm",), onnx=("GroupNormalization",)),
    Op("instance_norm", frozenset({"eps", "use_input_stats", ACT_ATTR}), S.shape_norm("instance_norm"), NORM,
       weights=True, torch=("nn.InstanceNorm1d", "nn.InstanceNorm2d", "nn.InstanceNorm3d"),
       onnx=("InstanceNormalization",)),
    # ---------------------------------------------------------------- activations
    Op("relu", frozenset(), S.shape_elementwise(), ACTIVATION,
       torch=("nn.ReLU", "F.relu", "torch.relu", "Tensor.relu"), onnx=("Relu",),
       doc="runs as the clamp epilogue (graph.act_tuple), fused into the op before it where it can"),
    Op("clamp", frozenset({"min", "max"}), S.shape_act, ACTIVATION,
       torch=("nn.ReLU6", "nn.Hardtanh", "F.relu6", "F.hardtanh", "torch.clamp", "Tensor.clamp", "Tensor.clip"),
       onnx=("Clip",), doc="min/max None for an open end; the clamp epilogue, like relu"),
    _act("leaky_relu", "LEAKY_RELU", ("nn.LeakyReLU", "F.leaky_relu"), ("LeakyRelu",),
         args=(("negative_slope", 0.01),), params=(("slope", "negative_slope"),),
         onnx_attrs=(("alpha", "negative_slope", 0.01),)),
    _act("elu", "ELU", ("nn.ELU",), ("Elu",), args=(("alpha", 1.0),), params=(("alpha", "alpha"),),
         onnx_attrs=(("alpha", "alpha", 1.0),)),
    _act("celu", "ELU", ("nn.CELU",), ("Celu",), args=(("alpha", 1.0),), lower=_celu, generate=False,
         onnx_attrs=(("alpha", "alpha", 1.0),)),
    _act("selu", "ELU", ("nn.SELU", "F.selu", "torch.selu"), ("Selu",),
         lower=lambda a: ("ELU", {"alpha": SELU_ALPHA * SELU_SCALE, "scale": SELU_SCALE})),
    _act("gelu", "GELU", ("nn.GELU", "F.gelu"), ("Gelu",), args=(("approximate", "none"),), lower=_gelu,
         inplace=False, generate=False),
    _act("sigmoid", "SIGMOID", ("nn.Sigmoid", "torch.sigmoid", "F.sigmoid", "Tensor.sigmoid"), ("Sigmoid",),
         inplace=False),
    _act("tanh", "TANH", ("nn.Tanh", "torch.tanh", "F.tanh", "Tensor.tanh"), ("Tanh",), inplace=False),
    _act("silu", "SILU", ("nn.SiLU", "F.silu"), ("_Silu",)),
    _act("hardsigmoid", "HARDSIGMOID", ("nn.Hardsigmoid", "F.hardsigmoid"), ("HardSigmoid",)),
    _act("hardswish", "HARDSWISH", ("nn.Hardswish", "F.hardswish"), ("HardSwish",)),
    _act("mish", "MISH", ("nn.Mish", "F.mish"), ("Mish",)),
    _act("softsign", "SOFTSIGN", ("nn.Softsign", "F.softsign"), ("Softsign",), inplace=False),
    _act("abs", "ABS", ("torch.abs", "Tensor.abs"), ("Abs",), inplace=False),
    _act("neg", "NEG", ("torch.neg", "Tensor.neg", "operator.neg"), ("Neg",), inplace=False),
    _act("square", "SQUARE", ("torch.square", "Tensor.square"), (), inplace=False,
         doc="also x ** 2 (aten pow, ONNX Pow with a constant exponent 2)"),
    _act("sqrt", "SQRT", ("torch.sqrt", "Tensor.sqrt"), ("Sqrt",), inplace=False,
         doc="also x ** 0.5; ReduceL2 / linalg_vector_norm (F.normalize) as sqrt(sum(x ** 2))"),
    _act("rsqrt", "RSQRT", ("torch.rsqrt", "Tensor.rsqrt"), (), inplace=False, doc="also x ** -0.5"),
    _act("exp", "EXP", ("torch.exp", "Tensor.exp"), ("Exp",), inplace=False),
    _act("log", "LOG", ("torch.log", "Tensor.log"), ("Log",), inplace=False),
    _act("erf", "ERF", ("torch.erf", "Tensor.erf", "torch.special.erf"), ("Erf",), inplace=False,
         doc="the error function (an exact GELU written out: x / 2 (1 + erf(x / sqrt 2)))"),
    _act("log1p", "LOG1P", ("torch.log1p", "Tensor.log1p"), (), inplace=False),
    _act("round_f16", "ROUND_F16", (), (), inplace=False,
         doc="x rounded to float16's values, ties to even, kept float32 (x.half().float(); ONNX Cast to "
             "float16 of a float activation)"),
    _act("round_bf16", "ROUND_BF16", (), (), inplace=False,
         doc="x rounded to bfloat16's values, ties to even, kept float32 (x.bfloat16().float(); ONNX Cast "
             "to bfloat16)"),
    _act("softplus", "SOFTPLUS", ("nn.Softplus",), ("Softplus",), args=(("beta", 1.0), ("threshold", 20.0)),
         params=(("beta", "beta"), ("threshold", "threshold")), inplace=False),
    _act("logsigmoid", "SOFTPLUS", ("nn.LogSigmoid", "F.logsigmoid"), (), inplace=False,
         lower=lambda a: ("SOFTPLUS", {"beta": -1.0, "threshold": 20.0}),
         doc="log(sigmoid(x)) = -log1p(exp(-x)): softplus with beta -1 (x itself below -20); aten log_sigmoid"),
    Op("prelu", frozenset(), S.shape_elementwise(weights=1), ACTIVATION, weights=True, torch=("nn.PReLU",),
       onnx=("PRelu",), doc="per channel (dim 1): its own kernel, not fn_act"),
    # ---------------------------------------------------------------- softmax
    Op("softmax", frozenset({"dim"}), S.shape_softmax, SOFTMAX,
       torch=("nn.Softmax", "F.softmax", "torch.softmax", "Tensor.softmax"), onnx=("Softmax",)),
    Op("log_softmax", frozenset({"dim"}), S.shape_softmax, SOFTMAX,
       torch=("nn.LogSoftmax", "F.log_softmax", "torch.log_softmax", "Tensor.log_softmax"), onnx=("LogSoftmax",)),
    # ---------------------------------------------------------------- pooling
    Op("max_pool2d", frozenset({"kernel", "stride", "padding", "dilation", "ceil_mode"}), S.shape_max_pool2d, POOL,
       torch=("nn.MaxPool2d",), onnx=("MaxPool",)),
    Op("max_pool2d_indices", frozenset({"kernel", "stride", "padding", "dilation", "ceil_mode"}),
       S.shape_max_pool2d_indices, POOL, torch=("nn.MaxPool2d", "F.max_pool2d"),
       doc="max_pool2d(return_indices=True): values and, per output, the flat position of its max in its "
           "(sample, channel) plane, read only by max_unpool2d (SegNet, ENet)"),
    Op("max_unpool2d", frozenset({"output_size"}), S.shape_max_unpool2d, POOL,
       torch=("nn.MaxUnpool2d", "F.max_unpool2d"),
       doc="zeros of output_size with each input value at its index (a max_pool2d_indices' second output)"),
    Op("avg_pool2d", frozenset({"kernel", "stride", "padding", "ceil_mode", "count_include_pad",
                                "divisor_override"}), S.shape_avg_pool2d, POOL,
       torch=("nn.AvgPool2d",), onnx=("AveragePool",)),
    Op("adaptive_avg_pool2d", frozenset({"output_size"}), S.shape_adaptive_pool, POOL,
       torch=("nn.AdaptiveAvgPool2d", "F.adaptive_avg_pool2d", "torch.mean", "Tensor.mean"),
       onnx=("GlobalAveragePool", "ReduceMean")),
    Op("adaptive_max_pool2d", frozenset({"output_size"}), S.shape_adaptive_pool, POOL,
       torch=("nn.AdaptiveMaxPool2d", "F.adaptive_max_pool2d"), onnx=("GlobalMaxPool", "ReduceMax")),
    # ---------------------------------------------------------------- shape and data movement
    Op("flatten", frozenset({"start_dim", "end_dim"}), S.shape_flatten, SHAPE,
       torch=("nn.Flatten", "torch.flatten", "Tensor.flatten", "Tensor.view", "Tensor.reshape"),
       onnx=("Flatten", "Reshape", "Squeeze", "Unsqueeze")),
    Op("reshape", frozenset({"shape"}), S.shape_reshape, SHAPE, onnx=("Reshape",)),
    Op("transpose", frozenset({"perm"}), S.shape_transpose, SHAPE,
       torch=("torch.permute", "Tensor.permute", "torch.transpose", "Tensor.transpose"), onnx=("Transpose",),
       doc="any rank up to 6-D; NCHW <-> NHWC on an image is free, the rest one strided copy"),
    Op("pad", frozenset({"pads", "mode", "value", "cpads"}), S.shape_pad, SHAPE,
       torch=("nn.ZeroPad2d", "nn.ConstantPad2d", "nn.ReflectionPad2d", "nn.ReplicationPad2d"), onnx=("Pad",),
       doc="H/W any mode; channels (cpads: front, back) constant, e.g. the zero-pad shortcut of CIFAR "
           "ResNets"),
    Op("interpolate", frozenset({"size", "scale_factor", "mode", "align_corners", "asymmetric"}),
       S.shape_interpolate, SHAPE,
       torch=("nn.Upsample", "F.interpolate"), onnx=("Resize", "Upsample")),
    Op("pixel_shuffle", frozenset({"factor"}), S.shape_shuffle("pixel_shuffle"), SHAPE,
       torch=("nn.PixelShuffle",), onnx=("DepthToSpace",)),
    Op("pixel_unshuffle", frozenset({"factor"}), S.shape_shuffle("pixel_unshuffle"), SHAPE,
       torch=("nn.PixelUnshuffle",), onnx=("SpaceToDepth",)),
    Op("channel_shuffle", frozenset({"groups"}), S.shape_shuffle("channel_shuffle"), SHAPE,
       torch=("nn.ChannelShuffle",)),
    # ---------------------------------------------------------------- glue
    Op("matmul", frozenset(), S.shape_matmul, GLUE, torch=("torch.matmul", "torch.bmm", "operator.matmul"),
       doc="ONNX MatMul and torch's matmul / bmm of two activations (attention's q @ k^T, attn @ v), leading dims broadcast where "
       "each side is whole or one; a constant B is a linear"),
    Op("add", frozenset({ACT_ATTR}), S.shape_binary, GLUE, torch=("operator.add", "torch.add", "Tensor.add"),
       onnx=("Add", "Sum")),
    Op("mul", frozenset(), S.shape_binary, GLUE, torch=("operator.mul", "torch.mul", "Tensor.mul"),
       onnx=("Mul", "Mean", "And"), doc="also ONNX And of two bool values (0.0 / 1.0)"),
    Op("cat", frozenset({"dim"}), S.shape_cat, GLUE, torch=("torch.cat", "torch.concat"), onnx=("Concat",)),
    # ---------------------------------------------------------------- the zoos' ops (issue 12)
    Op("slice", frozenset({"dim", "start", "end", "step"}), S.shape_slice, SHAPE,
       torch=("operator.getitem", "torch.narrow", "Tensor.narrow"), onnx=("Slice",),
       doc="a channel slice of an image is a window its conv readers take in place; else one strided copy"),
    Op("split", frozenset({"dim", "sizes"}), S.shape_split, SHAPE,
       torch=("torch.split", "Tensor.split", "torch.chunk", "Tensor.chunk"), onnx=("Split",),
       doc="several outputs, each lowered as a slice"),
    Op("sub", frozenset({ACT_ATTR}), S.shape_binary, GLUE, torch=("operator.sub", "torch.sub", "Tensor.sub"),
       onnx=("Sub",)),
    Op("div", frozenset({ACT_ATTR}), S.shape_binary, GLUE,
       torch=("operator.truediv", "torch.div", "Tensor.div"), onnx=("Div",)),
    Op("maximum", frozenset({ACT_ATTR}), S.shape_binary, GLUE, torch=("torch.maximum", "Tensor.maximum"),
       onnx=("Max", "Or"), doc="also ONNX Or of two bool values (0.0 / 1.0)"),
    Op("minimum", frozenset({ACT_ATTR}), S.shape_binary, GLUE, torch=("torch.minimum", "Tensor.minimum"),
       onnx=("Min",)),
    Op("reduce_mean", frozenset({"axes", "keepdim"}), S.shape_reduce, POOL, torch=("torch.mean", "Tensor.mean"),
       onnx=("ReduceMean",), doc="mean over the spatial dims of an image maps to adaptive_avg_pool2d instead"),
    Op("reduce_sum", frozenset({"axes", "keepdim"}), S.shape_reduce, POOL, torch=("torch.sum", "Tensor.sum"),
       onnx=("ReduceSum",)),
    Op("reduce_max", frozenset({"axes", "keepdim"}), S.shape_reduce, POOL, torch=("torch.amax", "Tensor.amax"),
       onnx=("ReduceMax",)),
    # ---------------------------------------------------------------- comparisons, selection, index reductions
    # ONNX's bool and int64 values run as float32 (0.0 / 1.0, indices exact below 2^24); a graph output
    # of either dtype is converted on the way out (TensorSpec.dtype), and the ONNX frontend refuses
    # arithmetic whose integer meaning differs from the float one (Div, Mod, ...) on such values
    Op("reduce_min", frozenset({"axes", "keepdim"}), S.shape_reduce, POOL, torch=("torch.amin", "Tensor.amin"),
       onnx=("ReduceMin",)),
    Op("reduce_prod", frozenset({"axes", "keepdim"}), S.shape_reduce, POOL, torch=("torch.prod", "Tensor.prod"),
       onnx=("ReduceProd",)),
    Op("argmax", frozenset({"axes", "keepdim", "select_last"}), S.shape_argreduce, POOL,
       torch=("torch.argmax", "Tensor.argmax"), onnx=("ArgMax",),
       doc="the position of the max along axes[0] (the first of equal maxima; the last with select_last; "
           "NaN counts as the max), as an int64 graph output"),
    Op("argmin", frozenset({"axes", "keepdim", "select_last"}), S.shape_argreduce, POOL,
       torch=("torch.argmin", "Tensor.argmin"), onnx=("ArgMin",)),
    Op("eq", frozenset(), S.shape_binary, GLUE, torch=("operator.eq", "torch.eq", "Tensor.eq"),
       onnx=("Equal",), doc="1.0 where a == b, else 0.0 (a bool value)"),
    Op("ne", frozenset(), S.shape_binary, GLUE, torch=("operator.ne", "torch.ne", "Tensor.ne"),
       onnx=("Xor", "Not"), doc="1.0 where a != b (NaN too), else 0.0; ONNX Xor of bools, Not as x != 1"),
    Op("lt", frozenset(), S.shape_binary, GLUE, torch=("operator.lt", "torch.lt", "Tensor.lt"), onnx=("Less",)),
    Op("gt", frozenset(), S.shape_binary, GLUE, torch=("operator.gt", "torch.gt", "Tensor.gt"),
       onnx=("Greater",)),
    Op("le", frozenset(), S.shape_binary, GLUE, torch=("operator.le", "torch.le", "Tensor.le"),
       onnx=("LessOrEqual",)),
    Op("ge", frozenset(), S.shape_binary, GLUE, torch=("operator.ge", "torch.ge", "Tensor.ge"),
       onnx=("GreaterOrEqual",)),
    Op("where", frozenset(), S.shape_where, GLUE, torch=("torch.where", "Tensor.masked_fill"), onnx=("Where",),
       doc="a where cond != 0 else b, the three broadcast (runs as (a where cond, else 0) + (b where "
           "not cond, else 0): one term is exactly 0)"),
]

# a binary op with its operands swapped: a constant first operand becomes the second (the comparisons,
# and And / Or of bools as mul / maximum)
SWAPPED = {"eq": "eq", "ne": "ne", "lt": "gt", "gt": "lt", "le": "ge", "ge": "le", "mul": "mul", "maximum": "maximum"}

OPS = {row.name: row for row in _ROWS}
assert len(OPS) == len(_ROWS), "an op name appears twice in the table"

# derived views, for readers that want a set
WEIGHT_OPS = {k for k, v in OPS.items() if v.weights}
KNOWN_OPS = {k: set(v.attrs) for k, v in OPS.items()}


def names(category):
    """The op names of one of the doctor's categories, in table order."""
    return tuple(k for k, v in OPS.items() if v.category == category)


def activations():
    """The rows that run on fn_act (ActKernel), in table order."""
    return [v for v in OPS.values() if v.act is not None]
