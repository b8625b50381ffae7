"""In-place ops on from_torch's torch.fx route (also where route="auto" falls back when torch.export
fails). fx records `relu(y)` of an nn.ReLU(inplace=True), F.relu(y, inplace=True) or y.add_(1) as a
node whose result is a new value; the nodes after it that read y by its old node must see the change,
as torch computes them (fastnorm.frontends.torch._functionalize_inplace). What fx cannot express (a
`+=` through an alias, a view read after its base changed) is refused with UnsupportedError, never
loaded as a different function. Constructs the fx mapping does not expect raise UnsupportedError too,
not a raw TypeError."""
import numpy as np
import pytest
from util import ATOL_MODEL, importorskip

torch = importorskip("torch")
nn, F = torch.nn, torch.nn.functional

import fastnorm  # noqa: E402
from fastnorm.errors import UnsupportedError  # noqa: E402


class _Base(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 8, 3, 1, 1)
        self.c2 = nn.Conv2d(8, 8, 1)
        self.bn = nn.BatchNorm2d(8)


class ReluModuleDiscarded(_Base):
    def __init__(self):
        super().__init__()
        self.r = nn.ReLU(inplace=True)

    def forward(self, x):
        y = self.c(x)
        self.r(y)          # result discarded: y itself is now relu(y)
        return self.c2(y)


class FunctionalInplace(_Base):
    def forward(self, x):
        y = self.c(x)
        F.relu(y, inplace=True)
        F.hardtanh(y, -0.5, 0.5, inplace=True)
        return self.c2(y) + y


class MethodChain(_Base):
    def forward(self, x):
        y = self.bn(self.c(x))
        y.add_(1.0)
        y.mul_(0.5)
        z = self.c2(y)
        return z - y


class ResidualRebound(_Base):
    """torchvision's BasicBlock: out += identity; out = relu(out) (a rebinding: always fine)."""
    def __init__(self):
        super().__init__()
        self.r = nn.ReLU(inplace=True)

    def forward(self, x):
        identity = self.c(x)
        out = self.r(self.bn(self.c2(identity)))
        out += identity
        out = self.r(out)
        return out


class InputMutated(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3, 1, 1)

    def forward(self, x):
        x.mul_(2.0)
        return self.c(x) + x[:, :1]


@pytest.mark.parametrize("cls", [ReluModuleDiscarded, FunctionalInplace, MethodChain, ResidualRebound,
                                 InputMutated])
@pytest.mark.parametrize("route", ["fx", "auto"])
def test_inplace_ops_match_torch(cls, route):
    torch.manual_seed(0)
    net = cls().eval()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    for batch in (1, 3):
        x = torch.randn(batch, 3, 11, 9, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            ref = net(x.clone()).numpy()
        model = fastnorm.from_torch(net, x.clone(), route=route)
        got = model.predict(x.numpy())
        err = np.abs(got - ref).max()
        assert err <= ATOL_MODEL * max(1.0, np.abs(ref).max()), (cls.__name__, route, batch, err)


class IaddThroughAlias(_Base):
    def forward(self, x):
        y = self.c(x)
        identity = y
        y += self.c2(y)       # fx traces y = y + c2(y); identity would keep the old value
        return identity * 2


class ViewReadAfterChange(_Base):
    def forward(self, x):
        y = self.c(x)
        v = y.view(y.shape[0], -1)
        y.add_(1.0)
        return v.sum(1, keepdim=True)


@pytest.mark.parametrize("cls,what", [(IaddThroughAlias, "never read"),
                                      (ViewReadAfterChange, "a view of it")])
def test_what_fx_cannot_express_is_refused(cls, what):
    torch.manual_seed(0)
    net = cls().eval()
    x = torch.randn(2, 3, 8, 8)
    with pytest.raises(UnsupportedError, match=what):
        fastnorm.from_torch(net, x, route="fx")
    # torch.export functionalises the graph itself: the auto route loads it, right
    with torch.no_grad():
        ref = net(x.clone()).numpy()
    got = fastnorm.from_torch(net, x.clone()).predict(x.numpy())
    assert np.abs(got - ref).max() <= ATOL_MODEL * max(1.0, np.abs(ref).max())


class SizeFromShape(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3, 2, 1)

    def forward(self, x):
        return F.interpolate(self.c(x), size=x.shape[-2:], mode="bilinear", align_corners=False)


def test_unexpected_construct_is_an_unsupported_error():
    x = torch.randn(1, 3, 16, 16)
    with pytest.raises(UnsupportedError, match="interpolate"):
        fastnorm.from_torch(SizeFromShape().eval(), x, route="fx")
