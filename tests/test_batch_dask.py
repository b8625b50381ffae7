"""Dask: a real distributed.LocalCluster with 2 worker processes, started here, predicting 2,000 images
(the examples/dask_batch.py recipe) and a folder of files with a corrupt one."""
import importlib.util
import os

import numpy as np
import pytest

import fastnorm
from fastnorm.batch import InputOptions, chunks, cpu_share, dask_register, predict_dask, predict_files_dask
from fastnorm.models import simple_cnn

distributed = pytest.importorskip("distributed")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def client():
    # Workers are spawned processes: they must import this checkout's fastnorm too.
    old = os.environ.get("PYTHONPATH")
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastnorm.__file__)))
    os.environ["PYTHONPATH"] = root + (os.pathsep + old if old else "")
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as c:
            yield c
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def _example():
    import sys
    if os.path.join(ROOT, "examples") not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, "examples"))
    spec = importlib.util.spec_from_file_location("dask_batch", os.path.join(ROOT, "examples", "dask_batch.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_example_2000_images_two_workers_match_one_process(client, capsys):
    assert len(client.scheduler_info(n_workers=-1)["workers"]) == 2
    assert _example().main(["--images", "2000", "--scheduler", client.scheduler.address]) == 0
    out = capsys.readouterr().out
    assert "2 workers, 2000 images" in out and "identical to one process: True" in out
    assert "model loads per worker [1, 1]" in out
    share = cpu_share(2)            # this host's CPUs split between the 2 workers
    assert "threads per worker [%d, %d]" % (share, share) in out


def test_arrays_in_order_and_loaded_once(client):
    m = fastnorm.Model(simple_cnn(seed=4))
    x = np.random.default_rng(9).standard_normal((301, 3, 32, 32)).astype(np.float32)
    name = dask_register(client, m)
    a = predict_dask(client, name, x, batch_size=64)
    b = predict_dask(client, name, x, batch_size=64)           # the same workers' models again
    m.num_threads = 1
    want = np.concatenate([m.predict(x[s]) for s in chunks(len(x), 64)])
    assert np.array_equal(a, want) and np.array_equal(b, want)
    assert sorted(client.run(lambda dask_worker: dask_worker._fastnorm_loads[name]).values()) == [1, 1]
    client.unregister_worker_plugin(name)


def test_files_with_a_corrupt_one(client, tmp_path):
    m = fastnorm.Model(simple_cnn(seed=5))
    rng = np.random.default_rng(2)
    x = rng.standard_normal((7, 3, 32, 32)).astype(np.float32)
    paths = []
    for i in range(7):
        p = tmp_path / ("img%d.npy" % i)
        np.save(p, x[i])
        paths.append(str(p))
    (tmp_path / "img3.npy").write_bytes(b"\x93NUMPY garbage")
    results = predict_files_dask(client, m, paths, batch_size=3, opts=InputOptions.for_model(m))
    got = {p: y for ys, good, _ in results if ys is not None for p, y in zip(good, ys)}
    bad = [b for _, _, fails in results for b in fails]
    assert [os.path.basename(p) for p, _ in bad] == ["img3.npy"]
    assert sorted(got) == sorted(p for p in paths if not p.endswith("img3.npy"))
    for i, p in enumerate(paths):
        if p in got:
            # a batch of 3 vs a batch of 1: kernels may block the batch differently (float32 rounding)
            np.testing.assert_allclose(got[p], m.predict(x[i:i + 1])[0], rtol=1e-5, atol=1e-5)


def test_predict_cli_on_the_cluster(client, tmp_path, capsys):
    from fastnorm import cli
    m = fastnorm.Model(simple_cnn(seed=8))
    mpath = str(tmp_path / "m.fnm")
    m.save(mpath)
    x = np.random.default_rng(4).standard_normal((5, 3, 32, 32)).astype(np.float32)
    for i in range(5):
        np.save(tmp_path / ("x%d.npy" % i), x[i])
    (tmp_path / "x2.npy").write_bytes(b"corrupt")
    out = str(tmp_path / "out.npy")
    args = ["predict", mpath, str(tmp_path / "x*.npy"), "-o", out, "--batch", "2",
            "--scheduler", client.scheduler.address]
    assert cli.main(args) == 0
    cap = capsys.readouterr()
    assert "skipped %s" % (tmp_path / "x2.npy") in cap.err and "4 file(s) predicted" in cap.out
    np.testing.assert_allclose(np.load(out), np.stack([m.predict(x[i:i + 1])[0] for i in (0, 1, 3, 4)]),
                               rtol=1e-5, atol=1e-5)
    assert cli.main(args) == 0
    assert "resuming: 4 of 5 files done" in capsys.readouterr().err
