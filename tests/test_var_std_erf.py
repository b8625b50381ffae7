"""var / std (aten var.correction, var.dim, std.*) and erf on the torch.export route, checked against
torch on every ISA at batch 1 and 3, and on the ONNX route (which exports var as a ReduceMean chain
and erf as Erf). var is mean((x - mean(x)) ** 2) * n / (n - correction) over the dims (n the elements
reduced); a correction with nothing left over (n <= correction) is refused by name."""
import numpy as np
import pytest

import fastnorm
from onnx_util import export
from util import importorskip

torch = importorskip("torch")
nn = torch.nn


class Stat(nn.Module):
    def __init__(self, f, c=8):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.f = f

    def forward(self, x):
        return self.f(self.conv(x))


CASES = {
    "std_hw": lambda y: y - y.std(dim=(2, 3), keepdim=True),
    "var_c": lambda y: y.var(dim=1, keepdim=True) + y,
    "var_biased_all": lambda y: y + torch.var(y, dim=(1, 2, 3), unbiased=False, keepdim=True),
    "std_correction2": lambda y: y * torch.std(y, dim=3, correction=2, keepdim=True),
    "var_dropped_dim": lambda y: y + torch.var(y, 1)[:, None],
    "weight_standardized": lambda y: (y - y.mean((1, 2, 3), keepdim=True)) / (y.std((1, 2, 3), keepdim=True) + 1e-5),
    "erf": lambda y: torch.erf(y * 0.7),
    "erf_gelu_written": lambda y: y * 0.5 * (1 + torch.erf(y / 2 ** 0.5)),
}


def _case(name, batch):
    torch.manual_seed(len(name))
    net = Stat(CASES[name]).eval()
    x = torch.randn(batch, 8, 7, 9, generator=torch.Generator().manual_seed(batch)) * 2
    with torch.no_grad():
        want = net(x).numpy()
    return net, x, want


def _close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", sorted(CASES))
def test_torch_route(isa, name, batch):
    net, x, want = _case(name, batch)
    m = fastnorm.from_torch(net, x)
    _close(m.predict(x.numpy()), want)
    if name.startswith("erf"):
        assert "erf" in {n.op for n in m.graph.nodes} | {n.op for n in m.source_graph.nodes}


@pytest.mark.parametrize("name", sorted(CASES))
def test_onnx_route(isa, name):
    importorskip("onnx")
    net, x, want = _case(name, 2)
    m = fastnorm.from_onnx(export(net, (1, 8, 7, 9), 17))
    _close(m.predict(x.numpy()), want)


def test_var_with_nothing_left_is_refused():
    net = Stat(lambda y: torch.var(y, dim=3, correction=9, keepdim=True) + y).eval()
    with pytest.raises(fastnorm.UnsupportedError, match="correction"):
        fastnorm.from_torch(net, torch.randn(1, 8, 7, 9))
