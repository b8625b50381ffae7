"""The command line: demo runs end to end without torch; info, convert and bench read a file."""
import re

import numpy as np

import fastnorm
from fastnorm.models import simple_cnn
from util import importorskip, run_python


def run(*args):
    return run_python(["-m", "fastnorm.cli", *args])


def test_demo_runs():
    r = run("demo", "--batch", "4", "--repeat", "2")
    assert r.returncode == 0, r.stderr
    assert "BN folded: bn1" in r.stdout and "batch   4" in r.stdout


def test_info_and_bench(tmp_path):
    path = str(tmp_path / "m.fnm")
    fastnorm.Model(simple_cnn()).save(path)
    r = run("info", path)
    assert r.returncode == 0, r.stderr
    assert "input  input [None, 3, 32, 32] float32" in r.stdout
    r = run("bench", path, "--batch", "2", "--repeat", "3", "--threads", "1")
    assert r.returncode == 0 and "images/s" in r.stdout


def test_info_on_a_bad_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.fnm"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    r = run("info", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "bad.fnm" in r.stderr


def _untrained_fixed_batch(path):
    """simple_cnn with bn1 at its initial statistics and the batch fixed to 1, saved to `path`."""
    from fastnorm.graph import TensorSpec
    g = simple_cnn()
    g.weights["bn1.running_mean"] = g.weights["bn1.running_mean"] * 0
    g.weights["bn1.running_var"] = g.weights["bn1.running_var"] * 0 + 1
    g.inputs = [TensorSpec("input", (1, 3, 32, 32))]
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fastnorm.Model(g).save(path)


