"""1x1 convs whose input and output together outgrow L2 ask the next rows chunk's input into L2 while
they compute the current one (src_c/conv/conv2d.c, dense_run's next_rows). A prefetch must change no
output: large stride-1 1x1 convs (the only ones that take it) are checked against NumPy on every ISA,
at one and two threads, with and without a fused residual and activation, and against torch."""
import numpy as np
import pytest

import fastnorm
import fastnorm.ops as F
import reference as R
from fastnorm.threads import set_num_threads
from util import assert_ran

# (n, cin, h, w, cout): each over 2 MB of input plus output; odd sizes leave short last chunks
CASES = [
    (1, 64, 112, 112, 64),
    (1, 32, 97, 113, 48),
    (2, 24, 61, 67, 72),     # batch 2: the chunks run on across the images
    (1, 131, 61, 67, 40),    # over 64 channels: the chunks are half as tall
    (1, 16, 90, 90, 96),
    (1, 160, 55, 57, 33),    # the largest dense cin; a narrow last panel
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "n%d-c%d-%dx%d-co%d" % c)
def test_large_1x1_conv_matches_numpy(case, threads, isa):
    n, cin, h, w, cout = case
    rng = np.random.default_rng(sum(case))
    x = rng.normal(0, 1, (n, cin, h, w)).astype(np.float32)
    wt = rng.normal(0, 0.2, (cout, cin, 1, 1)).astype(np.float32)
    b = rng.normal(0, 0.5, cout).astype(np.float32)
    set_num_threads(threads)
    try:
        got = F.conv2d(x, wt, b)
    finally:
        set_num_threads(None)
    assert_ran(isa)
    want = R.conv2d(x, wt, b, 1, 0, 1, 1)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())


def _torch_net(torch, cin, cout):
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Conv2d(cin, cout, 1)
            self.bn = torch.nn.BatchNorm2d(cout)
            self.b = torch.nn.Conv2d(cout, cout, 1)

        def forward(self, x):
            y = torch.relu(self.bn(self.a(x)))
            return torch.relu(self.b(y) + y)     # the residual and the relu fused into b

    torch.manual_seed(cin + cout)
    net = Net().eval()
    with torch.no_grad():
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.bn.running_var.uniform_(0.5, 2.0)
        net.bn.weight.uniform_(0.5, 1.5)
        net.bn.bias.uniform_(-0.3, 0.3)
    return net


@pytest.mark.parametrize("shape", [(1, 64, 112, 112), (2, 40, 73, 71)], ids=str)
def test_large_1x1_block_matches_torch(shape, isa):
    torch = pytest.importorskip("torch")
    n, cin, h, w = shape
    net = _torch_net(torch, cin, 64)
    x = np.random.default_rng(h).normal(0, 1, shape).astype(np.float32)
    model = fastnorm.from_torch(net, torch.from_numpy(x))
    got = model.predict(x)
    assert_ran(isa)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())
