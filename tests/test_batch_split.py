"""The batch split among threads (fastnorm/plan/split.py): a batch of n on T threads, each thread its own
n / T samples, the early layers a few samples at a time and the rest all at once, must give torch's
answer (and the unsplit plan's) for every cut of the graph, every chunk, every ISA; it must stay out of
graphs whose samples meet (a softmax over the batch axis), batches that do not split evenly and callers
that change their thread count; and the C entry (_C.run_teams) must refuse what does not fit."""
import threading

import numpy as np
import pytest
from util import ATOL_MODEL, importorskip

torch = importorskip("torch")
nn = torch.nn

import fastnorm  # noqa: E402
import zoo  # noqa: E402
from fastnorm import _C  # noqa: E402
from fastnorm.graph import infer_shapes  # noqa: E402
from fastnorm.plan import split  # noqa: E402
from fastnorm.plan.core import Plan  # noqa: E402


class SmallNet(nn.Module):
    """Stem, an inverted residual with an SE gate, a plain residual block, a pool and a classifier:
    cuts between every block, 11 output channels (not a multiple of 16)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 12, 3, 2, 1, bias=False), nn.BatchNorm2d(12), nn.ReLU())
        self.expand = nn.Sequential(nn.Conv2d(12, 36, 1, bias=False), nn.BatchNorm2d(36), nn.Hardswish())
        self.dw = nn.Sequential(nn.Conv2d(36, 36, 3, 1, 1, groups=36, bias=False), nn.BatchNorm2d(36), nn.SiLU())
        self.se1, self.se2 = nn.Conv2d(36, 8, 1), nn.Conv2d(8, 36, 1)
        self.project = nn.Sequential(nn.Conv2d(36, 12, 1, bias=False), nn.BatchNorm2d(12))
        self.body = nn.Sequential(nn.Conv2d(12, 20, 3, 2, 1, bias=False), nn.BatchNorm2d(20), nn.ReLU(),
                                  nn.Conv2d(20, 20, 3, 1, 1, bias=False), nn.BatchNorm2d(20))
        self.short = nn.Sequential(nn.Conv2d(12, 20, 1, 2, bias=False), nn.BatchNorm2d(20))
        self.fc = nn.Linear(20, 11)

    def forward(self, x):
        x = self.stem(x)
        y = self.dw(self.expand(x))
        g = torch.sigmoid(self.se2(torch.relu(self.se1(y.mean((2, 3), keepdim=True)))))
        x = x + self.project(y * g)
        x = torch.relu(self.body(x) + self.short(x))
        return self.fc(x.mean((2, 3)))


class BatchSoftmax(nn.Module):
    """Samples meet: a softmax over the batch axis (its shapes alone keep dim 0 the batch)."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 6, 3, padding=1)

    def forward(self, x):
        return torch.softmax(self.c(x), 0)


def _model(cls, shape):
    torch.manual_seed(0)
    net = zoo.calibrate(cls(), shape)
    return net, fastnorm.from_torch(net, torch.randn((1,) + shape))


def _reference(net, x):
    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy()


def _close(got, want):
    scale = max(1.0, float(np.abs(want).max()))
    assert got.shape == want.shape
    err = float(np.abs(got - want).max()) / scale
    assert err < ATOL_MODEL, "max error %.3g (relative to %.3g)" % (err, scale)


def _predict(model, x, mode, monkeypatch):
    monkeypatch.setenv(split.ENV, mode)
    model._fast = None        # the mode is read when a shape's runner is made; drop the remembered one
    return model.predict(x)


def _runner(model):
    return model._fast[2]


@pytest.fixture
def small():
    return _model(SmallNet, (3, 17, 19))


