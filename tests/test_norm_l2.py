"""L2 normalisation and the elementwise math behind it, on every route and ISA: an embedding head
ending in F.normalize (torch.export's linalg_vector_norm, ONNX ReduceL2 -> Clip -> Expand -> Div), a
GAN's pixel norm (x * rsqrt(mean(x ** 2, dim=1) + eps): Pow, Sqrt, Div in ONNX), and x ** e for the
exponents that map (2 -> square, 0.5 -> sqrt, -0.5 -> rsqrt, -1 -> 1 / x, 1); an exponent that does
not map is refused by name. Bound: the model bound, max abs error <= 1e-4 x max(1, max |output|)."""
import io
import warnings

import numpy as np
import pytest
from util import ATOL_MODEL, assert_ran, importorskip

torch = importorskip("torch")
importorskip("onnx")
nn, F = torch.nn, torch.nn.functional

import fastnorm  # noqa: E402
from fastnorm.errors import UnsupportedError  # noqa: E402
from onnx_util import export  # noqa: E402
from zoo import calibrate, example_input  # noqa: E402


class Embedding(nn.Module):
    """A BN CNN with an L2-normalised embedding (face / re-identification heads)."""
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                                  nn.Conv2d(16, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU())
        self.fc = nn.Linear(32, 24)

    def forward(self, x):
        e = self.fc(F.adaptive_avg_pool2d(self.body(x), 1).flatten(1))
        return F.normalize(e, dim=1)


class FeatureNorm(nn.Module):
    """F.normalize over the channels of a feature map, and a pixel norm (ProGAN)."""
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 12, 3, 1, 1)
        self.c2 = nn.Conv2d(12, 8, 3, 1, 1)

    def forward(self, x):
        y = F.normalize(self.c1(x), dim=1)
        z = F.leaky_relu(self.c2(y), 0.2)
        return z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class Powers(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 6, 3, 1, 1)

    def forward(self, x):
        y = torch.sigmoid(self.c(x)) + 0.25       # positive: every power is finite
        return y ** 2 + y ** 0.5 - y ** -0.5 + y ** -1 + y ** 1 + torch.sqrt(y) * torch.exp(-y) + torch.log(y)


SHAPE = (3, 20, 18)
_CACHE = {}


def _routes(cls):
    if cls not in _CACHE:
        torch.manual_seed(0)
        net = calibrate(cls(), SHAPE, seed=0)
        models = {"torch": fastnorm.from_torch(net, example_input(SHAPE, 1)),
                  "onnx17": fastnorm.from_onnx(export(net, (1,) + SHAPE, 17)),
                  "onnx13": fastnorm.from_onnx(export(net, (1,) + SHAPE, 13))}
        f = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (example_input(SHAPE, 2),), dynamo=True, verbose=False,
                              dynamic_shapes=({0: torch.export.Dim("N")},)).save(f)
        models["dynamo"] = fastnorm.from_onnx(f.getvalue())
        _CACHE[cls] = net, models
    return _CACHE[cls]


@pytest.mark.parametrize("route", ["torch", "onnx17", "onnx13", "dynamo"])
@pytest.mark.parametrize("cls", [Embedding, FeatureNorm, Powers])
def test_matches_torch(cls, route, isa):
    net, models = _routes(cls)
    for batch in (1, 3):
        x = example_input(SHAPE, batch, seed=batch)
        with torch.no_grad():
            ref = net(x).numpy()
        got = models[route].predict(x.numpy())
        assert_ran(isa)
        err = float(np.abs(got - ref).max())
        assert err <= ATOL_MODEL * max(1.0, float(np.abs(ref).max())), (cls.__name__, route, batch, err)


def test_normalised_rows_have_unit_norm():
    net, models = _routes(Embedding)
    y = models["onnx17"].predict(example_input(SHAPE, 4, seed=7).numpy())
    np.testing.assert_allclose(np.linalg.norm(y.astype(np.float64), axis=1), 1.0, rtol=1e-6)


class OddPower(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3, 1, 1)

    def forward(self, x):
        return self.c(x) ** 3


def test_integer_exponent_runs_as_multiplications():
    """x ** 3: a square and a multiply (optable.emit_pow), exact for negative values, on both routes."""
    net = OddPower().eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        want = net(x).numpy()
    for m in (fastnorm.from_onnx(export(net, (1, 3, 8, 8), 17)),
              fastnorm.from_torch(net, torch.randn(1, 3, 8, 8), route="export")):
        assert [n.op for n in m.graph.nodes] == ["conv2d", "square", "mul"]
        np.testing.assert_allclose(m.predict(x.numpy()), want, rtol=2e-6, atol=2e-6 * np.abs(want).max())
