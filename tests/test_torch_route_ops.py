"""Constructs the torch.export route of fastnorm.from_torch maps onto existing graph ops (no kernels of
their own), each against PyTorch eval under every ISA, at batch 1 and 3 where the route keeps the batch
dynamic, on odd sizes and channel counts that are not a multiple of 8:

  * F.scaled_dot_product_attention, nn.MultiheadAttention(need_weights=False) and
    nn.TransformerEncoderLayer / DecoderLayer: their decomposition's aten._safe_softmax is kept whole,
    a softmax, with a row of all -inf (a fully masked query) giving 0 as in torch where a mask can make
    one (a constant mask checked row by row; a mask computed from the input guarded at run time);
  * torch.roll and index_select by a constant index: slices and one cat;
  * torch.log1p (the act kind LOG1P: accurate near 0, where log(1 + x) is not), torch.sign,
    torch.round (half to even, decimals too), clamp / clamp_min / clamp_max with tensor bounds
    (maximum / minimum), F.pad(mode="circular") and Conv2d / Conv1d(padding_mode="circular");
  * a bmm of a constant and an activation (DETR's learned object queries against the memory);
  * small models that use them: a Swin-style block (roll + window attention on SDPA with a relative
    position bias and the shift mask), a DETR-like decoder layer, a ViT block on nn.MultiheadAttention.

Special values (0, -0, ties, +-inf, NaN, |x| >= 2 ** 23, -1 for log1p) go through log1p, sign and round
straight from the input and compare exactly (log1p within a few ulp). Bound elsewhere: util.ATOL_MODEL
relative to max(1, |output|), as the held-out sets.
"""
import warnings

import numpy as np
import pytest
from heldout_util import torch_feeds
from util import assert_model_close, assert_ran, importorskip

torch = importorskip("torch")
nn, F = torch.nn, torch.nn.functional

import fastnorm  # noqa: E402
from fastnorm.testing import available_isas, force_isa  # noqa: E402


