"""Regression panel: does the Normal-Wishart EnD² keep its ensemble's quality?

Three tabular sets available offline, each with a geometric OOD split
(:func:`skend2.datasets.load_regression_ood`: the rows whose first principal
component, of the standardised inputs, lies above its 80th percentile are out
of distribution):

- ``diabetes``: scikit-learn's ``load_diabetes`` (442 × 10);
- ``BostonHousing`` (506 × 13) and ``Servo`` (167 × 12, one-hot motor/screw):
  R's mlbench, from Debian's ``r-cran-mlbench`` (see ``.ci/run``).

Splits, per seed: the in-distribution rows are split 80/20 into train and test
(by the seed), and the training rows again 75/25 into fit and validation; the
OOD rows are halved into a validation-OOD and a test-OOD part. Inputs are
standardised on the rows a model is fitted on. The default report fits on
train and scores test against test-OOD; ``--validation`` fits on the fit part
and scores validation against validation-OOD: the only numbers settings were
chosen by (the student's transfer inputs and annealing here, the library's
defaults by ``benchmarks/regression_defaults.py`` on the same fit/validation
rows).

Rows, per set and seed: a single network (``DeepEnsembleRegressor(n_members=1)``,
its own seed), the ensemble (``DeepEnsembleRegressor(n_members=5)``), EnD (a
Gaussian student trained on the cross-entropy to the ensemble's mixture: mean
and variance distilled, no knowledge uncertainty) and EnD²
(``PriorNetworkRegressor(FrozenEstimator(ensemble))``), all at the library's
defaults (``CONFIG`` is empty; ``benchmarks/regression_defaults.py`` measured
how they were chosen); extra named variants in ``VARIANTS``.

Columns: RMSE, NLL (exact for each predictive: Gaussian, Gaussian mixture,
Student-t), rejection AUC (``skend2.metrics.rejection_auc`` of the total
variance: lower is better), OOD AUROC by knowledge uncertainty (by total
variance for the single network and EnD, which have none), fit time. Mean ±
std (ddof 1) over seeds. The targets of issue 17 are checked at the end.

Usage::

    python benchmarks/regression.py                       # 3 sets, 3 seeds
    python benchmarks/regression.py --validation          # choose settings here
    python benchmarks/regression.py --quick --seeds 0     # smoke test
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn

import skend2
from skend2 import DeepEnsembleRegressor, PriorNetworkRegressor
from skend2.datasets import load_regression_ood
from skend2.metrics import evaluate_regressor, ood_detection_auroc, rejection_auc
from skend2.transfer import GaussianNoise

DATASETS = ("diabetes", "BostonHousing", "Servo")
ROOT = Path(__file__).resolve().parent

# The library's defaults for every row (the single network, the ensemble, EnD
# and EnD²): DeepEnsembleRegressor's early stopping and variance rescaling
# (chosen by benchmarks/regression_defaults.py on validation splits) and
# PriorNetworkRegressor's 300 epochs, annealing and transfer="auto".
# ``--quick`` caps the epochs.
CONFIG = {"members": {}, "student": {}}
QUICK = {"members": {"max_epochs": 20}, "student": {"max_epochs": 30}}
# Named EnD² variants (parameters on top of CONFIG["student"]), for --validation.
VARIANTS = {
    "EnD² (no transfer)": {"transfer": None},
    "EnD² (noise 1)": {"transfer": GaussianNoise(scale=1.0)},
    "EnD² (annealing=None)": {"annealing": None},
    "EnD² (100 epochs)": {"max_epochs": 100},
}


# --- EnD: a Gaussian student of the ensemble's mixture ---------------------------
class MixtureCrossEntropy(nn.Module):
    """EnD for regression: cross-entropy of a Gaussian student to the mixture.

    E_{y ~ mixture}[−ln N(y | m, σ²)] = ½ [ln 2πσ² + meanₘ(σₘ² + (μₘ − m)²)/σ²]:
    the student's mean and variance match the mixture's (moment matching).
    The student's first 2K outputs are m and ln(1/σ²).
    """

    temperature = 1.0

    def forward(self, student, members):
        from skend2._regression_losses import member_mean_variance

        k = members.shape[-1] // 2
        mean = student[:, :k].double()
        log_precision = student[:, k : 2 * k].double().clamp(-20, 20)
        mu, var = member_mean_variance(members.double())
        second = (var + (mu - mean[:, None, :]) ** 2).mean(1)
        loss = 0.5 * (np.log(2 * np.pi) - log_precision + second * log_precision.exp())
        return loss.sum(-1).mean().to(student.dtype)


class GaussianStudent(PriorNetworkRegressor):
    """A PriorNetworkRegressor trained by :class:`MixtureCrossEntropy` (EnD)."""

    def _criterion_class(self):
        return MixtureCrossEntropy


def _end_predictive(student, X):
    raw = student._predict_batches(X, lambda z: z.double())
    k = student.n_targets_
    mean = raw[:, :k] * student.y_scale_ + student.y_mean_
    std = np.exp(-0.5 * np.clip(raw[:, k : 2 * k], -20, 20)) * student.y_scale_
    return mean, std


def _evaluate_end(student, X, y, X_ood):
    from scipy import stats

    mean, std = _end_predictive(student, X)
    y2 = y.reshape(len(y), -1)
    _, std_ood = _end_predictive(student, X_ood)
    variance, variance_ood = (std**2).sum(1), (std_ood**2).sum(1)
    return {
        "rmse": float(np.sqrt(np.mean((mean - y2) ** 2))),
        "nll": float(-stats.norm(mean, std).logpdf(y2).sum(1).mean()),
        "rejection_auc": rejection_auc(y2, mean, variance),
        "ood_auroc": ood_detection_auroc(variance, variance_ood),
    }


# --- the panel -------------------------------------------------------------------
def _splits(name, seed, validation):
    split = load_regression_ood(name, random_state=seed)
    rng = np.random.default_rng(seed)
    ood = rng.permutation(len(split.X_ood))
    half = len(ood) // 2
    X_fit, X_val, y_fit, y_val = train_test_split(
        split.X_train, split.y_train, test_size=0.25, random_state=seed
    )
    if validation:
        return X_fit, y_fit, X_val, y_val, split.X_ood[ood[:half]]
    return (
        split.X_train,
        split.y_train,
        split.X_test,
        split.y_test,
        split.X_ood[ood[half:]],
    )


def _scores(results, measure):
    return {
        "rmse": results["rmse"],
        "nll": results["nll"],
        "rejection_auc": results["rejection_auc_total_variance"],
        "ood_auroc": results[f"ood_auroc_{measure}"],
    }


def run(datasets, seeds, validation, quick, variants):
    settings = QUICK if quick else CONFIG
    members = dict(settings["members"])
    student_cfg = dict(settings["student"])
    rows = []
    for name in datasets:
        for seed in seeds:
            X_tr, y_tr, X_te, y_te, X_ood = _splits(name, seed, validation)
            scaler = StandardScaler().fit(X_tr)
            X_tr, X_te, X_ood = (scaler.transform(a) for a in (X_tr, X_te, X_ood))

            def record(model, results, seconds, name=name, seed=seed):
                rows.append(
                    {
                        "dataset": name,
                        "seed": seed,
                        "model": model,
                        "fit_s": seconds,
                        **results,
                    }
                )
                print(
                    f"{name:14s} seed {seed} {model:24s} "
                    + " ".join(f"{k}={v:.4g}" for k, v in results.items()),
                    flush=True,
                )

            t = time.perf_counter()
            single = DeepEnsembleRegressor(
                n_members=1, random_state=1000 + seed, **members
            ).fit(X_tr, y_tr)
            record(
                "single",
                _scores(
                    evaluate_regressor(single, X_te, y_te, X_ood), "total_variance"
                ),
                time.perf_counter() - t,
            )
            t = time.perf_counter()
            ensemble = DeepEnsembleRegressor(
                n_members=5, random_state=seed, **members
            ).fit(X_tr, y_tr)
            record(
                "ensemble (5)",
                _scores(evaluate_regressor(ensemble, X_te, y_te, X_ood), "knowledge"),
                time.perf_counter() - t,
            )
            t = time.perf_counter()
            end = GaussianStudent(
                FrozenEstimator(ensemble),
                annealing=None,
                random_state=seed,
                **student_cfg,
            ).fit(X_tr, y_tr)
            record(
                "EnD", _evaluate_end(end, X_te, y_te, X_ood), time.perf_counter() - t
            )
            for label, extra in [("EnD²", {})] + list(variants.items()):
                t = time.perf_counter()
                student = PriorNetworkRegressor(
                    FrozenEstimator(ensemble),
                    random_state=seed,
                    **{**student_cfg, **extra},
                ).fit(X_tr, y_tr)
                record(
                    label,
                    _scores(
                        evaluate_regressor(student, X_te, y_te, X_ood), "knowledge"
                    ),
                    time.perf_counter() - t,
                )
    return rows


METRICS = ("rmse", "nll", "rejection_auc", "ood_auroc", "fit_s")


def summarise(rows):
    table = {}
    for row in rows:
        table.setdefault((row["dataset"], row["model"]), []).append(row)
    summary = {}
    for key, group in table.items():
        summary[key] = {
            m: (
                float(np.mean([r[m] for r in group])),
                float(np.std([r[m] for r in group], ddof=1)) if len(group) > 1 else 0.0,
            )
            for m in METRICS
        }
    return summary


def markdown(summary, datasets):
    lines = [
        "| data set | model | RMSE | NLL | rejection AUC | OOD AUROC | fit s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in datasets:
        for (dataset, model), values in summary.items():
            if dataset != name:
                continue
            cells = [f"{values[m][0]:.3f} ± {values[m][1]:.3f}" for m in METRICS[:4]]
            cells.append(f"{values['fit_s'][0]:.1f}")
            lines.append(f"| {dataset} | {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(summary, datasets, model="EnD²"):
    lines, ratios, ok = [], [], True
    for name in datasets:
        end2 = summary[(name, model)]
        ens = summary[(name, "ensemble (5)")]
        single = summary[(name, "single")]
        rmse_ok = end2["rmse"][0] <= 1.05 * ens["rmse"][0]
        nll_ok = end2["nll"][0] <= single["nll"][0]
        ok &= rmse_ok and nll_ok
        ratios.append(end2["ood_auroc"][0] / ens["ood_auroc"][0])
        lines.append(
            f"- {name}: RMSE {end2['rmse'][0]:.3f} ≤ 1.05 × ensemble "
            f"{ens['rmse'][0]:.3f} = {1.05 * ens['rmse'][0]:.3f}: "
            f"{'met' if rmse_ok else 'NOT met'}; NLL {end2['nll'][0]:.3f} ≤ single "
            f"{single['nll'][0]:.3f}: {'met' if nll_ok else 'NOT met'}; knowledge "
            f"OOD AUROC {end2['ood_auroc'][0]:.3f} vs ensemble "
            f"{ens['ood_auroc'][0]:.3f} (ratio {ratios[-1]:.3f})"
        )
    mean_ratio = float(np.mean(ratios))
    ood_ok = mean_ratio >= 0.95
    lines.append(
        f"- mean knowledge OOD AUROC ratio {mean_ratio:.3f} ≥ 0.95: "
        f"{'met' if ood_ok else 'NOT met'}"
    )
    lines.append(f"- all targets: {'met' if ok and ood_ok else 'NOT met'}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--validation", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--variants", action="store_true", help="also run the EnD² variants of VARIANTS"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)
    start = time.perf_counter()
    rows = run(
        args.datasets,
        args.seeds,
        args.validation,
        args.quick,
        VARIANTS if args.variants else {},
    )
    summary = summarise(rows)
    table = markdown(summary, args.datasets)
    checked = targets(summary, args.datasets)
    print("\n" + table + "\n\nTargets (issue 17):\n" + checked)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        meta = {
            "command": "python benchmarks/regression.py "
            + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "machine": f"{platform.processor() or platform.machine()}, "
            f"{platform.system()} {platform.release()}",
            "threads": args.threads,
            "versions": {"skend2": skend2.__version__, "torch": torch.__version__},
            "wall_s": time.perf_counter() - start,
        }
        (args.out / "results.json").write_text(
            json.dumps({"meta": meta, "rows": rows}, indent=1)
        )
        (args.out / "tables.md").write_text(
            f"{table}\n\nTargets (issue 17):\n{checked}\n"
        )


if __name__ == "__main__":
    main()
