"""`fastnorm predict`: a folder with a corrupt file finishes and names it; a rerun resumes; .npy/.csv;
images through Pillow; a Dask scheduler address."""
import os

import numpy as np
import pytest

import fastnorm
from fastnorm import cli
from fastnorm.models import simple_cnn


@pytest.fixture
def setup(tmp_path):
    model = fastnorm.Model(simple_cnn(seed=6))
    mpath = str(tmp_path / "m.fnm")
    model.save(mpath)
    folder = tmp_path / "in"
    folder.mkdir()
    x = np.random.default_rng(3).standard_normal((9, 3, 32, 32)).astype(np.float32)
    for i in range(9):
        np.save(folder / ("f%02d.npy" % i), x[i])
    (folder / "f04.npy").write_bytes(b"not a npy file at all")           # corrupt
    np.save(folder / "f07.npy", np.zeros((3, 16, 16), np.float32))      # wrong shape
    (folder / "notes.txt").write_text("ignored: not an input suffix")
    good = [i for i in range(9) if i not in (4, 7)]
    return model, mpath, folder, x, good


def _want(model, x, good):
    return np.stack([model.predict(x[i:i + 1])[0] for i in good])


def test_folder_with_bad_files_finishes_names_them_and_resumes(setup, tmp_path, capsys):
    model, mpath, folder, x, good = setup
    out = str(tmp_path / "out.npy")
    assert cli.main(["predict", mpath, str(folder), "-o", out, "--batch", "3"]) == 0
    cap = capsys.readouterr()
    assert "skipped %s" % (folder / "f04.npy") in cap.err
    assert "skipped %s" % (folder / "f07.npy") in cap.err and "shape" in cap.err
    assert "7 file(s) predicted (7 in this run), 2 skipped" in cap.out
    y = np.load(out)
    np.testing.assert_allclose(y, _want(model, x, good), rtol=1e-5, atol=1e-5)
    files = open(out + ".files.txt").read().split()
    assert [os.path.basename(f) for f in files] == ["f%02d.npy" % i for i in good]

    # a rerun does nothing new but retries the failures, and the output is the same
    assert cli.main(["predict", mpath, str(folder), "-o", out, "--batch", "3"]) == 0
    cap = capsys.readouterr()
    assert "resuming: 7 of 9 files done" in cap.err
    assert "7 file(s) predicted (0 in this run), 2 skipped" in cap.out
    assert np.array_equal(np.load(out), y)

    # fix one file, add one: only those two are predicted
    np.save(folder / "f04.npy", x[4])
    np.save(folder / "f99.npy", x[0])
    assert cli.main(["predict", mpath, str(folder), "-o", out, "--batch", "3"]) == 0
    cap = capsys.readouterr()
    assert "9 file(s) predicted (2 in this run), 1 skipped" in cap.out
    y2 = np.load(out)
    assert y2.shape == (9, 10)
    np.testing.assert_allclose(y2[4], model.predict(x[4:5])[0], rtol=1e-5, atol=1e-5)


def test_interrupted_run_resumes_from_the_journal(setup, tmp_path, capsys, monkeypatch):
    model, mpath, folder, x, good = setup
    out = str(tmp_path / "out.npy")
    from fastnorm import _predict_cli
    real = _predict_cli.predict_files
    calls = []

    def dies_on_third(m, paths, opts):
        calls.append(paths)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(m, paths, opts)
    monkeypatch.setattr(_predict_cli, "predict_files", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        cli.main(["predict", mpath, str(folder), "-o", out, "--batch", "2"])
    assert not os.path.exists(out)
    # a torn last journal line (a crash mid-write) is ignored
    with open(out + ".parts/journal.jsonl", "a") as f:
        f.write('{"part": 7, "paths": ["x')
    monkeypatch.setattr(_predict_cli, "predict_files", real)
    capsys.readouterr()
    assert cli.main(["predict", mpath, str(folder), "-o", out, "--batch", "2"]) == 0
    cap = capsys.readouterr()
    assert "resuming: 4 of 9 files done" in cap.err          # the 2 batches of 2 before the interruption
    assert "7 file(s) predicted (3 in this run), 2 skipped" in cap.out
    np.testing.assert_allclose(np.load(out), _want(model, x, good), rtol=1e-5, atol=1e-5)


def test_csv_glob_and_progress(setup, tmp_path, capsys):
    model, mpath, folder, x, good = setup
    out = str(tmp_path / "out.csv")
    assert cli.main(["predict", mpath, str(folder / "f0[0-3].npy"), "-o", out, "--progress"]) == 0
    cap = capsys.readouterr()
    assert "predict [" in cap.err and "4/4 files" in cap.err
    lines = open(out).read().splitlines()
    assert len(lines) == 4 and lines[0].startswith(str(folder / "f00.npy") + ",")
    vals = np.array([[float(v) for v in ln.split(",")[1:]] for ln in lines], np.float32)
    np.testing.assert_allclose(vals, _want(model, x, [0, 1, 2, 3]), rtol=1e-5, atol=1e-5)


def test_bad_arguments(setup, tmp_path, capsys):
    _, mpath, folder, _, _ = setup
    assert cli.main(["predict", mpath, str(folder), "-o", str(tmp_path / "out.txt")]) == 2
    assert cli.main(["predict", mpath, str(tmp_path / "nothing*.npy"), "-o", str(tmp_path / "o.npy")]) == 0
    assert "no .npy or image files" in capsys.readouterr().err
    assert cli.main(["predict", str(tmp_path / "missing.fnm"), str(folder), "-o", str(tmp_path / "o.npy")]) == 2


def test_images_with_pillow(tmp_path, capsys):
    Image = pytest.importorskip("PIL.Image")
    from fastnorm.batch import IMAGENET_MEAN, IMAGENET_STD
    model = fastnorm.Model(simple_cnn(seed=6))
    mpath = str(tmp_path / "m.fnm")
    model.save(mpath)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8\xff broken jpeg")
    out = str(tmp_path / "o.npy")
    assert cli.main(["predict", mpath, str(tmp_path / "*.*g"), "-o", out, "--resize", "48", "--crop", "32"]) == 0
    assert "skipped %s" % (tmp_path / "b.jpg") in capsys.readouterr().err
    # the expected input: shorter side already 48 (no resize), centre crop 32x32 at (16, 8), normalised
    crop = pixels[8:40, 16:48].astype(np.float32) / 255.0
    want_x = ((crop - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)).transpose(2, 0, 1)
    np.testing.assert_allclose(np.load(out)[0], model.predict(want_x[None].astype(np.float32))[0],
                               rtol=1e-4, atol=1e-4)
