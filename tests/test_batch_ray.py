"""Ray Data: examples/ray_batch.py (ray.init on this machine, map_batches with 2 RayPredictor actors)
predicts 2,000 images equal to one process's answer; skipped where Ray is not installed. CI's [test]
extra does not install Ray (ray[data] brings 24 packages, ~450 MB with pyarrow and pandas, and Ray's
start-up takes tens of seconds): CI runs only the RayPredictor test, which needs no Ray."""
import os
import subprocess
import sys

import pytest

import fastnorm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_example_2000_images_two_actors_match_one_process(tmp_path):
    pytest.importorskip("ray")
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(fastnorm.__file__)))
    env = dict(os.environ, PYTHONPATH=pkg_root + os.pathsep + os.environ.get("PYTHONPATH", ""),
               RAY_DATA_DISABLE_PROGRESS_BARS="1")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "ray_batch.py"), "--images", "2000"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=500)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "2 actors, 2000 images" in r.stdout and "identical to one process: True" in r.stdout


def test_predictor_loads_once_and_takes_its_cpus():
    import numpy as np
    from fastnorm.batch import RayPredictor
    from fastnorm.models import simple_cnn
    m = fastnorm.Model(simple_cnn(seed=1))
    p = RayPredictor(m, num_threads=1)
    x = np.random.default_rng(0).standard_normal((3, 3, 32, 32)).astype(np.float32)
    out = p({"data": x})
    assert p.model.num_threads == 1 and np.array_equal(out["y"], m.predict(x))
