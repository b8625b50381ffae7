"""Every op family through the graph executor: small PyTorch models built from each op, imported
with from_torch and run as one C plan (NHWC inside), against PyTorch eval, under every ISA."""
import numpy as np
import pytest

import fastnorm
from util import ATOL_MODEL, assert_ran, importorskip

torch = importorskip("torch")
nn = torch.nn
F = torch.nn.functional


class Seq(nn.Module):
    """conv stem (so images reach the op in the executor's NHWC layout), then `body`."""

    def __init__(self, body, cin=3, c=16):
        super().__init__()
        self.stem = nn.Conv2d(cin, c, 3, padding=1)
        self.body = body

    def forward(self, x):
        return self.body(self.stem(x))


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def bn_no_stats():
    return nn.BatchNorm2d(16, track_running_stats=False)


def instance_running():
    m = nn.InstanceNorm2d(16, affine=True, track_running_stats=True)
    with torch.no_grad():
        m.running_mean.uniform_(-1, 1)
        m.running_var.uniform_(0.5, 2)
    return m


BODIES = {
    "group_norm": lambda: nn.GroupNorm(4, 16),
    "group_norm_relu": lambda: nn.Sequential(nn.GroupNorm(8, 16), nn.ReLU()),
    "instance_norm": lambda: nn.InstanceNorm2d(16),
    "instance_norm_affine": lambda: nn.InstanceNorm2d(16, affine=True),
    "instance_norm_running": instance_running,
    "layer_norm_chw": lambda: nn.LayerNorm([16, 7, 5]),
    "layer_norm_w": lambda: nn.LayerNorm(5),
    "batch_norm_batch_stats": bn_no_stats,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu_selu_celu": lambda: nn.Sequential(nn.ELU(0.7), nn.SELU(), nn.CELU(1.3)),
    "sigmoid_tanh_silu": lambda: nn.Sequential(nn.Sigmoid(), nn.Tanh(), nn.SiLU()),
    "gelu_both": lambda: nn.Sequential(nn.GELU(), nn.GELU(approximate="tanh")),
    "hard_mish_softplus": lambda: nn.Sequential(nn.Hardswish(), nn.Hardsigmoid(), nn.Mish(), nn.Softplus(2, 5)),
    "relu6": lambda: nn.ReLU6(),
    "prelu": lambda: nn.PReLU(16),
    "softmax_channels": lambda: nn.Softmax(dim=1),
    "log_softmax_width": lambda: nn.LogSoftmax(dim=3),
    "avg_pool": lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
    # 7x5 input, 2x2/2 ceil_mode: the last window overhangs the padded input; torch never counts it
    "avg_pool_ceil_count_pad": lambda: nn.AvgPool2d(2, 2, 1, ceil_mode=True, count_include_pad=True),
    "avg_pool_ceil_overhang": lambda: nn.AvgPool2d(2, 2, 0, ceil_mode=True),
    "adaptive_avg": lambda: nn.AdaptiveAvgPool2d((3, 2)),
    "adaptive_max": lambda: nn.AdaptiveMaxPool2d(1),
    "reflect_pad": lambda: nn.ReflectionPad2d((1, 2, 2, 1)),
    "replicate_pad": lambda: nn.ReplicationPad2d(2),
    "zero_pad": lambda: nn.ZeroPad2d((0, 1, 1, 0)),
    "upsample_nearest": lambda: nn.Upsample(scale_factor=2),
    "upsample_bilinear": lambda: nn.Upsample(size=(11, 9), mode="bilinear", align_corners=False),
    "upsample_bilinear_ac": lambda: nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True),
    "pixel_shuffle": lambda: nn.PixelShuffle(2),
    "pixel_unshuffle": lambda: nn.Sequential(nn.ZeroPad2d((0, 1, 1, 0)), nn.PixelUnshuffle(2)),
    "channel_shuffle": lambda: nn.ChannelShuffle(4),
    "residual_add": lambda: Fn(lambda x: F.relu(x) + x),
    "se_mul": lambda: Fn(lambda x: x * torch.sigmoid(F.adaptive_avg_pool2d(x, 1))),
    "scalar_ops": lambda: Fn(lambda x: x * 0.5 + 1.0),
    "cat_channels": lambda: Fn(lambda x: torch.cat([x, F.relu(x), x], 1)),
    "global_mean": lambda: Fn(lambda x: x.mean((2, 3))),
    "mean_keepdim": lambda: Fn(lambda x: x.mean((2, 3), keepdim=True) * x),
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_op_in_a_model_matches_torch(isa, name):
    torch.manual_seed(0)
    net = Seq(BODIES[name]()).eval()
    m = fastnorm.from_torch(net, torch.randn(1, 3, 7, 5))
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, 3, 7, 5)).astype(np.float32)
        y = m.predict(x)
        assert_ran(isa)
        with torch.no_grad():
            ref = net(torch.from_numpy(x)).numpy()
        assert y.shape == ref.shape
        assert np.abs(y - ref).max() <= ATOL_MODEL * max(1.0, np.abs(ref).max()), name


def test_norm_variant_cnn_matches_torch(isa):
    """The SimpleCNN layout with GroupNorm / InstanceNorm / LayerNorm-over-channels (issue 5's rows)."""
    class LNChannels(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.ln = nn.LayerNorm(c)

        def forward(self, x):
            return self.ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    for norm in (lambda c: nn.GroupNorm(8, c), lambda c: nn.InstanceNorm2d(c, affine=True)):
        torch.manual_seed(1)
        net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), norm(16), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(16, 32, 3, padding=1), norm(32), nn.ReLU(),
                            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(512, 10)).eval()
        m = fastnorm.from_torch(net, torch.randn(1, 3, 16, 16))
        x = np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32)
        with torch.no_grad():
            ref = net(torch.from_numpy(x)).numpy()
        assert np.abs(m.predict(x) - ref).max() <= ATOL_MODEL
        # norm + relu run as one kernel
        assert all(n.attrs.get("act") == ["relu"] for n in m.graph.nodes if n.op in ("group_norm", "instance_norm"))


def test_batch_stats_bn_is_not_folded():
    torch.manual_seed(2)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8, track_running_stats=False)).eval()
    m = fastnorm.from_torch(net, torch.randn(1, 3, 6, 6))
    assert [n.op for n in m.graph.nodes] == ["conv2d", "batch_norm"]
    x = np.random.default_rng(0).standard_normal((4, 3, 6, 6)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    assert np.abs(m.predict(x) - ref).max() <= ATOL_MODEL


def test_save_load_with_every_family(tmp_path):
    torch.manual_seed(0)
    net = Seq(nn.Sequential(nn.GroupNorm(4, 16), nn.GELU(), nn.Upsample(scale_factor=2, mode="bilinear"),
                            nn.ReflectionPad2d(1), nn.AvgPool2d(2), nn.PReLU(16))).eval()
    m = fastnorm.from_torch(net, torch.randn(1, 3, 7, 5))
    path = str(tmp_path / "fam.fnm")
    m.save(path)
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 5)).astype(np.float32)
    assert np.array_equal(fastnorm.load(path).predict(x), m.predict(x))
