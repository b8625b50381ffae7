"""Thread policy: per-model setting, the global setting, and no CPU burnt while idle."""
import os
import sys
import textwrap

import numpy as np
import pytest

import fastnorm
from fastnorm.graph import Graph, Node, TensorSpec
from util import run_python


def _model():
    rng = np.random.default_rng(0)
    g = Graph([TensorSpec("x", (None, 16, 64, 64))], [TensorSpec("y", (None, 32, 64, 64))],
              [Node("c", "conv2d", ["x", "w"], ["y"], {"padding": [1, 1, 1, 1]})],
              {"w": rng.standard_normal((32, 16, 3, 3)).astype(np.float32)})
    return fastnorm.Model(g)


def test_per_model_threads_validate_and_agree():
    m = _model()
    assert m.num_threads is None
    x = np.random.default_rng(1).standard_normal((2, 16, 64, 64)).astype(np.float32)
    base = m.predict(x)
    for n in (1, 2, 3):
        m.num_threads = n
        assert m.num_threads == n
        assert np.array_equal(m.predict(x), base)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="num_threads"):
            m.num_threads = bad
    m.num_threads = None
    assert fastnorm.Model(m.source_graph, num_threads=1).num_threads == 1


def test_idle_between_predicts_burns_no_cpu():
    """After a two-thread predict, the OpenMP workers must go to sleep: CPU time over 0.5 s of idle
    stays far below the 0.5 s a spinning worker would burn. Run in a fresh interpreter that imports
    fastnorm before anything else loads an OpenMP runtime, and check the spin bound set for libgomp
    is not left in the environment for child processes."""
    code = textwrap.dedent("""
        import os, time, numpy as np
        import fastnorm
        from fastnorm.graph import Graph, Node, TensorSpec
        assert "GOMP_SPINCOUNT" not in os.environ, "spin bound leaked into the environment"
        w = np.ones((64, 64, 3, 3), np.float32)
        g = Graph([TensorSpec("x", (None, 64, 56, 56))], [TensorSpec("y", (None, 64, 56, 56))],
                  [Node("c", "conv2d", ["x", "w"], ["y"], {"padding": [1, 1, 1, 1]})], {"w": w})
        m = fastnorm.Model(g, num_threads=2)
        x = np.ones((1, 64, 56, 56), np.float32)
        for _ in range(3):
            m.predict(x)
        c0 = time.process_time()
        time.sleep(0.5)
        print("IDLE_CPU %.4f" % (time.process_time() - c0))
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    r = run_python(["-c", code], env=env)
    assert r.returncode == 0, r.stderr
    idle = float(r.stdout.split("IDLE_CPU")[1])
    assert idle < 0.1, "%.3f s of CPU burnt in 0.5 s of idle" % idle


def test_user_wait_policy_is_respected():
    code = "import os, fastnorm; print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))"
    env = dict(os.environ, OMP_WAIT_POLICY="active")
    env.pop("GOMP_SPINCOUNT", None)
    r = run_python(["-c", code], env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["None", "active"]
