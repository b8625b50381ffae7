"""ONNX's own node test cases (generated in memory by the installed onnx package) through fastnorm.

The table (tests/onnx_node_report.py: UNSUPPORTED, CONV_TRANSPOSE) says for every case considered
whether it must pass (ONNX's runner tolerance, rtol=1e-3 atol=1e-7) or must raise UnsupportedError
for a stated reason. `python -m tests.onnx_node_report` prints every case with its outcome and the
count. Inputs ONNX feeds as graph inputs but fastnorm needs as constants (weights, scales, pads, ...)
are turned into initializers by the harness (onnx_node_report.prepared).
"""
import numpy as np
import pytest
from util import importorskip

importorskip("onnx")

import fastnorm  # noqa: E402
import onnx_node_report as R  # noqa: E402

CASES = R.considered()
BY_NAME = {name: (case, y_only) for name, case, y_only in CASES}
PLAIN = [n for n in BY_NAME if n not in R.CONV_TRANSPOSE]


def _check(name):
    case, y_only = BY_NAME[name]
    data, feeds, expected = R.prepared(case, y_only=y_only)
    if name in R.UNSUPPORTED:
        reason, fragment = R.UNSUPPORTED[name]
        with pytest.raises(fastnorm.UnsupportedError, match=fragment):
            fastnorm.from_onnx(data).run(feeds)
        return
    model = fastnorm.from_onnx(data)
    got = model.run(feeds)
    for out, want in expected.items():
        assert got[out].shape == want.shape, "%s: output %r shape" % (name, out)
        np.testing.assert_allclose(got[out], want.astype(np.float32), rtol=R.RTOL, atol=R.ATOL,
                                   equal_nan=True, err_msg="%s: output %r" % (name, out))


@pytest.mark.parametrize("name", PLAIN)
def test_onnx_node_case(name):
    _check(name)


@pytest.mark.parametrize("name", R.CONV_TRANSPOSE)
def test_onnx_node_case_conv_transpose(name):
    """2D ConvTranspose -> the IR's conv_transpose2d (from the convt branch): passes once merged."""
    _check(name)


def test_onnx_node_table_is_current():
    """Every table entry names a case the installed onnx generates; report the count."""
    stale = sorted(n for n in list(R.UNSUPPORTED) + R.CONV_TRANSPOSE if n not in BY_NAME)
    assert not stale, "table entries with no such case in onnx %s: %s" % (R._onnx_version(), stale)
    must_pass = len(CASES) - len(R.UNSUPPORTED)
    print("ONNX node cases: %d considered, %d must pass (%d of them ConvTranspose), %d must raise "
          "UnsupportedError" % (len(CASES), must_pass, len(R.CONV_TRANSPOSE), len(R.UNSUPPORTED)))