def test_every_cut_and_chunk_matches_torch(isa, small, monkeypatch):
    net, model = small
    model.num_threads = 2
    graph = model.graph
    x = zoo.example_input((3, 17, 19), 4, seed=3).numpy()
    want = _reference(net, x)
    shapes1 = infer_shapes(graph, {graph.inputs[0].name: (1, 3, 17, 19)})
    cut_list = split.cuts(graph, shapes1)
    assert len(cut_list) >= 4, cut_list         # stem | block | block | pool | fc at least
    unsplit = _predict(model, x, "0", monkeypatch)
    assert isinstance(_runner(model), Plan)
    _close(unsplit, want)
    for k, value in cut_list + [(len(graph.nodes), None)]:
        for c in (1, 2):
            got = _predict(model, x, "cut:%d,%d" % (k, c), monkeypatch)
            r = _runner(model)
            assert isinstance(r, split.SplitRunner)
            assert [cc for _, cc in r.stages] == ([c, 2] if value is not None else [c])
            _close(got, want)
            np.testing.assert_allclose(got, unsplit, rtol=1e-4, atol=1e-5)
    _close(_predict(model, x, "whole", monkeypatch), want)
    assert isinstance(_runner(model), split.SplitRunner)
    _close(_predict(model, x, "auto", monkeypatch), want)     # split or not, by the estimate


@pytest.mark.parametrize("threads,n", [(2, 2), (2, 6), (3, 3), (3, 12)])
def test_batches_and_threads(small, threads, n, monkeypatch):
    net, model = small
    model.num_threads = threads
    x = zoo.example_input((3, 17, 19), n, seed=n).numpy()
    want = _reference(net, x)
    k = split.cuts(model.graph, infer_shapes(model.graph, {model.graph.inputs[0].name:
                                                           (1, 3, 17, 19)}))[1][0]
    for mode in ("auto", "whole", "cut:%d,1" % k):
        got = _predict(model, x, mode, monkeypatch)
        assert mode == "auto" or isinstance(_runner(model), split.SplitRunner)
        assert isinstance(_runner(model), Plan) or _runner(model).teams == threads
        _close(got, want)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small", "densenet_mini"])
