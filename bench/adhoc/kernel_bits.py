"""Fingerprint fastnorm's outputs per ISA, to check a kernel refactor is bit-identical.

    python bench/adhoc/kernel_bits.py OLD_ROOT NEW_ROOT
    python bench/adhoc/kernel_bits.py --dump OLD_ROOT old.json; ... old.json NEW_ROOT

runs the same seeded cases with OLD_ROOT's and NEW_ROOT's built fastnorm (each a checkout with the
extension built in place) under FASTNORM_ISA=scalar, avx2 and avx512 (those the CPU has), and lists
every case whose output bits differ. A one-off tool: outputs are sha256 digests, not values.
"""
import hashlib
import json
import os
import subprocess
import sys

CASES = r'''
import hashlib, json, sys
import numpy as np
import torch
import fastnorm
import fastnorm.ops as F

out = {}
def rec(name, y):
    a = np.ascontiguousarray(np.asarray(y, dtype=np.float32))
    out[name] = hashlib.sha256(a.tobytes()).hexdigest()[:16] + str(a.shape)

rng = np.random.default_rng(0)
def r(*s):
    return rng.standard_normal(s).astype(np.float32)

for c in (3, 5, 8, 13, 16, 24, 37, 64, 100):
    x = r(2, c, 7, 9)
    rec(f"bn{c}", F.batch_norm(x, r(c), np.abs(r(c)) + 0.5, r(c), r(c)))
    rec(f"relu{c}", F.relu(x)); rec(f"clamp{c}", F.clamp(x, -0.5, 0.7))
    rec(f"gelu{c}", F.gelu(x)); rec(f"sm{c}", F.softmax(x, dim=1))
    rec(f"add{c}", F.add(x, r(2, c, 7, 9), alpha=0.3)); rec(f"mul{c}", F.mul(x, r(1, c, 1, 1)))
    rec(f"maxp{c}", F.max_pool2d(x, 3, 2, 1)); rec(f"avgp{c}", F.avg_pool2d(x, 3, 2, 1))
    rec(f"maxp2{c}", F.max_pool2d(x, 2)); rec(f"avgp2{c}", F.avg_pool2d(x, 2, 2, 0, True, False))
    rec(f"aavg{c}", F.adaptive_avg_pool2d(x, (3, 4)))
    rec(f"up{c}", F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
    rec(f"upn{c}", F.interpolate(x, scale_factor=2, mode="nearest"))
    rec(f"down{c}", F.interpolate(x, size=(3, 4), mode="bilinear", align_corners=True))
    rec(f"ln{c}", F.layer_norm(x, (9,), r(9), r(9)))
    rec(f"prelu{c}", F.prelu(x, r(c)))
    for co in (1, 7, 16, 33):
        rec(f"conv{c}_{co}", F.conv2d(x, r(co, c, 3, 3), r(co), 1, 1))
        rec(f"conv1x1{c}_{co}", F.conv2d(x, r(co, c, 1, 1), r(co)))
        rec(f"conv_s2{c}_{co}", F.conv2d(x, r(co, c, 3, 3), None, 2, 1))
        rec(f"convt{c}_{co}", F.conv_transpose2d(x, r(c, co, 3, 3), r(co), 2, 1, 1))
    rec(f"dw{c}", F.conv2d(x, r(c, 1, 3, 3), r(c), 1, 1, 1, c))
    rec(f"dw5{c}", F.conv2d(x, r(c, 1, 5, 5), r(c), 2, 2, 1, c))
    rec(f"lin{c}", F.linear(r(5, c), r(11, c), r(11)))
xb = r(1, 32, 20, 20)
rec("wino", F.conv2d(xb, r(32, 32, 3, 3), r(32), 1, 1))
rec("wino64", F.conv2d(r(2, 64, 28, 28), r(64, 64, 3, 3), r(64), 1, 1))

torch.manual_seed(0)
nn = torch.nn
class Net(nn.Module):
    def __init__(s, cin):
        super().__init__()
        s.c1 = nn.Conv2d(cin, 16, 3, 2, 1); s.b1 = nn.BatchNorm2d(16)
        s.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16); s.b2 = nn.BatchNorm2d(16)
        s.pw = nn.Conv2d(16, 24, 1); s.b3 = nn.BatchNorm2d(24)
        s.c3 = nn.Conv2d(24, 24, 3, 1, 1); s.b4 = nn.BatchNorm2d(24)
        s.up = nn.Upsample(scale_factor=2, mode="bilinear")
        s.ct = nn.ConvTranspose2d(24, 8, 2, 2)
        s.fc = nn.Linear(24, 10); s.mp = nn.MaxPool2d(3, 1, 1); s.ap = nn.AdaptiveAvgPool2d(1)
        s.fz = nn.Linear(8, 3)
    def forward(s, x):
        x = torch.relu(s.b1(s.c1(x)))
        x = torch.nn.functional.relu6(s.b2(s.dw(x)))
        x = s.b3(s.pw(x))
        x = s.mp(x)
        y = torch.relu(s.b4(s.c3(x)) + x)
        z = s.ct(s.up(y))
        return torch.cat([s.fc(torch.flatten(s.ap(y), 1)), s.fz(torch.flatten(s.ap(z), 1))], 1)
for cin in (3, 4):
    net = Net(cin).eval()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(); m.running_var.uniform_(0.5, 2)
    xin = torch.randn(2, cin, 32, 30)
    model = fastnorm.from_torch(net, xin)
    rec(f"net{cin}", model.predict(xin.numpy()))
json.dump(out, sys.stdout)
'''


ISAS = ("scalar", "avx2", "avx512")


def run(root, isa):
    env = dict(os.environ, FASTNORM_ISA=isa, PYTHONPATH=root)
    p = subprocess.run([sys.executable, "-c", CASES], cwd=root, env=env, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"{root} {isa}: {p.stderr[-2000:]}")
    return json.loads(p.stdout)


def main():
    if sys.argv[1] == "--dump":  # --dump ROOT OUT.json: keep one side's digests to compare against later
        json.dump({isa: run(sys.argv[2], isa) for isa in ISAS}, open(sys.argv[3], "w"))
        return
    old, new = sys.argv[1], sys.argv[2]
    saved = json.load(open(old)) if old.endswith(".json") else None
    bad = 0
    for isa in ISAS:
        a, b = saved[isa] if saved else run(old, isa), run(new, isa)
        diff = [k for k in a if a[k] != b.get(k)]
        bad += len(diff)
        print(f"{isa}: {len(a)} cases, {len(diff)} differ" + (": " + " ".join(diff[:20]) if diff else ""))
        print("  digest", hashlib.sha256(json.dumps(b, sort_keys=True).encode()).hexdigest()[:16])
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
