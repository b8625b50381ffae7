"""SimpleCNN end to end: PyTorch -> fastnorm -> predict, save/load, folding, threads, bad input."""
import threading
import warnings

import numpy as np
import pytest

import fastnorm
from fastnorm.models import simple_cnn
from util import ATOL_MODEL, assert_ran, importorskip

torch = importorskip("torch")
from models import SimpleCNN, realistic_bn  # noqa: E402  (needs torch)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return realistic_bn(SimpleCNN())


@pytest.fixture(scope="module")
def model(net):
    return fastnorm.from_torch(net, torch.randn(1, 3, 32, 32))


def torch_out(net, x):
    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("batch", [1, 7, 64])
def test_simplecnn_matches_torch(isa, net, batch):
    m = fastnorm.from_torch(net, torch.randn(1, 3, 32, 32))  # built under the forced ISA
    x = np.random.default_rng(batch).standard_normal((batch, 3, 32, 32)).astype(np.float32)
    y = m.predict(x)
    assert_ran(isa)
    ref = torch_out(net, x)
    assert y.shape == (batch, 10) and y.dtype == np.float32
    assert np.abs(y - ref).max() <= ATOL_MODEL, np.abs(y - ref).max()


def test_bn_statistics_are_realistic(net):
    # the test above would be weak if BN were the identity
    for bn in (net.bn1, net.bn2):
        assert bn.running_var.min() < 0.9 or bn.running_var.max() > 1.1
        assert bn.running_mean.abs().max() > 0.05


def test_summary_shows_folded_bn(model):
    s = model.summary()
    assert "BN folded: bn1" in s and "BN folded: bn2" in s
    assert "0 standalone" in s
    assert not any(n.op == "batch_norm" for n in model.graph.nodes)
    assert [n.op for n in model.source_graph.nodes].count("batch_norm") == 2


def test_folded_and_unfolded_agree(isa, model):
    unfolded = fastnorm.Model(model.source_graph, optimize=False)
    x = np.random.default_rng(3).standard_normal((5, 3, 32, 32)).astype(np.float32)
    a, b = model.predict(x), unfolded.predict(x)
    assert_ran(isa)
    assert any(n.op == "batch_norm" for n in unfolded.graph.nodes)
    assert np.abs(a - b).max() <= 1e-5


def test_any_batch_on_one_model(model, net):
    for batch in (3, 1, 9, 3):
        x = np.random.default_rng(batch).standard_normal((batch, 3, 32, 32)).astype(np.float32)
        assert np.abs(model.predict(x) - torch_out(net, x)).max() <= ATOL_MODEL


def test_save_load_bit_identical(model, tmp_path):
    path = tmp_path / "simple.fnm"
    model.save(str(path))
    loaded = fastnorm.load(str(path))
    x = np.random.default_rng(5).standard_normal((4, 3, 32, 32)).astype(np.float32)
    assert np.array_equal(loaded.predict(x), model.predict(x))
    assert [t.shape for t in loaded.inputs] == [(None, 3, 32, 32)]
    assert [t.shape for t in loaded.outputs] == [(None, 10)]


def test_run_returns_every_output_by_name(model):
    x = np.zeros((2, 3, 32, 32), np.float32)
    out = model.run({"input": x})
    assert list(out) == ["output"] and out["output"].shape == (2, 10)


def test_training_mode_module_warns_and_uses_eval(net):
    net.train()
    try:
        with pytest.warns(UserWarning, match="training mode"):
            m = fastnorm.from_torch(net, torch.randn(2, 3, 32, 32))
        assert net.training, "the caller's module must not be switched to eval"
    finally:
        net.eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    assert np.abs(m.predict(x) - torch_out(net, x)).max() <= ATOL_MODEL


def test_thread_counts_give_identical_results(model):
    x = np.random.default_rng(11).standard_normal((6, 3, 32, 32)).astype(np.float32)
    try:
        fastnorm.set_num_threads(1)
        one = model.predict(x)
        fastnorm.set_num_threads(2)
        two = model.predict(x)
    finally:
        fastnorm.set_num_threads(None)
    assert np.array_equal(one, two)


