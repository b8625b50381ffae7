"""threadpoolctl sees fastnorm's pool (user_api "fastnorm") and its limits cap every thread count,
whatever was imported first (threadpoolctl, fastnorm, torch). Fresh interpreters: import order matters."""
import os
import subprocess
import sys
import tempfile
import textwrap

import pytest

import fastnorm

pytest.importorskip("threadpoolctl")

CHECK = textwrap.dedent("""
    import numpy as np
    from fastnorm.models import simple_cnn
    import fastnorm._C
    info = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "fastnorm"]
    assert len(info) == 1, threadpoolctl.threadpool_info()
    assert os.path.samefile(info[0]["filepath"], fastnorm._C.__file__), info
    assert info[0]["version"] == fastnorm.__version__
    fastnorm.set_num_threads(2)
    m = fastnorm.Model(simple_cnn(seed=2), num_threads=2)
    x = np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32)
    y2 = m.predict(x)
    # the info is read live (what torch did to a shared libgomp before set_num_threads does not matter)
    assert [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "fastnorm"] == [2]
    assert m._nthreads() == 2
    with threadpoolctl.threadpool_limits(1):
        assert fastnorm.get_num_threads() == 1 and m._nthreads() == 1
        assert [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "fastnorm"] == [1]
        y1 = m.predict(x)
    assert fastnorm.get_num_threads() == 2 and m._nthreads() == 2, "the limit is lifted on exit"
    with threadpoolctl.threadpool_limits(1, user_api="fastnorm"):
        assert m._nthreads() == 1
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert m._nthreads() == 2, "fastnorm's explicit setting is not the openmp API's"
    assert m._nthreads() == 2
    assert np.array_equal(y1, y2)
    print("OK", sorted({i["user_api"] for i in threadpoolctl.threadpool_info()}))
""")

ORDERS = {
    "fastnorm_then_threadpoolctl": "import os, fastnorm, threadpoolctl\n",
    "threadpoolctl_then_fastnorm": "import os, threadpoolctl, fastnorm\n",
    "torch_first": "import os, torch, fastnorm, threadpoolctl\n",
    "torch_last": "import os, fastnorm, threadpoolctl, torch\n",
}


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_info_and_limits(order):
    if "torch" in order:
        pytest.importorskip("torch")
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastnorm.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("OMP_NUM_THREADS", None)
    with tempfile.TemporaryDirectory() as cwd:
        r = subprocess.run([sys.executable, "-c", ORDERS[order] + CHECK], capture_output=True, text=True,
                           env=env, cwd=cwd, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK" in r.stdout and "fastnorm" in r.stdout


def test_limit_in_this_process():
    import threadpoolctl
    ctl = threadpoolctl.ThreadpoolController().select(user_api="fastnorm")
    assert len(ctl.lib_controllers) == 1
    before = fastnorm.get_num_threads()
    from fastnorm.models import simple_cnn
    m = fastnorm.Model(simple_cnn(seed=0), num_threads=3)
    with ctl.limit(limits=1):
        assert fastnorm.get_num_threads() == 1 and m._nthreads() == 1
    assert fastnorm.get_num_threads() == before
    assert m._nthreads() == 3


def test_repaired_wheel_uses_its_own_libgomp_whatever_was_imported_first():
    """A repaired wheel vendors libgomp (fastnorm.libs/); torch puts its own libgomp in the global
    symbol scope. fastnorm must bind to its copy (fastnorm/__init__.py loads _C with RTLD_DEEPBIND), so
    limiting torch's pool leaves fastnorm's alone, with torch imported before or after fastnorm."""
    libs = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(fastnorm.__file__))), "fastnorm.libs")
    if not os.path.isdir(libs):
        pytest.skip("not an installed repaired wheel: _C links the system libgomp")
    pytest.importorskip("torch")
    code = textwrap.dedent("""
        import threadpoolctl
        from fastnorm import _C
        before = _C.omp_max_threads()
        torch_pools = [c for c in threadpoolctl.ThreadpoolController().lib_controllers
                       if c.user_api == "openmp" and "fastnorm.libs" not in c.filepath]
        assert torch_pools, threadpoolctl.threadpool_info()
        for c in torch_pools:
            c.set_num_threads(1)
        assert _C.omp_max_threads() == before, "fastnorm's OpenMP calls went to torch's libgomp"
        print("OK", before)
    """)
    for imports in ("import os, torch, fastnorm\n", "import os, fastnorm, torch\n"):
        env = dict(os.environ, OMP_NUM_THREADS="2")
        with tempfile.TemporaryDirectory() as cwd:
            r = subprocess.run([sys.executable, "-c", imports + code], capture_output=True, text=True, env=env,
                               cwd=cwd, timeout=300)
        assert r.returncode == 0 and "OK 2" in r.stdout, imports + r.stdout + r.stderr
