"""`fastnorm bench MODEL --compare`: fastnorm and the installed peers timed in turns on one input."""
import re

import numpy as np
import pytest

from fastnorm import cli

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def test_compare_prints_ratios(tmp_path, capsys):
    from models import SimpleCNN, realistic_bn
    net = realistic_bn(SimpleCNN().eval(), seed=0)
    src = str(tmp_path / "s.onnx")
    torch.onnx.export(net, torch.randn(1, 3, 32, 32), src, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
    assert cli.main(["bench", src, "--compare", "--runs", "6", "--warmup", "1", "--batch", "2"]) == 0
    out = capsys.readouterr().out
    assert "6 interleaved rounds" in out
    diff = float(re.search(r"ONNX Runtime vs fastnorm: max abs difference (\S+)", out).group(1))
    assert diff < 1e-4
    ratio = float(re.search(r"fastnorm / ONNX Runtime = (\S+)", out).group(1))
    assert np.isfinite(ratio) and ratio > 0

    fnm = str(tmp_path / "s.fnm")
    assert cli.main(["convert", src, fnm]) == 0
    assert cli.main(["bench", fnm, "--compare", "--runs", "2"]) == 2          # the peers need the .onnx
    assert "--onnx" in capsys.readouterr().err
    assert cli.main(["bench", fnm, "--compare", "--runs", "2", "--onnx", src]) == 0
    assert "fastnorm / ONNX Runtime" in capsys.readouterr().out
