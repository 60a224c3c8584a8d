"""The examples run, each in a fresh process, as a user would run them."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))
# What an example needs beyond the test extra (its extra): without it, it is skipped.
NEEDS = {"export_onnx.py": "onnxruntime", "dask_search.py": "distributed"}


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    if script.name in NEEDS:
        pytest.importorskip(NEEDS[script.name])
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "accuracy" in result.stdout or "RMSE" in result.stdout
    if script.name == "forecast_airline.py":
        assert (tmp_path / "airline_forecast.png").stat().st_size > 10_000
    if script.name == "tag_segments.py":  # its plot, only where matplotlib is installed
        has_matplotlib = importlib.util.find_spec("matplotlib") is not None
        assert (tmp_path / "tagged_sequence.png").exists() == has_matplotlib