def test_predict_from_many_threads(model):
    xs = [np.random.default_rng(i).standard_normal((i % 3 + 1, 3, 32, 32)).astype(np.float32)
          for i in range(8)]
    want = [model.predict(x) for x in xs]
    got = [None] * len(xs)

    def work(i):
        for _ in range(5):
            got[i] = model.predict(xs[i])

    ts = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for a, b in zip(got, want):
        assert np.array_equal(a, b)


def test_float64_and_noncontiguous_inputs(model, net):
    base = np.random.default_rng(2).standard_normal((3, 32, 32, 3))
    x64 = base.transpose(0, 3, 1, 2)            # float64 and not C-contiguous
    assert not x64.flags.c_contiguous
    ref = torch_out(net, np.ascontiguousarray(x64, np.float32))
    assert np.abs(model.predict(x64) - ref).max() <= ATOL_MODEL
    x32 = np.ascontiguousarray(base, np.float32).transpose(0, 3, 1, 2)
    assert np.abs(model.predict(x32) - ref).max() <= ATOL_MODEL


def test_empty_batch(model):
    assert model.predict(np.zeros((0, 3, 32, 32), np.float32)).shape == (0, 10)


@pytest.mark.parametrize("x, exc, phrase", [
    (np.zeros((3, 32, 32), np.float32), ValueError, "expected 4D"),
    (np.zeros((1, 4, 32, 32), np.float32), ValueError, "dimension 1: expected 3, got 4"),
    (np.zeros((1, 3, 31, 32), np.float32), ValueError, "dimension 2: expected 32, got 31"),
    (np.zeros((1, 3, 32, 32), np.int64), TypeError, "dtype int64"),
    (np.zeros((1, 3, 32, 32), np.complex64), TypeError, "dtype complex64"),
    (np.zeros((1, 3, 32, 32), bool), TypeError, "dtype bool"),
    ([[0.0] * 32] * 32, TypeError, "got list"),
    (None, TypeError, "got NoneType"),
])
def test_bad_input_is_named(model, x, exc, phrase):
    with pytest.raises(exc, match="input 'input'") as e:
        model.predict(x)
    assert phrase in str(e.value)


def test_run_checks_names(model):
    with pytest.raises(ValueError, match="missing \\['input'\\]"):
        model.run({"x": np.zeros((1, 3, 32, 32), np.float32)})
    with pytest.raises(TypeError, match="expected a dict"):
        model.run(np.zeros((1, 3, 32, 32), np.float32))


def test_unsupported_modules_listed_at_once():
    class Odd(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Conv2d(3, 4, 3)
            self.b = torch.nn.LPPool2d(3, 2)
            self.c = torch.nn.Unfold(2)

        def forward(self, x):
            return self.c(self.b(self.a(x)))

    with pytest.raises(fastnorm.UnsupportedError) as e:
        fastnorm.from_torch(Odd().eval(), torch.randn(1, 3, 8, 8))
    assert "LPPool2d" in str(e.value) and "Unfold" in str(e.value)


def test_embedded_model_runs_without_torch_objects():
    m = fastnorm.Model(simple_cnn(seed=1))
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    y = m.predict(x)
    assert y.shape == (2, 10) and np.isfinite(y).all()
    ref = fastnorm.Model(simple_cnn(seed=1), optimize=False).predict(x)
    assert np.abs(y - ref).max() <= 1e-5


def test_profile_names_fused_source_nodes(model):
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    rows = model.profile(x, repeat=3)
    ops = {tuple(src): op for op, src, _ in rows}
    assert ops[("conv1", "bn1")] == "conv2d" and ops[("fc2",)] == "linear"
    assert "?" not in {op for op, _, _ in rows}  # every step is named (the first conv reads NCHW: no layout step)
    assert all(s >= 0 for _, _, s in rows)
    assert [s for _, _, s in rows] == sorted((s for _, _, s in rows), reverse=True)