def _load(net, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch's export warnings; fixed-batch notes
        return fastnorm.from_torch(net, x, route="export")


def _check(name, net, shape, dynamic=True, seed=0):
    """net (eval) through from_torch on a batch-1 example of `shape` (no batch) against torch at batch 1
    and, where the model's batch is dynamic (as `dynamic` says it should be), batch 3, under every ISA.
    Returns the model."""
    feeds = torch_feeds(net, shape, name, seed)
    model = _load(net, feeds[0][0])
    assert (model.inputs[0].shape[0] is None) == dynamic, (name, model.inputs[0].shape)
    assert len(model.outputs) == len(feeds[0][1])
    for isa in available_isas():
        with force_isa(isa):
            for x, refs in feeds:
                if len(x) > 1 and not dynamic:
                    continue
                outs = model.run({model.inputs[0].name: x.numpy()})
                assert_ran(isa)
                for i, (t, want) in enumerate(zip(model.outputs, refs)):
                    assert_model_close(outs[t.name], want, "%s output %d, batch %d (%s)" % (name, i, len(x), isa))
    return model


def _ops(model):
    return [n.op for n in model.graph.nodes]


class _Conv(nn.Module):
    """A 3x3 conv (padding 1, sizes kept) to `cout` channels, then fn(self, y)."""

    def __init__(self, fn, cout=5, **mods):
        super().__init__()
        self.conv = nn.Conv2d(3, cout, 3, padding=1)
        self.fn = fn
        for k, v in mods.items():
            setattr(self, k, v)

    def forward(self, x):
        return self.fn(self, self.conv(x))


# ---------------------------------------------------------------- attention
def _heads(y, h=2):
    """(B, C, H, W) -> (B, h, H * W, C / h): conv channels as heads of tokens."""
    b, c, hh, ww = y.shape
    return y.reshape(b, h, c // h, hh * ww).transpose(-1, -2)


def _unheads(o, like):
    return o.transpose(-1, -2).reshape(like.shape)


_L = 7 * 5                                  # tokens of a 7 x 5 map
_gen = torch.Generator().manual_seed(3)
_EMPTY_ROWS = torch.rand(_L, _L, generator=_gen) > 0.4
_EMPTY_ROWS[[4, 20]] = False                # two queries see no key: torch's SDPA gives 0 there
_FLOAT_MASK = torch.randn(_L, _L, generator=_gen)


def _sdpa(m, y):
    q = _heads(y)
    return _unheads(F.scaled_dot_product_attention(q, q, q), y)


def _sdpa_qkv(m, y):
    q, k, v = (_heads(t) for t in y.chunk(3, 1))
    o = F.scaled_dot_product_attention(q, k, v, scale=0.3)
    return o.transpose(-1, -2).reshape(y.shape[0], -1, y.shape[2], y.shape[3])


def _sdpa_mask(kind):
    def fn(m, y):
        q = _heads(y)
        if kind == "causal":
            o = F.scaled_dot_product_attention(q, q, q, is_causal=True)
        elif kind == "input":   # computed from the input: queries below 0.3 see nothing (rows of 0)
            s = q[..., :1] > 0.3
            o = F.scaled_dot_product_attention(q, q, q, attn_mask=s & s.transpose(-1, -2))
        else:
            o = F.scaled_dot_product_attention(q, q, q, attn_mask=m.mask)
        return _unheads(o, y)
    return fn


class _Tokens(nn.Module):
    """conv -> tokens (B, H * W, C) (seq first when not batch_first) -> layer -> back to (B, C, H, W)."""

    def __init__(self, layer, kind, c=6, batch_first=True):
        super().__init__()
        self.conv = nn.Conv2d(3, c, 3, padding=1)
        self.layer, self.kind, self.batch_first = layer, kind, batch_first

    def forward(self, x):
        y = self.conv(x)
        t = y.flatten(2).transpose(1, 2)
        if not self.batch_first:
            t = t.transpose(0, 1)
        if self.kind == "mha":
            o = self.layer(t, t, t, need_weights=False)[0]
        elif self.kind == "decoder":
            o = self.layer(t[:, :9] if self.batch_first else t[:9], t)
        else:
            o = self.layer(t)
        if not self.batch_first:
            o = o.transpose(0, 1)
        return o.transpose(1, 2).reshape(y.shape[0], y.shape[1], -1, y.shape[3]) if self.kind != "decoder" \
            else o.sum(1)


# nn.MultiheadAttention works sequence first inside (batch_first transposes), so the route fixes the batch
# of every model on it (a torch_static_batch note); SDPA on (B, heads, L, d) keeps it dynamic
ATTENTION = {
    # name -> (module, batch dynamic, where nodes: the guard of rows a mask can empty (SDPA only))
    "sdpa": (lambda: _Conv(_sdpa, cout=6), True, 0),
    "sdpa_qkv_scale": (lambda: _Conv(_sdpa_qkv, cout=18), True, 0),
    "sdpa_causal": (lambda: _Conv(_sdpa_mask("causal"), cout=6), True, 0),       # a diagonal in every row
    "sdpa_float_mask": (lambda: _Conv(_sdpa_mask("const"), cout=6, mask=_FLOAT_MASK), True, 0),
    "sdpa_bool_mask_empty_rows": (lambda: _Conv(_sdpa_mask("const"), cout=6, mask=_EMPTY_ROWS), True, 1),
    # the mask's own where (0 or -inf), then the guard
    "sdpa_input_mask": (lambda: _Conv(_sdpa_mask("input"), cout=6), True, 2),
    "mha_batch_first": (lambda: _Tokens(nn.MultiheadAttention(6, 2, batch_first=True), "mha"), False, None),
    "mha_seq_first": (lambda: _Tokens(nn.MultiheadAttention(6, 3), "mha", batch_first=False), False, None),
    "encoder_layer": (lambda: _Tokens(nn.TransformerEncoderLayer(6, 2, 10, dropout=0.0, batch_first=True),
                                      "encoder"), False, None),
    "encoder_layer_norm_first": (lambda: _Tokens(nn.TransformerEncoderLayer(
        6, 3, 10, dropout=0.0, batch_first=True, norm_first=True, activation="gelu"), "encoder"), False, None),
    "decoder_layer": (lambda: _Tokens(nn.TransformerDecoderLayer(6, 2, 10, dropout=0.0, batch_first=True),
                                      "decoder"), False, None),
}


@pytest.mark.parametrize("name", sorted(ATTENTION))
def test_attention_matches_torch(name):
    """Also: an unmasked, causal or float-masked attention is one softmax; a constant mask with an empty
    row, or one computed from the input, adds the where that makes the row 0."""
    make, dynamic, wheres = ATTENTION[name]
    torch.manual_seed(5)
    model = _check(name, make().eval(), (3, 7, 5), dynamic=dynamic)
    if wheres is not None:
        assert _ops(model).count("where") == wheres, _ops(model)


# ---------------------------------------------------------------- elementwise and data movement
CONSTRUCTS = {
    # torch.roll: index_select by (i - shift) % n
    "roll_hw": lambda: _Conv(lambda m, y: torch.roll(y, (2, -1), (2, 3))),
    "roll_channels_past_size": lambda: _Conv(lambda m, y: torch.roll(y, 9, 1)),
    "roll_negative": lambda: _Conv(lambda m, y: torch.roll(y, -3, 2) + torch.roll(y, 5, 3)),
    "index_select_repeats": lambda: _Conv(lambda m, y: torch.index_select(y, 3, torch.tensor([4, 0, 0, 2, 1, 3]))),
    # log1p near 0 (x 1e5: log(1 + x) would be off by ~1e-2 there) and near -1
    "log1p": lambda: _Conv(lambda m, y: torch.log1p(y.abs()) + torch.log1p(y.clamp(min=-0.9))),
    "log1p_small": lambda: _Conv(lambda m, y: torch.log1p(y * 1e-5) * 1e5),
    "sign": lambda: _Conv(lambda m, y: torch.sign(y) * y.abs().sqrt()),
    "shrinks": lambda: _Conv(lambda m, y: m.s(m.h(y)) + F.tanhshrink(y), h=nn.Hardshrink(0.3),
                             s=nn.Softshrink(0.2)),     # softshrink decomposes through sign
    "fake_quant_round": lambda: _Conv(lambda m, y: torch.clamp(torch.round(y / 0.25), -8, 7) * 0.25),
    # clamp with tensor bounds: per channel, along W, crossed (min > max: max wins), computed, with a scalar
    "clamp_tensor_bounds": lambda: _Conv(lambda m, y: torch.clamp(
        y, min=torch.full((1, 5, 1, 1), -0.2), max=torch.linspace(0.1, 0.9, 5).view(1, 5, 1, 1))),
    "clamp_crossed_bounds": lambda: _Conv(lambda m, y: torch.clamp(
        y, min=torch.linspace(-0.5, 0.5, 5).view(5, 1, 1), max=torch.linspace(0.3, -0.3, 5).view(5, 1, 1))),
    "clamp_min_max_tensor": lambda: _Conv(lambda m, y: torch.clamp_min(y, torch.linspace(-0.5, 0.3, 5))
                                          + torch.clamp_max(y, torch.linspace(0.4, -0.2, 7).view(7, 1))),
    "clamp_computed_bounds": lambda: _Conv(lambda m, y: torch.clamp(
        y, min=y.mean(1, keepdim=True), max=y.amax((2, 3), keepdim=True) * 0.5)),
    "clamp_tensor_and_one_element": lambda: _Conv(lambda m, y: torch.clamp(y, min=torch.linspace(-1, 0, 5),
                                                                            max=torch.tensor(0.4))),
    # circular padding: F.pad, a crop (negative pad) with a wrap, Conv2d / Conv1d padding_mode
    "pad_circular": lambda: _Conv(lambda m, y: F.pad(y, (1, 2, 3, 1), mode="circular")),
    "pad_circular_crop": lambda: _Conv(lambda m, y: F.pad(y, (-1, 2, 3, -2), mode="circular")),
    "conv_circular": lambda: _Conv(lambda m, y: m.c2(y), c2=nn.Conv2d(5, 7, 3, padding=(2, 1), dilation=(2, 1),
                                                                    padding_mode="circular")),
    "conv1d_circular": lambda: _Conv(lambda m, y: m.c1(y.flatten(2)),
                                     c1=nn.Conv1d(5, 3, 5, padding=2, padding_mode="circular")),
}


@pytest.mark.parametrize("name", sorted(CONSTRUCTS))
def test_construct_matches_torch(name):
    torch.manual_seed(7)
    _check(name, CONSTRUCTS[name]().eval(), (3, 7, 5))


class _Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


_SPECIALS = [0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, -0.49999997, 2.4999998, 4194304.5,
             -4194304.5, 8388607.5, -8388607.5, 8388608.0, 16777218.0, 1e20, -1e20, 3.4e38, np.inf, -np.inf,
             np.nan, -1.0, -0.999999, -2.0, 1e-7, -1e-7, 1e-30, -1e-30, 0.125, 0.005, -0.015, 7.0, -7.0]


def _special_input():
    rng = np.random.default_rng(11)
    n = 3 * 5 * 7 * 9
    rest = rng.standard_normal(n - len(_SPECIALS)) * 10.0 ** rng.integers(-6, 5, n - len(_SPECIALS))
    return np.concatenate([np.array(_SPECIALS), rest]).astype(np.float32).reshape(3, 5, 7, 9)


@pytest.mark.parametrize("name,fn,ulps", [
    ("log1p", torch.log1p, 2), ("sign", torch.sign, 0), ("round", torch.round, 0),
    ("round_decimals_2", lambda x: torch.round(x, decimals=2), 0),
    ("round_decimals_-1", lambda x: torch.round(x, decimals=-1), 0)])
def test_special_values(name, fn, ulps):
    """Straight from the input: NaN where torch has NaN, infinities and signs as torch, round exact
    (ties to even, |x| >= 2 ** 23 kept), log1p within `ulps` float32 ulps (torch's own is not exact)."""
    x = _special_input()
    want = fn(torch.from_numpy(x)).numpy()
    model = _load(_Fn(fn).eval(), torch.from_numpy(x[:1]))
    assert model.inputs[0].shape[0] is None
    for isa in available_isas():
        with force_isa(isa):
            got = model.predict(x)
        assert_ran(isa)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg="%s NaN (%s)" % (name, isa))
        ok = ~np.isnan(want)
        g, w = got[ok], want[ok]
        assert np.array_equal(np.isinf(g), np.isinf(w)) and np.array_equal(g[np.isinf(w)], w[np.isinf(w)]), name
        fin = np.isfinite(w)
        err = np.abs(g[fin].astype(np.float64) - w[fin]) / np.spacing(np.abs(w[fin]).astype(np.float32))
        assert err.max() <= ulps, "%s (%s): %.3g ulps at x=%r" % (name, isa, err.max(), x[ok][fin][np.argmax(err)])


def test_index_select_on_the_batch_dim_fixes_the_batch_then_refuses():
    net = _Conv(lambda m, y: torch.roll(y, 1, 0)).eval()
    with pytest.raises(fastnorm.UnsupportedError, match="index_select on the batch dim"):
        _load(net, torch.randn(2, 3, 7, 5))


# ---------------------------------------------------------------- small models
class SwinBlock(nn.Module):
    """A Swin block on a 6 x 6 map of 6 channels, windows of 3, shift 1, 2 heads: LayerNorm, roll, window
    attention (F.scaled_dot_product_attention with the relative position bias plus the shift mask as one
    float mask; windows and heads folded into the heads dim so the batch stays dim 0), roll back, MLP."""

    def __init__(self, c=6, heads=2, ws=3, shift=1, size=6):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 3, stride=2, padding=1)
        self.c, self.h, self.ws, self.shift, self.size = c, heads, ws, shift, size
        self.norm1, self.norm2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.qkv, self.proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.mlp = nn.Sequential(nn.Linear(c, 2 * c), nn.GELU(), nn.Linear(2 * c, c))
        self.bias_table = nn.Parameter(torch.randn((2 * ws - 1) ** 2, heads) * 0.5)
        coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + ws - 1
        self.register_buffer("rel_index", rel[..., 0] * (2 * ws - 1) + rel[..., 1])
        img = torch.zeros(size, size)
        cnt = 0
        for hs in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            for wsl in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
                img[hs, wsl] = cnt
                cnt += 1
        win = self._windows(img[None, :, :, None]).reshape(-1, ws * ws)
        mask = (win[:, None, :] - win[:, :, None]) != 0
        self.register_buffer("shift_mask", mask.float() * -100.0)    # (nW, L, L), Swin's -100

    def _windows(self, t):   # (B, H, W, C) -> (B, nW, ws * ws, C)
        b, hh, ww, c = t.shape
        ws = self.ws
        t = t.reshape(b, hh // ws, ws, ww // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
        return t.reshape(b, (hh // ws) * (ww // ws), ws * ws, c)

    def forward(self, x):
        y = self.stem(x).permute(0, 2, 3, 1)              # (B, H, W, C)
        b, hh, ww, c = y.shape
        nw, n, h, d = (hh // self.ws) * (ww // self.ws), self.ws * self.ws, self.h, c // self.h
        s = torch.roll(self.norm1(y), (-self.shift, -self.shift), (1, 2))
        qkv = self._windows(self.qkv(s)).reshape(b, nw, n, 3, h, d).permute(0, 3, 1, 4, 2, 5)
        q, k, v = qkv.reshape(b, 3, nw * h, n, d).unbind(1)
        bias = self.bias_table[self.rel_index.reshape(-1)].reshape(n, n, h).permute(2, 0, 1)
        mask = (bias[None] + self.shift_mask[:, None]).reshape(nw * h, n, n)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)            # (B, nW * h, n, d)
        o = o.reshape(b, nw, h, n, d).permute(0, 1, 3, 2, 4).reshape(b, hh // self.ws, ww // self.ws,
                                                                     self.ws, self.ws, c)
        o = o.permute(0, 1, 3, 2, 4, 5).reshape(b, hh, ww, c)
        y = y + self.proj(torch.roll(o, (self.shift, self.shift), (1, 2)))
        y = y + self.mlp(self.norm2(y))
        return y.permute(0, 3, 1, 2)


class DETRDecoder(nn.Module):
    """A conv backbone's memory (with a learned position embedding) read by learned object queries
    through an nn.TransformerDecoderLayer (the target zeros + queries, so its self-attention and first
    cross-attention operand are constants: a bmm of a constant and the memory); class and box heads."""

    def __init__(self, d=6, nq=5, nc=3):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, d, 3, stride=2, padding=1), nn.BatchNorm2d(d), nn.ReLU())
        self.pos = nn.Parameter(torch.randn(1, 7 * 6, d) * 0.3)
        self.query = nn.Parameter(torch.randn(nq, d))
        self.dec = nn.TransformerDecoderLayer(d, 2, 12, dropout=0.0, batch_first=True)
        self.cls, self.box = nn.Linear(d, nc + 1), nn.Linear(d, 4)

    def forward(self, x):
        mem = self.backbone(x).flatten(2).transpose(1, 2) + self.pos        # (B, 42, d)
        q = self.query.unsqueeze(0).expand(x.shape[0], -1, -1)
        hs = self.dec(torch.zeros_like(q) + q, mem)
        return self.cls(hs), self.box(hs).sigmoid()


class ViTBlock(nn.Module):
    """Patchify (4 x 4, stride 4: 17 x 13 -> 4 x 3), a class token, a position embedding, a pre-norm block
    on nn.MultiheadAttention(need_weights=False, 3 heads of 4) and a GELU MLP, the class token's head."""

    def __init__(self, d=12, heads=3, nc=5):
        super().__init__()
        self.patch = nn.Conv2d(3, d, 4, stride=4)
        self.cls_token = nn.Parameter(torch.randn(1, 1, d))
        self.pos = nn.Parameter(torch.randn(1, 13, d) * 0.2)
        self.norm1, self.norm2, self.norm = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.head = nn.Linear(d, nc)

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], 1) + self.pos
        a = self.norm1(t)
        t = t + self.attn(a, a, a, need_weights=False)[0]
        t = t + self.mlp(self.norm2(t))
        return self.head(self.norm(t)[:, 0])


MODELS = {
    # name -> (module, input shape, batch dynamic: DETR's queries are expanded to the batch, the ViT's
    # nn.MultiheadAttention moves it; the route fixes those at the example's)
    "swin_block": (SwinBlock, (3, 11, 12), True),
    "detr_decoder": (DETRDecoder, (3, 13, 11), False),
    "vit_block_mha": (ViTBlock, (3, 17, 13), False),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_matches_torch(name):
    make, shape, dynamic = MODELS[name]
    torch.manual_seed(9)
    _check(name, make().eval(), shape, dynamic=dynamic)