def test_info_shows_counts_and_the_doctors_findings(tmp_path):
    path = str(tmp_path / "m.fnm")
    _untrained_fixed_batch(path)
    r = run("info", path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "input  input [1, 3, 32, 32] float32" in out and "output logits [None, 10] float32" in out
    assert "12 in the file: relu 3, batch_norm 2, conv2d 2" in out
    assert "MACs   1,885,440 per image" in out and "params 268,842 in the file" in out
    assert "bn1 -> folded into conv1 (conv2d), error" in out
    assert "doctor: 3 finding(s) (0 errors, 2 warnings, 1 info)" in out
    assert "warning [bn_default_stats] bn1: running statistics are at their initial values" in out
    assert "fix: load the trained state_dict" in out
    assert "warning [fixed_batch] input:" in out and "dynamic_axes={'input': {0: 'batch'}}" in out
    assert "FastnormWarning" not in r.stderr, "info prints the findings; no warnings on top"


def test_convert_fnm_round_trip_predicts_identically(tmp_path):
    src, dst = str(tmp_path / "a.fnm"), str(tmp_path / "b.fnm")
    fastnorm.Model(simple_cnn(seed=3)).save(src)
    r = run("convert", src, dst)
    assert r.returncode == 0, r.stderr
    assert "wrote %s: 12 nodes" % dst in r.stdout and "identical predictions" in r.stdout
    assert "nothing wrong found" in r.stdout
    a, b = fastnorm.load(src), fastnorm.load(dst)
    assert len(b.source_graph.nodes) == 12, "the source graph is saved, re-optimised at load"
    x = np.random.default_rng(0).standard_normal((3, 3, 32, 32)).astype(np.float32)
    assert np.array_equal(a.predict(x), b.predict(x))


def test_convert_reports_doctor_warnings(tmp_path):
    src, dst = str(tmp_path / "a.fnm"), str(tmp_path / "b.fnm")
    _untrained_fixed_batch(src)
    r = run("convert", src, dst)
    assert r.returncode == 0, r.stderr
    assert "2 warning(s)/error(s)" in r.stdout and "[bn_default_stats]" in r.stderr


def test_convert_errors_exit_2_with_a_message(tmp_path):
    garbage = tmp_path / "garbage.fnm"
    garbage.write_bytes(b"this is not a model file at all")
    out = str(tmp_path / "out.fnm")
    for src in (str(tmp_path / "missing.fnm"), str(garbage)):
        r = run("convert", src, out)
        assert r.returncode == 2, (r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.startswith("fastnorm convert: ")
        assert src in r.stderr
    ok = str(tmp_path / "ok.fnm")
    fastnorm.Model(simple_cnn()).save(ok)
    r = run("convert", ok, str(tmp_path / "out.onnx"))
    assert r.returncode == 2 and ".fnm files only" in r.stderr
    assert not (tmp_path / "out.fnm").exists()


def _saved(tmp_path):
    path = str(tmp_path / "m.fnm")
    fastnorm.Model(simple_cnn()).save(path)
    return path


def test_bench_prints_latency_and_throughput(tmp_path):
    r = run("bench", _saved(tmp_path), "--batch", "2", "--threads", "1", "--warmup", "1", "--runs", "4")
    assert r.returncode == 0, r.stderr
    assert "batch 2, 1 thread(s)" in r.stdout and "4 runs after 1 warm-up" in r.stdout
    assert re.search(r"median [0-9.]+ ms, p90 [0-9.]+ ms", r.stdout)
    assert re.search(r"throughput [0-9.]+ images/s", r.stdout)
    assert "bench [" not in r.stderr, "no progress bar when stderr is not a terminal"


def _stderr_bytes(*args):
    """The raw stderr (text mode would turn the bar's \r into \n)."""
    import subprocess
    import sys
    import tempfile
    with tempfile.TemporaryDirectory() as cwd:
        r = subprocess.run([sys.executable, "-m", "fastnorm.cli", *args], capture_output=True, cwd=cwd,
                           timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stderr.decode()


def test_bench_for_seconds_with_progress_bar(tmp_path):
    err = _stderr_bytes("bench", _saved(tmp_path), "--seconds", "0.3", "--progress", "--warmup", "0")
    assert err.startswith("\rbench [") and err.endswith("\rbench [##############################] 0.3/0.3 s\n")
    assert err.count("\n") == 1, "one line, redrawn in place"
    err = _stderr_bytes("bench", _saved(tmp_path), "--runs", "3", "--progress")
    assert err.endswith("\rbench [##############################] 3/3 runs\n")


def test_bench_profile_table(tmp_path):
    r = run("bench", _saved(tmp_path), "--runs", "3", "--profile")
    assert r.returncode == 0, r.stderr
    table = r.stdout[r.stdout.index("per-op profile"):]
    assert re.search(r"conv2d +[0-9.]+ +[0-9.]+ +conv1, bn1", table)
    assert "fc1" in table and "pool2" in table


def test_bench_bad_arguments(tmp_path):
    path = _saved(tmp_path)
    for args in (["--batch", "0"], ["--runs", "0"], ["--seconds", "0"]):
        r = run("bench", path, *args)
        assert r.returncode == 2 and "Traceback" not in r.stderr, args
    r = run("bench", path, "--runs", "2", "--seconds", "1")
    assert r.returncode == 2 and "not allowed with" in r.stderr


def test_convert_and_info_from_onnx(tmp_path):
    """`fastnorm convert IN.onnx OUT.fnm`: a torch export converted, reloaded, and predicting what
    onnxruntime predicts on the same file; `info` reads the .onnx directly."""
    torch = importorskip("torch")
    ort = importorskip("onnxruntime")
    import sys
    sys.path.insert(0, __import__("os").path.dirname(__file__))
    from zoo import build, example_input
    net, shape = build("resnet18")
    src, dst = str(tmp_path / "r18.onnx"), str(tmp_path / "r18.fnm")
    torch.onnx.export(net, example_input(shape, 1), src, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17,
                      dynamo=False)
    r = run("info", src)
    assert r.returncode == 0, r.stderr
    assert "input  input [None, 3, 96, 96] float32" in r.stdout and "conv2d" in r.stdout
    r = run("convert", src, dst)
    assert r.returncode == 0, r.stderr
    assert "identical predictions" in r.stdout
    x = example_input(shape, 3, seed=5).numpy()
    want = ort.InferenceSession(src, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    got = fastnorm.load(dst).predict(x)
    assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())
