"""The command line: demo runs end to end without torch; info reads a file."""
import fastnorm
from fastnorm.models import simple_cnn
from util import run_python


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