def test_zoo_models_split(name, monkeypatch):
    net, shape = zoo.build(name)
    model = fastnorm.from_torch(net, torch.randn((1,) + tuple(shape)))
    model.num_threads = 2
    x = zoo.example_input(shape, 4, seed=1).numpy()
    want = _reference(net, x)
    cut_list = split.cuts(model.graph, infer_shapes(model.graph, {model.graph.inputs[0].name: (1,) + tuple(shape)}))
    assert cut_list
    picks = {cut_list[0][0], cut_list[len(cut_list) // 2][0], cut_list[-1][0]}
    for mode in ["auto", "whole"] + ["cut:%d,1" % k for k in sorted(picks)]:
        _close(_predict(model, x, mode, monkeypatch), want)
        assert mode == "auto" or isinstance(_runner(model), split.SplitRunner)


@pytest.mark.parametrize("n", [1, 3, 5])
def test_uneven_batch_runs_unsplit(small, n, monkeypatch):
    net, model = small
    model.num_threads = 2
    x = zoo.example_input((3, 17, 19), n, seed=n).numpy()
    _close(_predict(model, x, "auto", monkeypatch), _reference(net, x))
    assert isinstance(_runner(model), Plan)


def test_samples_that_meet_are_not_split(monkeypatch):
    net, model = _model(BatchSoftmax, (3, 5, 5))
    model.num_threads = 2
    x = zoo.example_input((3, 5, 5), 4, seed=2).numpy()
    for mode in ("auto", "whole"):
        _close(_predict(model, x, mode, monkeypatch), _reference(net, x))
        assert isinstance(_runner(model), Plan)
    g = model.graph
    shapes = [infer_shapes(g, {g.inputs[0].name: (b, 3, 5, 5)}) for b in (1, 3)]
    assert not split.separable(g, *shapes)


def test_thread_count_change(small, monkeypatch):
    net, model = small
    x = zoo.example_input((3, 17, 19), 4, seed=5).numpy()
    want = _reference(net, x)
    model.num_threads = 2
    _close(_predict(model, x, "whole", monkeypatch), want)
    assert isinstance(_runner(model), split.SplitRunner)
    model.num_threads = 1
    _close(model.predict(x), want)
    assert isinstance(_runner(model), Plan)
    model.num_threads = 2
    _close(model.predict(x), want)
    assert isinstance(_runner(model), split.SplitRunner)


def test_concurrent_callers(small, monkeypatch):
    net, model = small
    monkeypatch.setenv(split.ENV, "whole")
    model.num_threads = 2
    xs = [zoo.example_input((3, 17, 19), 4, seed=10 + i).numpy() for i in range(4)]
    wants = [_reference(net, x) for x in xs]
    got = [None] * len(xs)
    errors = []

    def work(i):
        try:
            for _ in range(5):
                got[i] = model.predict(xs[i])
        except BaseException as e:     # pragma: no cover (reported below)
            errors.append(e)
    ts = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    for g, w in zip(got, wants):
        _close(g, w)


@pytest.mark.parametrize("value,phrase", [("sometimes", "expected 0, auto, whole or cut:K,C"),
                                          ("cut:1", "cut:K,C"), ("cut:a,b", "cut:K,C")])
def test_bad_setting_is_named(small, value, phrase, monkeypatch):
    _, model = small
    model.num_threads = 2
    x = zoo.example_input((3, 17, 19), 4).numpy()
    with pytest.raises(ValueError, match=split.ENV) as e:
        _predict(model, x, value, monkeypatch)
    assert phrase in str(e.value)


def test_cut_that_is_not_one_is_named(small, monkeypatch):
    _, model = small
    model.num_threads = 2
    x = zoo.example_input((3, 17, 19), 4).numpy()
    cut_at = {k for k, _ in split.cuts(model.graph, infer_shapes(model.graph, {model.graph.inputs[0].name: (1, 3, 17, 19)}))}
    bad = next(k for k in range(1, len(model.graph.nodes)) if k not in cut_at)
    with pytest.raises(ValueError, match="not a cut"):
        _predict(model, x, "cut:%d,1" % bad, monkeypatch)
    with pytest.raises(ValueError, match="multiple"):
        _predict(model, x, "cut:%d,3" % min(cut_at), monkeypatch)


def test_cuts_leave_one_value_between(small):
    """Every cut's suffix reads exactly one value of the prefix (or of nothing else) and the output is
    made after it."""
    _, model = small
    g = model.graph
    shapes1 = infer_shapes(g, {g.inputs[0].name: (1, 3, 17, 19)})
    for k, v in split.cuts(g, shapes1):
        made = {g.inputs[0].name} | {o for n in g.nodes[:k] for o in n.outputs}
        read = {i for n in g.nodes[k:] for i in n.inputs if i and i not in g.weights}
        assert made & read == {v}
        assert g.outputs[0].name not in made
        prefix, suffix = split.cut_graph(g, k, v)
        assert [t.name for t in prefix.outputs] == [v] and [t.name for t in suffix.inputs] == [v]
        assert len(prefix.nodes) + len(suffix.nodes) == len(g.nodes)


def test_estimate_follows_traffic():
    """Large early activations and late heavy weights: cut, the prefix a sample at a time. Heavy early
    weights and small activations: no cut. The chunk always divides the samples a thread."""
    torch.manual_seed(0)
    early = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1), nn.ReLU(), nn.Conv2d(16, 16, 3, 1, 1), nn.ReLU(),
                          nn.MaxPool2d(8), nn.Conv2d(16, 512, 3, 1, 1), nn.ReLU(),
                          nn.Conv2d(512, 512, 3, 1, 1)).eval()
    m = fastnorm.from_torch(early, torch.randn(1, 3, 48, 48))   # 147 KB a map a sample, 9.4 MB of weights last
    g = m.graph
    shapes1 = infer_shapes(g, {g.inputs[0].name: (1, 3, 48, 48)})
    k, v, c = split.estimate(g, shapes1, 8, 1 << 20)
    assert 0 < k < len(g.nodes) and v is not None and c == 1
    heavy = nn.Sequential(nn.Conv2d(3, 1024, 3, 1, 1), nn.ReLU(), nn.Conv2d(1024, 1024, 1)).eval()
    m = fastnorm.from_torch(heavy, torch.randn(1, 3, 4, 4))
    g = m.graph
    shapes1 = infer_shapes(g, {g.inputs[0].name: (1, 3, 4, 4)})
    assert split.estimate(g, shapes1, 8, 1 << 20) == (0, None, 8)
    for mm in (1, 2, 3, 4, 6):
        k, v, c = split.estimate(g, shapes1, mm, 1 << 20)
        assert mm % c == 0


