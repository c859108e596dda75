"""Tests of the ``skend2 demo`` command line."""

import csv
import io
import json
import math
import subprocess
import sys

import pytest

from skend2.__main__ import build_parser, main
from skend2._demo import (
    COLUMN_DESCRIPTIONS,
    COLUMNS,
    _write_outputs,
    format_table,
    run_demo,
)

MODELS = ["single", "ensemble", "EnD", "EnD²"]
HEADERS = [header for _, header in COLUMNS]


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One small demo run (2 members, 3 epochs), shared by the tests below."""
    out = tmp_path_factory.mktemp("demo")
    stdout = io.StringIO()
    from contextlib import redirect_stdout

    with redirect_stdout(stdout):
        status = main(
            ["demo", "--members", "2", "--epochs", "3", "--output", str(out), "--quiet"]
        )
    return status, stdout.getvalue(), out


@pytest.mark.slow
def test_demo_prints_table_with_four_rows(demo_run):
    status, text, out = demo_run
    assert status == 0
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("model"))
    for name in HEADERS:
        assert name in lines[header]
    assert set(lines[header + 1]) <= {"-", " "}
    rows = [line.split() for line in lines[header + 2 : header + 6]]
    assert [row[0] for row in rows] == MODELS
    for row in rows:
        assert len(row) == len(HEADERS)
    # Knowledge uncertainty exists only for the ensemble and EnD².
    knowledge = HEADERS.index("AUROC knowl.")
    assert [row[knowledge] == "n/a" for row in rows] == [True, False, True, False]
    # --quiet: no progress lines, but the output paths.
    assert "epochs) ..." not in text
    assert str(out / "results.csv") in text


@pytest.mark.slow
def test_demo_writes_sane_csv_and_json(demo_run):
    _, _, out = demo_run
    with open(out / "results.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["model"] for row in rows] == MODELS
    payload = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert payload["dataset"] == "digits"
    assert payload["n_members"] == 2
    assert payload["member_epochs"] == 3 and payload["student_epochs"] == 6
    assert [row["model"] for row in payload["rows"]] == MODELS
    assert payload["columns"] == COLUMN_DESCRIPTIONS
    assert "error" not in rows[0] and "error" not in payload["rows"][0]
    for csv_row, row in zip(rows, payload["rows"]):
        assert 0.0 <= row["error_pct"] <= 100.0
        assert math.isclose(float(csv_row["error_pct"]), row["error_pct"])
        assert row["nll"] > 0.0 and 0.0 <= row["ece"] <= 1.0
        assert row["predict_ms_per_1000"] > 0.0 and row["fit_seconds"] > 0.0
        for measure in ("total", "data", "knowledge"):
            value = row[f"ood_auroc_{measure}"]
            if measure == "knowledge" and row["model"] in ("single", "EnD"):
                assert value is None
                assert csv_row["ood_auroc_knowledge"] == ""
            else:
                assert 0.0 <= value <= 1.0
    # Even 3 epochs learn digits 0-4 far better than chance (80 % error).
    assert payload["rows"][1]["error_pct"] < 40.0


@pytest.mark.slow
def test_demo_writes_png(demo_run):
    _, _, out = demo_run
    if not _has_matplotlib():
        pytest.skip("matplotlib is not installed")
    png = out / "uncertainty_maps.png"
    assert png.exists()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000


def test_output_columns_say_their_units(tmp_path):
    keys = [key for key, _ in COLUMNS]
    assert "error_pct" in keys and "error" not in keys
    assert dict(COLUMNS)["error_pct"] == "error %"
    assert "percent" in COLUMN_DESCRIPTIONS["error_pct"]
    assert "fraction" in COLUMN_DESCRIPTIONS["ece"]
    row = {
        "model": "EnD²",
        "error_pct": 0.369,
        "nll": 0.02,
        "ece": 0.01,
        "ood_auroc_total": 0.9,
        "ood_auroc_data": 0.9,
        "ood_auroc_knowledge": math.nan,
        "predict_ms_per_1000": 2.5,
        "fit_seconds": 7.7,
        "misclassification_auroc": 0.8,
        "prr": 0.5,
    }
    meta = {"dataset": "digits", "columns": COLUMN_DESCRIPTIONS}
    csv_path, json_path = _write_outputs([row], meta, tmp_path)
    with open(csv_path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        written = list(reader)
    # Every column of the CSV is described in the JSON.
    assert set(reader.fieldnames) == set(COLUMN_DESCRIPTIONS)
    assert float(written[0]["error_pct"]) == 0.369
    assert written[0]["ood_auroc_knowledge"] == ""
    payload = json.loads(json_path.read_text(encoding="utf-8"))
    assert payload["rows"][0]["error_pct"] == 0.369
    assert payload["rows"][0]["ood_auroc_knowledge"] is None
    assert set(payload["columns"]) == set(COLUMN_DESCRIPTIONS)


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_help_exits_zero(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--dataset",
        "--members",
        "--epochs",
        "--device",
        "--data-home",
        "--output",
        "--seed",
        "--quiet",
    ):
        assert option in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--dataset", "cifar"], "invalid choice"),
        (["demo", "--members", "0"], "must be >= 1"),
        (["demo", "--epochs", "two"], "expected an integer"),
        (["demo", "--unknown"], "unrecognized arguments"),
        (["frobnicate"], "invalid choice"),
        (["demo", "--quiet", "--verbose"], "exclude each other"),
    ],
)
def test_bad_options_exit_with_argparse_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_parser_defaults():
    args = build_parser().parse_args(["demo"])
    assert (args.dataset, args.members, args.epochs, args.device) == (
        "digits",
        None,
        None,
        "cpu",
    )
    assert args.output == "skend2_output" and not args.quiet
    assert args.data_home is None


@pytest.mark.parametrize(
    "device, message",
    [("cuda", "CUDA is not available"), ("cuda:1", "CUDA is not available")],
)
def test_cuda_without_cuda_is_a_one_line_error(device, message, monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["demo", "--device", device, "--output", "unused"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"skend2 demo: --device {device}: {message}")
    assert "--device cpu" in err
    assert "usage:" not in captured.err + captured.out


def test_unknown_device_is_a_one_line_error(capsys):
    assert main(["demo", "--device", "gpu", "--output", "unused"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "not a torch device" in err and "usage:" not in err


def test_run_demo_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="dataset must be one of"):
        run_demo("cifar", output=tmp_path)
    with pytest.raises(ValueError, match="n_members must be >= 1"):
        run_demo(n_members=0, output=tmp_path)
    with pytest.raises(TypeError, match="epochs must be an int"):
        run_demo(epochs=2.5, output=tmp_path)


def test_format_table_aligns_and_marks_missing():
    text = format_table(
        [
            {"model": "a", "error_pct": 1.0, "nll": float("nan")},
            {"model": "longer", "error_pct": 12.345},
        ],
        [("model", "model"), ("error_pct", "error %"), ("nll", "NLL")],
    )
    lines = text.splitlines()
    assert lines[2].split() == ["a", "1.00", "n/a"]
    assert lines[3].split() == ["longer", "12.35", "n/a"]
    # Right-aligned numbers end in the same column.
    assert lines[2].index("1.00") + 4 == lines[3].index("12.35") + 5


@pytest.mark.slow
def test_module_entry_point_prints_help():
    result = subprocess.run(
        [sys.executable, "-m", "skend2", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "demo" in result.stdout


def test_data_home_reaches_the_fashion_mnist_loader(monkeypatch, tmp_path, capsys):
    import skend2.datasets._ood_splits as ood_splits

    asked = []

    def record(data_home=None, **kwargs):
        asked.append(data_home)
        raise FileNotFoundError(f"No Fashion-MNIST files in {data_home}.")

    monkeypatch.setattr(ood_splits, "load_fashion_mnist", record)
    home = tmp_path / "fashion"
    status = main(
        [
            "demo",
            "--dataset",
            "fashion-mnist",
            "--data-home",
            str(home),
            "--output",
            str(tmp_path / "out"),
        ]
    )
    assert status == 1
    assert [str(path) for path in asked] == [str(home)]
    assert str(home) in capsys.readouterr().err


def test_missing_fashion_mnist_gives_clear_error(monkeypatch, tmp_path, capsys):
    # The demo loads Fashion-MNIST through load_fashion_mnist_ood, which looks
    # load_fashion_mnist up in this module.
    import skend2.datasets._ood_splits as demo

    def missing(*args, **kwargs):
        raise FileNotFoundError("No Fashion-MNIST files in /nowhere.")

    monkeypatch.setattr(demo, "load_fashion_mnist", missing)
    status = main(["demo", "--dataset", "fashion-mnist", "--output", str(tmp_path)])
    assert status == 1
    err = capsys.readouterr().err
    assert "fashion-mnist demo needs the Fashion-MNIST files" in err
    assert "/nowhere" in err
