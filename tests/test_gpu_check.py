"""benchmarks/gpu_check.py passes in CPU mode (its CUDA parts skipped, and said so)."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "gpu_check.py"


def test_gpu_check_runs_on_cpu():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "MISMATCH" not in out
    assert "skipped the CUDA checks" in out
    assert "All checks passed" not in out  # the CUDA parts did not run
    for name in ("ensemble fused", "ensemble sequential", "EnD online", "EnD2 online"):
        assert f"check cpu {name}: Dataset vs arrays" in out
    assert "img/s" in out and "ratio" in out


def test_gpu_check_fails_loudly_on_a_mismatch(capsys):
    import importlib.util

    import pytest

    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.check_close("same", [1.0, 2.0], [1.0, 2.0 + 1e-7], atol=1e-5)
    with pytest.raises(module.Mismatch, match="MISMATCH: off"):
        module.check_close("off", [1.0, 2.0], [1.0, 2.1], atol=1e-5)
    assert "MISMATCH" in capsys.readouterr().out
