"""New unit axes on from_torch's routes: x.unsqueeze(d) of a per-sample vector (n,) -> (n, 1) and
x[:, None, None] / x[..., None, None] indexing, as gates and per-sample scales write them. The fx route
read an (n,) -> (n, 1) unsqueeze as a flatten of a 1-D tensor (a FormatError for a valid module) and
refused None in an index; both are reshapes that keep the batch dim. An index that mixes new axes with
real slicing stays refused with UnsupportedError."""
import numpy as np
import pytest
from util import ATOL_MODEL, importorskip

torch = importorskip("torch")
nn = torch.nn

import fastnorm  # noqa: E402
from fastnorm.errors import UnsupportedError  # noqa: E402


class SampleScale(nn.Module):
    """A per-sample scalar (n,) broadcast back over (n, c, h, w) three ways."""
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 5, 3, padding=1)

    def forward(self, x):
        y = self.c(x)
        s = y.flatten(1).mean(1)                                  # (n,)
        return y * s.unsqueeze(1).unsqueeze(2).unsqueeze(-1) + s[:, None, None, None] \
            - s.reshape(-1, 1)[:, :, None, None]


class ChannelGate(nn.Module):
    """A squeeze-and-excitation style gate: (n, c) -> (n, c, 1, 1) by indexing."""
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 6, 3, padding=1)
        self.fc = nn.Linear(6, 6)

    def forward(self, x):
        y = self.c(x)
        g = torch.sigmoid(self.fc(y.mean((2, 3))))              # (n, c)
        return y * g[..., None, None] + g[:, :, None][..., None]


class MixedIndex(nn.Module):
    def forward(self, x):
        return x[:, None, 1:3].sum(1)


@pytest.mark.parametrize("route", ["fx", "export"])
@pytest.mark.parametrize("cls", [SampleScale, ChannelGate])
@pytest.mark.parametrize("size", [1, 7])
def test_new_unit_axes_match_torch(cls, route, size):
    torch.manual_seed(0)
    net = cls().eval()
    m = fastnorm.from_torch(net, torch.randn(1, 3, size, size), route=route)
    for n in (1, 3):
        x = torch.randn(n, 3, size, size)
        with torch.no_grad():
            want = net(x).numpy()
        got = m.predict(x.numpy())
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=ATOL_MODEL * max(1.0, float(np.abs(want).max())))


def test_new_axes_mixed_with_slicing_are_refused_on_fx():
    with pytest.raises(UnsupportedError, match="indexing"):
        fastnorm.from_torch(MixedIndex().eval(), torch.randn(1, 3, 4, 4), route="fx")
