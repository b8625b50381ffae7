"""bench/models_table.py --plot: the side-by-side picture from a pytest-benchmark JSON."""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _bench(model, batch, threads, runtime, median):
    return {"extra_info": {"model": model, "batch": batch, "threads": threads, "runtime": runtime,
                           "version": "1.0", "macs_per_image": 5e8},
            "stats": {"median": median, "min": median * 0.9, "mean": median * 1.1}}


def test_plot_writes_a_png(tmp_path):
    rows = [("resnet18", 1, 1, {"fastnorm": 0.020, "onnxruntime": 0.025, "openvino": 0.022, "torch": 0.040}),
            ("simplecnn", 16, 1, {"fastnorm": 0.001, "onnxruntime": 0.0012, "torch": 0.003})]
    data = {"machine_info": {"cpu": {"brand_raw": "test CPU", "count": 2}, "fastnorm_isa": "avx2"},
            "benchmarks": [_bench(m, b, t, rt, v) for m, b, t, d in rows for rt, v in d.items()]}
    runs = tmp_path / "runs.json"
    runs.write_text(json.dumps(data))
    out = tmp_path / "out.png"
    r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "models_table.py"), str(runs), "--plot",
                        str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "| ResNet-18 (0.50 G) | 1 | 1 |" in r.stdout and "wrote %s" % out in r.stdout
    png = out.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
