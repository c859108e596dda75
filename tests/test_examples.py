"""The gallery examples also run as plain scripts and say what they found."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("plot_*.py"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 7


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_as_a_script(path, tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("pandas")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Its tables and numbers, not only a line or two.
    assert len(result.stdout.strip().splitlines()) >= 3, result.stdout
    # Figures are saved, not thrown away, under a non-interactive backend.
    if "plt.show()" in path.read_text(encoding="utf-8"):
        assert list(tmp_path.glob(f"{path.stem}_*.png")), result.stdout