def test_run_teams_refuses_misfits(small):
    _, model = small
    model.num_threads = 1
    x = zoo.example_input((3, 17, 19), 1).numpy()
    model.predict(x)
    plan = _runner(model)
    xb, yb, oshape = plan.single_io
    arena, scratch = plan._take_arena(1)
    y = np.empty(oshape, np.float32)
    step = (plan.cplan, x, xb, y, yb, arena, scratch)
    _C.run_teams([[step], [step[:3] + (np.empty(oshape, np.float32),) + step[4:]]])   # fits: no error
    with pytest.raises(ValueError, match="teams"):
        _C.run_teams([])
    with pytest.raises(ValueError, match="input"):
        _C.run_teams([[(plan.cplan, x[:, :, :5].copy(), xb, y, yb, arena, scratch)]])
    with pytest.raises(ValueError, match="output"):
        _C.run_teams([[(plan.cplan, x, xb, y[:, :3].copy(), yb, arena, scratch)]])
    with pytest.raises(ValueError, match="arena"):
        _C.run_teams([[(plan.cplan, x, xb, y, yb, arena[:3], scratch)]])
    with pytest.raises(ValueError, match="out of range"):
        _C.run_teams([[(plan.cplan, x, xb, y, 10 ** 6, arena, scratch)]])
    with pytest.raises(ValueError, match="scratch"):
        _C.run_teams([[(plan.cplan, x, xb, y, yb, arena, np.empty(4, np.float32))]])
    with pytest.raises(TypeError):
        _C.run_teams([[("plan",) + step[1:]]])


def test_onnx_dynamic_sizes_split(monkeypatch):
    """A file exported with dynamic height and width (a PerShapeModel): the split runs on the graph
    converted at the input's size, not the load-time one."""
    importorskip("onnx")
    import io
    import warnings
    torch.manual_seed(0)
    net = zoo.calibrate(SmallNet(), (3, 17, 19))
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, torch.randn(1, 3, 17, 19), f, dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n"}})
    model = fastnorm.from_onnx(f.getvalue())
    model.num_threads = 2
    for shape in ((4, 3, 17, 19), (6, 3, 24, 13)):
        x = zoo.example_input(shape[1:], shape[0], seed=7).numpy()
        _close(_predict(model, x, "whole", monkeypatch), _reference(net, x))
        assert isinstance(_runner(model), split.SplitRunner)
        _close(_predict(model, x, "auto", monkeypatch), _reference(net, x))


def test_more_threads_than_teams_run_unsplit(small, monkeypatch):
    net, model = small
    monkeypatch.setattr(split, "MAX_TEAMS", 1)
    model.num_threads = 2
    x = zoo.example_input((3, 17, 19), 4, seed=9).numpy()
    _close(_predict(model, x, "whole", monkeypatch), _reference(net, x))
    assert isinstance(_runner(model), Plan)


@pytest.mark.parametrize("batch", [4, 16])
def test_auto_splits_where_the_saving_pays(batch, monkeypatch):
    """"auto" splits exactly where the estimate's best cut saves MIN_SAVING of the weights' bytes over no
    cut: an activation-heavy net (large early maps, a few KB of weights) splits; a weight-heavy one
    (a 1024 x 1024 1x1 conv on 4x4 images) runs unsplit."""
    budget = [2 << 20, 4 << 20]     # 2 MiB of L2, 4 MiB of L3 a thread: not this machine's, a fixed one
    monkeypatch.setattr(split, "_BUDGET", budget)
    torch.manual_seed(0)
    nets = {"maps": (nn.Sequential(nn.Conv2d(3, 32, 3, 1, 1), nn.ReLU(), nn.Conv2d(32, 32, 3, 1, 1), nn.ReLU(),
                                   nn.MaxPool2d(4), nn.Conv2d(32, 16, 1)).eval(), (3, 64, 64)),
            "weights": (nn.Sequential(nn.Conv2d(3, 1024, 3, 1, 1), nn.ReLU(), nn.Conv2d(1024, 1024, 1)).eval(),
                        (3, 4, 4))}
    for name, (net, shape) in nets.items():
        model = fastnorm.from_torch(net, torch.randn((1,) + shape))
        model.num_threads = 2
        x = zoo.example_input(shape, batch, seed=4).numpy()
        _close(_predict(model, x, "auto", monkeypatch), _reference(net, x))
        g = model.graph
        shapes1 = infer_shapes(g, {g.inputs[0].name: (1,) + shape})
        best, nocut, weights = split._costs(g, shapes1, batch // 2, *budget)
        pays = nocut - best[0] >= split.MIN_SAVING * weights
        assert isinstance(_runner(model), split.SplitRunner) == pays
        assert pays == (name == "maps"), (name, best, nocut, weights)
