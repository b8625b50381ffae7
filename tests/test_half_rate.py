"""AVX-512 at half rate (kernels.h fn_conv_table): on a CPU whose 512-bit FMAs issue as two 256-bit halves
(AMD Zen 4), the AVX-512 table hands a conv to AVX2's table when its last 32-wide panel would leave lanes
empty that AVX2's 16- and 8-wide vectors fill (17-24, 33-40, 49-56 output channels a group, and the
narrow <= 8 of every AVX-512 CPU). FASTNORM_AVX512_HALF_RATE=0 or 1 overrides the detection, read at
import, so both settings are tested in child processes: which table each width takes, results against
a float64 reference (1x1 dense rows, 3x3, strided, grouped, residual and clamp / silu epilogues,
batch 1 and 3), a model against torch, and a prepacked .fnm made under one setting and read under the
other (its probe differs, so it falls back to packing instead of running panels of the wrong width)."""
import json
import os
import re

import numpy as np
import pytest

import fastnorm
from fastnorm import _C
from util import run_python

AVX512 = "avx512" in _C.ISA_NAMES and _C.best_isa() == "avx512"
needs_avx512 = pytest.mark.skipif(not AVX512, reason="needs a CPU (and OS) that runs AVX-512")


def _child(code, half, isa=None):
    """Run code in a fresh interpreter with FASTNORM_AVX512_HALF_RATE=half; its stdout's last line as JSON."""
    env = dict(os.environ, FASTNORM_AVX512_HALF_RATE=str(half))
    env.pop("FASTNORM_ISA", None)
    if isa:
        env["FASTNORM_ISA"] = isa
    r = run_python(["-c", code], env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _proc_cpu():
    """(vendor_id, cpu family) from /proc/cpuinfo: a source independent of fastnorm's CPUID reading."""
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return None, None
    v = re.search(r"^vendor_id\s*:\s*(\S+)", text, re.M)
    f = re.search(r"^cpu family\s*:\s*(\d+)", text, re.M)
    return (v.group(1) if v else None), (int(f.group(1)) if f else None)


def test_cpu_info_reports_the_detected_rate():
    """Unset, the flag is what the CPU is: AMD family 0x19 (Zen 4) with AVX-512; set, what it says."""
    code = "import fastnorm, json; print(json.dumps(fastnorm.cpu_info()['avx512_half_rate']))"
    env = dict(os.environ)
    env.pop("FASTNORM_AVX512_HALF_RATE", None)
    r = run_python(["-c", code], env=env)
    assert r.returncode == 0, r.stderr
    detected = json.loads(r.stdout.strip().splitlines()[-1])
    vendor, family = _proc_cpu()
    if _C.ARCH == "x86_64" and vendor is not None:
        avx512f = fastnorm.cpu_info()["features"]["avx512f"]
        assert detected == (vendor == "AuthenticAMD" and family == 0x19 and avx512f), (vendor, family)
    else:
        assert detected is False
    assert _child(code, 1) is True
    assert _child(code, 0) is False


def test_bad_value_names_the_variable():
    env = dict(os.environ, FASTNORM_AVX512_HALF_RATE="yes")
    r = run_python(["-c", "import fastnorm"], env=env)
    assert r.returncode != 0
    assert "FASTNORM_AVX512_HALF_RATE='yes'" in r.stderr and "expected 0 or 1" in r.stderr


# The widths (output channels a group) half rate hands to AVX2, written out from the rule's statement
# rather than its formula: the narrow ones of every AVX-512 CPU, then 17-24, 33-40 and 49-56.
NARROW = set(range(1, 9))
HALF = NARROW | set(range(17, 25)) | set(range(33, 41)) | set(range(49, 57))

_TILES = """
import json
from fastnorm import _C
i = _C.ISA_NAMES.index("avx512")
out = {}
for n in range(1, 131):
    for k, g in ((1, 1), (3, 1), (3, 2)):
        desc = (8 * g, n * g, g, k, k, 1, 1, 1, 1, k // 2, k // 2, k // 2, k // 2)
        out["%d/%d/%d" % (n, k, g)] = _C.conv2d_tile(i, desc)[2]
print(json.dumps(out))
"""


@needs_avx512
@pytest.mark.parametrize("half", [0, 1])
def test_which_table_each_width_takes(half):
    """Per width 1..130, 1x1 and 3x3, one group and two: AVX2's table exactly for HALF (half rate) or
    NARROW (full rate), AVX-512's otherwise. (Group width 8k for k | 16 is the small-group kernel's,
    an AVX-512 table of its own: those widths are left out of the grouped case.)"""
    got = _child(_TILES, half)
    want = HALF if half else NARROW
    for key, table in got.items():
        n, k, g = (int(v) for v in key.split("/"))
        if g > 1 and n in (1, 2, 4, 8, 16):
            continue
        assert table == ("avx2" if n in want else "avx512"), (key, table)


_CONVS = """
import json
import numpy as np
from fastnorm import _C
from fastnorm.testing import force_isa
import sys
sys.path.insert(0, %(tests)r)
import reference
rng = np.random.default_rng(7)
i = _C.ISA_NAMES.index("avx512")
worst = 0.0
tables = set()
for n_out, cin, k, s, g, n, h, w, act in [(24, 144, 1, 1, 1, 1, 9, 7, 0), (24, 32, 1, 1, 1, 3, 13, 11, 1),
                                         (40, 240, 1, 1, 1, 1, 7, 9, 2), (56, 24, 1, 2, 1, 3, 11, 9, 1),
                                         (20, 16, 3, 1, 1, 1, 9, 9, 1), (40, 24, 3, 2, 1, 3, 8, 7, 2),
                                         (48, 16, 3, 1, 2, 1, 7, 7, 0), (72, 24, 1, 1, 1, 1, 9, 9, 1),
                                         (33, 7, 3, 1, 1, 1, 1, 1, 0), (17, 5, 1, 1, 1, 3, 1, 1, 2)]:
    p = k // 2
    x = rng.standard_normal((n, cin, h, w)).astype(np.float32)
    wt = (rng.standard_normal((n_out, cin // g, k, k)) / np.sqrt(cin // g * k * k)).astype(np.float32)
    b = rng.standard_normal(n_out).astype(np.float32)
    desc = (cin, n_out, g, k, k, s, s, 1, 1, p, p, p, p)
    tables.add(_C.conv2d_tile(i, desc)[2])
    want = reference.conv2d(x, wt, b, (s, s), (p, p, p, p), (1, 1), g)
    mag = reference.conv2d(np.abs(x), np.abs(wt), np.abs(b), (s, s), (p, p, p, p), (1, 1), g)
    oh, ow = want.shape[2:]
    res = rng.standard_normal((n, oh, ow, n_out)).astype(np.float32)
    want = want + res.transpose(0, 3, 1, 2)
    mag = mag + np.abs(res.transpose(0, 3, 1, 2))
    if act == 1:
        a, want = (1, -0.5, 1.5), np.clip(want, -0.5, 1.5)
    elif act == 2:
        a, want = (_C.ACT_ACTK0 + _C.ACTK_SILU, 0.0, 0.0), want / (1 + np.exp(-want))
    else:
        a = (0, 0.0, 0.0)
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    y = np.empty((n, oh, ow, n_out), np.float32)
    packed = _C.conv2d_pack(i, desc, wt, b)
    _C.conv2d_nhwc(i, desc, xh, packed, res, a, y, 1)
    got = y.transpose(0, 3, 1, 2).astype(np.float64)
    worst = max(worst, float((np.abs(got - want) / (mag + 1e-30)).max()))
print(json.dumps({"worst": worst, "tables": sorted(tables)}))
"""


@needs_avx512
@pytest.mark.parametrize("half", [0, 1])
def test_convs_match_the_reference_under_both_rates(half):
    """The same convs under either setting (AVX2's panels under half rate for the widths it takes) agree
    with a float64 reference to a few float32 roundings of the products' magnitude; the run really took
    both tables under half rate and only AVX-512's otherwise."""
    code = _CONVS % {"tests": os.path.dirname(os.path.abspath(__file__))}
    r = _child(code, half)
    assert r["worst"] < 1e-5, r
    assert set(r["tables"]) == ({"avx2", "avx512"} if half else {"avx512"}), r


_MODEL = """
import json, sys
import numpy as np, torch, torch.nn as nn
import fastnorm
torch.manual_seed(3)
class Block(nn.Module):
    def __init__(s, c, e, o):
        super().__init__()
        s.ex = nn.Sequential(nn.Conv2d(c, e, 1, bias=False), nn.BatchNorm2d(e), nn.SiLU())
        s.dw = nn.Sequential(nn.Conv2d(e, e, 3, 1, 1, groups=e, bias=False), nn.BatchNorm2d(e), nn.SiLU())
        s.se1, s.se2 = nn.Conv2d(e, 8, 1), nn.Conv2d(8, e, 1)
        s.pr = nn.Sequential(nn.Conv2d(e, o, 1, bias=False), nn.BatchNorm2d(o))
        s.res = c == o
    def forward(s, x):
        h = s.dw(s.ex(x))
        h = h * torch.sigmoid(s.se2(torch.relu(s.se1(h.mean((2, 3), keepdim=True)))))
        h = s.pr(h)
        return h + x if s.res else h
net = nn.Sequential(nn.Conv2d(3, 24, 3, 2, 1), nn.BatchNorm2d(24), nn.ReLU(), Block(24, 72, 24),
                    Block(24, 96, 40), Block(40, 120, 40), Block(40, 160, 56), nn.Conv2d(56, 20, 1)).eval()
for m in net.modules():
    if isinstance(m, nn.BatchNorm2d):
        m.running_mean.uniform_(-0.2, 0.2); m.running_var.uniform_(0.5, 2.0)
        m.weight.data.uniform_(0.5, 1.5); m.bias.data.uniform_(-0.2, 0.2)
x = torch.randn(2, 3, 37, 29)
model = fastnorm.from_torch(net, x)
want = net(x).detach().numpy()
got = np.concatenate([model.predict(x[:1].numpy()), model.predict(x[1:].numpy())])
got2 = model.predict(x.numpy())
print(json.dumps({"err": float(np.abs(got - want).max() / np.abs(want).max()),
                  "batch": float(np.abs(got2 - got).max())}))
"""


@needs_avx512
@pytest.mark.parametrize("half", [0, 1])
def test_model_matches_torch_under_both_rates(half):
    """An MBConv stack with 24, 40 and 56 channels (SiLU, SE, residual: the epilogues and fused
    records those widths meet in the mobile nets) against torch, batch 1 and 2, on AVX-512."""
    pytest.importorskip("torch")
    r = _child(_MODEL, half, isa="avx512")
    assert r["err"] < 1e-4, r
    assert r["batch"] < 1e-5, r


_SAVE = """
import json, sys
import numpy as np
from fastnorm import _C, prepack
from fastnorm.model import Model
sys.path.insert(0, %(tests)r)
from test_prepacked import _net, X
m = Model(_net())
m.save(%(path)r, prepacked=True)
print(json.dumps({"probe": prepack.layout_probe(_C.ISA_NAMES.index("avx512")), "y": m.predict(X).tolist()}))
"""

_LOAD = """
import json, sys
import numpy as np
import fastnorm
from fastnorm import _C, prepack
sys.path.insert(0, %(tests)r)
from test_prepacked import X
probe = prepack.layout_probe(_C.ISA_NAMES.index("avx512"))  # cached: the load's own check packs no more
calls = []
real = _C.conv2d_pack
_C.conv2d_pack = lambda *a: calls.append(1) or real(*a)
m = fastnorm.load(%(path)r)
y = m.predict(X)
print(json.dumps({"probe": probe, "packed_at_load": bool(calls),
                  "y": y.tolist()}))
"""


@needs_avx512
@pytest.mark.parametrize("save_half,load_half", [(0, 1), (1, 0), (1, 1), (0, 0)])
def test_prepacked_file_from_the_other_rate_falls_back(tmp_path, save_half, load_half):
    """A .fnm prepacked under one setting and read under the other: the layout probe differs (its
    24 -> 40 and 36 -> 20 convs pack AVX2's panels under half rate), so the file's panels are not used
    and the outputs are the saving process's; read under the same setting, they are used."""
    path = str(tmp_path / "m.fnm")
    tests = os.path.dirname(os.path.abspath(__file__))
    saved = _child(_SAVE % {"tests": tests, "path": path}, save_half, isa="avx512")
    loaded = _child(_LOAD % {"tests": tests, "path": path}, load_half, isa="avx512")
    assert (saved["probe"] == loaded["probe"]) == (save_half == load_half)
    assert loaded["packed_at_load"] == (save_half != load_half)
    np.testing.assert_allclose(np.asarray(loaded["y"]), np.asarray(saved["y"]), rtol=1e-5, atol=1e-5)


_GCONV8 = """
import json
import numpy as np
from fastnorm import _C
import sys
sys.path.insert(0, %(tests)r)
import reference
rng = np.random.default_rng(11)
i512, i2 = _C.ISA_NAMES.index("avx512"), _C.ISA_NAMES.index("avx2")
worst, same_bits, same_pack = 0.0, [], []
for c, s, n, h, w in [(16, 1, 1, 9, 7), (24, 2, 3, 13, 11), (40, 1, 1, 5, 9), (56, 2, 1, 9, 9),
                      (152, 1, 3, 3, 5), (24, 1, 1, 1, 1)]:
    g = c // 8
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = (rng.standard_normal((c, 8, 3, 3)) / np.sqrt(72)).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    desc = (c, c, g, 3, 3, s, s, 1, 1, 1, 1, 1, 1)
    want = reference.conv2d(x, wt, b, (s, s), (1, 1, 1, 1), (1, 1), g)
    mag = reference.conv2d(np.abs(x), np.abs(wt), np.abs(b), (s, s), (1, 1, 1, 1), (1, 1), g)
    oh, ow = want.shape[2:]
    res = rng.standard_normal((n, oh, ow, c)).astype(np.float32)
    want = np.clip(want + res.transpose(0, 3, 1, 2), -0.5, 1.5)
    mag = mag + np.abs(res.transpose(0, 3, 1, 2))
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    ys, packs = [], []
    for i in (i512, i2):
        packed = _C.conv2d_pack(i, desc, wt, b)
        y = np.empty((n, oh, ow, c), np.float32)
        _C.conv2d_nhwc(i, desc, xh, packed, res, (1, -0.5, 1.5), y, 2)
        ys.append(y)
        packs.append(packed[int(packed[0]):])   # past each packing's alignment header
        got = y.transpose(0, 3, 1, 2).astype(np.float64)
        worst = max(worst, float((np.abs(got - want) / (mag + 1e-30)).max()))
    same_bits.append(bool(np.array_equal(ys[0], ys[1])))
    same_pack.append(bool(packs[0].shape == packs[1].shape and np.array_equal(packs[0], packs[1])))
print(json.dumps({"worst": worst, "same_bits": same_bits, "same_pack": same_pack}))
"""


@needs_avx512
@pytest.mark.parametrize("half", [0, 1])
def test_group_width_8_on_ymm_at_half_rate(half):
    """Group width 8 at half rate packs as AVX2 does and runs one group a ymm (gconv_ymm_avx512.c: the
    AVX2 kernel's products and sums in the same order, so AVX2's bits); at full rate AVX-512's pair
    kernel keeps its own packing (input pairs). 16-152 channels, strides 1 and 2, batch 1 and 3, a 1x1
    image, residual and clamp, two threads: within a few roundings of a float64 reference either way."""
    r = _child(_GCONV8 % {"tests": os.path.dirname(os.path.abspath(__file__))}, half)
    assert r["worst"] < 1e-5, r
    if half:
        assert all(r["same_pack"]) and all(r["same_bits"]), r
    else:
        assert not any(r["same_pack"]), r
