"""Issue 12's bench row: split-heavy models (a CSPNet-style and a GhostNet-style net at 224x224, batch 1)
in fastnorm vs ONNX Runtime, one thread, timed in turns (bench/_timing.py).

    python bench/bench_zoo_split.py                 # the table: median ms and fastnorm / ORT ratio
    python -m pytest bench/bench_zoo_split.py       # the same, as checks that both runtimes agree

The nets are tests/zoo_split.py's blocks at ImageNet widths, BatchNorm statistics randomised (seeded).
ORT: the model exported once (torch.onnx.export, dynamo=False, opset 17), ORT_ENABLE_ALL,
bench/_peers.ort_options(1). fastnorm: fastnorm.from_onnx on the same bytes (the ONNX route).
"""
import io
import os
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import _peers  # noqa: E402
from _timing import interleaved  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", "6"))


def _nets():
    import torch.nn as nn
    from zoo_split import CSPStage, Ghost, conv_bn

    class CSPNet224(nn.Module):
        """CSPDarknet-like: strided 3x3 downsamples, CSP stages (chunk, residual blocks, cat, 1x1)."""
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(conv_bn(3, 32, 3, 2), conv_bn(32, 64, 3, 2), CSPStage(64, 1),
                                      conv_bn(64, 128, 3, 2), CSPStage(128, 2), conv_bn(128, 256, 3, 2),
                                      CSPStage(256, 2), conv_bn(256, 512, 3, 2), CSPStage(512, 1))
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000))

        def forward(self, x):
            return self.head(self.body(x))

    class GhostBottleneck(nn.Module):
        def __init__(self, cin, mid, cout, stride):
            super().__init__()
            self.g1 = Ghost(cin, mid)
            self.dw = conv_bn(mid, mid, 3, stride, g=mid, act=False) if stride > 1 else nn.Identity()
            self.g2 = Ghost(mid, cout, relu=False)
            self.short = (nn.Identity() if stride == 1 and cin == cout else
                          nn.Sequential(conv_bn(cin, cin, 3, stride, g=cin, act=False), conv_bn(cin, cout, 1, act=False)))

        def forward(self, x):
            return self.g2(self.dw(self.g1(x))) + self.short(x)

    class GhostNet224(nn.Module):
        """GhostNet-1.0-like widths (no SE): ghost modules (1x1 primary, depthwise cheap, cat, slice)."""
        def __init__(self):
            super().__init__()
            cfg = [(16, 16, 16, 1), (16, 48, 24, 2), (24, 72, 24, 1), (24, 72, 40, 2), (40, 120, 40, 1),
                   (40, 240, 80, 2), (80, 200, 80, 1), (80, 480, 112, 1), (112, 672, 160, 2), (160, 960, 160, 1)]
            self.stem = conv_bn(3, 16, 3, 2)
            self.blocks = nn.Sequential(*[GhostBottleneck(*c) for c in cfg])
            self.head = nn.Sequential(conv_bn(160, 960, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(960, 1000))

        def forward(self, x):
            return self.head(self.blocks(self.stem(x)))

    return {"cspnet224": CSPNet224, "ghostnet224": GhostNet224}


def _calibrated(cls, torch):
    torch.manual_seed(0)
    net = cls()
    g = torch.Generator().manual_seed(1)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return net.eval()


def run(names=None, threads=1, seconds=SECONDS):
    """{name: (fastnorm median s, ORT median s, max rel err vs torch)}."""
    import torch

    import fastnorm
    rows = {}
    for name, cls in _nets().items():
        if names and name not in names:
            continue
        net = _calibrated(cls, torch)
        x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            ref = net(x).numpy()
        f = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, x, f, opset_version=17, dynamo=False, input_names=["input"],
                              dynamic_axes={"input": {0: "n"}})
        data, xn = f.getvalue(), x.numpy()
        sess = _peers.ort_session(data, threads)
        with _peers.pinned(threads):
            model = fastnorm.from_onnx(data)
            err = float(np.abs(model.predict(xn) - ref).max() / max(1.0, np.abs(ref).max()))
            s = interleaved({"fastnorm": lambda: model.predict(xn),
                             "onnxruntime": lambda: sess.run(None, {"input": xn})}, seconds=seconds)
        rows[name] = (float(np.median(s["fastnorm"])), float(np.median(s["onnxruntime"])), err)
    return rows


def test_zoo_split_rows_agree_with_torch():
    _peers.need("onnxruntime")
    for name, (tf, to, err) in run(seconds=0.5).items():
        assert err <= 1e-4, "%s: fastnorm vs torch %.3g" % (name, err)


if __name__ == "__main__":
    import fastnorm
    info = fastnorm.cpu_info()
    print("1 thread, batch 1, 224x224; ISA %s" % info["isa"])
    print("%-12s %12s %12s %8s %10s" % ("model", "fastnorm ms", "ORT ms", "ratio", "rel err"))
    for name, (tf, to, err) in run(sys.argv[1:]).items():
        print("%-12s %12.2f %12.2f %8.2f %10.2g" % (name, tf * 1e3, to * 1e3, tf / to, err))
