"""How the regressors' defaults were chosen: candidates on validation splits only.

The members of :class:`skend2.DeepEnsembleRegressor` are heteroscedastic: on a
small tabular set, trained too long, a network fits its training residuals and
shrinks its variances, so its validation NLL explodes. This script fits a
single network (``n_members=1``) and an ensemble of 5 with each candidate
setting and scores the **validation** rows of five sets (never test or OOD
rows):

- ``diabetes``, ``BostonHousing``, ``Servo``: the fit/validation part of
  ``benchmarks/regression.py --validation`` (in-distribution training rows of
  :func:`skend2.datasets.load_regression_ood`, split 75/25 by the seed);
- ``friedman1``: ``sklearn.datasets.make_friedman1(400, noise=1)``, 75/25;
- ``toy``: ``skend2.datasets.make_regression_toy(400)``, 75/25.

Inputs are standardised on the fit rows. ``--student`` also scores EnD²
(``PriorNetworkRegressor(FrozenEstimator(ensemble))`` at the chosen member
default) for the student candidates. Prints mean ± std over the seeds and, per
set, each candidate's NLL minus the best candidate's.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/regression_defaults.py
    OMP_NUM_THREADS=1 python benchmarks/regression_defaults.py --student
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import make_friedman1
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit

from skend2 import DeepEnsembleRegressor, PriorNetworkRegressor
from skend2._regression_training import RegressionEarlyStopping
from skend2.datasets import load_regression_ood, make_regression_toy
from skend2.metrics import evaluate_regressor

DATASETS = ("diabetes", "BostonHousing", "Servo", "friedman1", "toy")


def _early_stopping(fraction, patience, max_epochs):
    """skorch's early stopping on the validation NLL (the loss), best weights."""

    def make(seed):
        return {
            "early_stopping": False,
            "max_epochs": max_epochs,
            "train_split": ValidSplit(fraction, stratified=False, random_state=seed),
            "callbacks": [
                EarlyStopping(
                    patience=patience,
                    threshold=1e-4,
                    threshold_mode="abs",
                    load_best=True,
                )
            ],
        }

    return make


# Member candidates: parameters, or a function of the seed giving them.
# "library default" is whatever DeepEnsembleRegressor() is now.
MEMBER_CANDIDATES = {
    "library default": {},
    "100 epochs (old default)": {"max_epochs": 100, "early_stopping": False},
    "20 epochs": {"max_epochs": 20, "early_stopping": False},
    "30 epochs": {"max_epochs": 30, "early_stopping": False},
    "50 epochs": {"max_epochs": 50, "early_stopping": False},
    "30 ep, 50-50, batch 32 (old benchmark)": {
        "max_epochs": 30,
        "batch_size": 32,
        "module__hidden_layer_sizes": (50, 50),
        "early_stopping": False,
    },
    "30 ep, 50-50": {
        "max_epochs": 30,
        "module__hidden_layer_sizes": (50, 50),
        "early_stopping": False,
    },
    "100 ep, 50-50": {
        "max_epochs": 100,
        "module__hidden_layer_sizes": (50, 50),
        "early_stopping": False,
    },
    "100 ep, AdamW wd 0.1": {
        "max_epochs": 100,
        "optimizer": torch.optim.AdamW,
        "optimizer__weight_decay": 0.1,
        "early_stopping": False,
    },
    "100 ep, Adam L2 1e-2": {
        "max_epochs": 100,
        "optimizer__weight_decay": 1e-2,
        "early_stopping": False,
    },
    "stop on valid NLL, 10 %, patience 10": _early_stopping(0.1, 10, 200),
    "stop on valid NLL, 20 %, patience 10": _early_stopping(0.2, 10, 200),
    "stop on valid RMSE + rescale, 20 %, patience 10": {
        "n_iter_no_change": 10,
        "_monitor": "rmse",
    },
    "stop on valid RMSE + rescale, 20 %, patience 20": {"_monitor": "rmse"},
    "stop on rescaled NLL, 10 %, patience 20": {"validation_fraction": 0.1},
    "stop on rescaled NLL, 20 %, patience 10": {"n_iter_no_change": 10},
    "stop on rescaled NLL, 30 %, patience 20": {"validation_fraction": 0.3},
}

# Student candidates (on top of PriorNetworkRegressor's defaults), distilling
# the ensemble fitted at the library's member defaults.
STUDENT_CANDIDATES = {
    "library default": {},
    "batch 32": {"batch_size": 32},
    "150 epochs": {"max_epochs": 150},
}


def validation_split(name, seed):
    """Fit and validation rows of one set (never its test or test-OOD rows).

    Returns X_fit, y_fit, X_val, y_val and the validation-OOD rows of
    ``benchmarks/regression.py --validation`` (None for the synthetic sets).
    """
    X_ood = None
    if name == "friedman1":
        X, y = make_friedman1(400, noise=1.0, random_state=seed)
    elif name == "toy":
        X, y = make_regression_toy(400, random_state=seed)
    else:
        split = load_regression_ood(name, random_state=seed)
        X, y = split.X_train, split.y_train  # in-distribution training rows
        ood = np.random.default_rng(seed).permutation(len(split.X_ood))
        X_ood = split.X_ood[ood[: len(ood) // 2]]  # the validation-OOD half
    X_fit, X_val, y_fit, y_val = train_test_split(
        X, y, test_size=0.25, random_state=seed
    )
    scaler = StandardScaler().fit(X_fit)
    if X_ood is not None:
        X_ood = scaler.transform(X_ood)
    return scaler.transform(X_fit), y_fit, scaler.transform(X_val), y_val, X_ood


def _score(model, X, y, X_ood=None):
    measure = "knowledge" if X_ood is not None else "total_variance"
    res = evaluate_regressor(model, X, y, X_ood, measures=[measure])
    out = {"rmse": res["rmse"], "nll": res["nll"]}
    if X_ood is not None:
        out["ood_auroc"] = res["ood_auroc_knowledge"]
    return out


def run(datasets, seeds, student, candidates=None):
    rows = []
    for name in datasets:
        for seed in seeds:
            X, y, X_val, y_val, X_ood = validation_split(name, seed)
            for label, params in MEMBER_CANDIDATES.items():
                if candidates and label not in candidates:
                    continue
                if callable(params):
                    params = params(seed)
                params = dict(params)
                # The quantity early stopping monitors (private; "nll" is the
                # library's).
                RegressionEarlyStopping.monitor = params.pop("_monitor", "nll")
                if student and label != "library default":
                    continue
                for kind, m, rs in (("single", 1, 1000 + seed), ("ensemble", 5, seed)):
                    t = time.perf_counter()
                    model = DeepEnsembleRegressor(
                        n_members=m, random_state=rs, **params
                    ).fit(X, y)
                    epochs = len(model.history_)
                    row = {
                        "dataset": name,
                        "seed": seed,
                        "kind": kind,
                        "candidate": label,
                        "epochs": epochs,
                        "fit_s": time.perf_counter() - t,
                        **_score(
                            model,
                            X_val,
                            y_val,
                            X_ood if student and kind == "ensemble" else None,
                        ),
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                if student:
                    for slabel, sparams in STUDENT_CANDIDATES.items():
                        t = time.perf_counter()
                        s = PriorNetworkRegressor(
                            FrozenEstimator(model), random_state=seed, **sparams
                        ).fit(X, y)
                        row = {
                            "dataset": name,
                            "seed": seed,
                            "kind": "EnD²",
                            "candidate": slabel,
                            "epochs": len(s.history_),
                            "fit_s": time.perf_counter() - t,
                            **_score(s, X_val, y_val, X_ood),
                        }
                        rows.append(row)
                        print(json.dumps(row), flush=True)
    return rows


def table(rows, datasets):
    """Markdown: per kind and candidate, validation NLL / RMSE (/ OOD AUROC)."""
    groups = {}
    for r in rows:
        groups.setdefault((r["kind"], r["candidate"]), {}).setdefault(
            r["dataset"], []
        ).append(r)
    best = {}
    for (kind, _), per in groups.items():
        for d, rs in per.items():
            nll = np.mean([r["nll"] for r in rs])
            best[(kind, d)] = min(best.get((kind, d), np.inf), nll)
    head = "| model | candidate | " + " | ".join(datasets) + " | mean epochs |"
    lines = [head, "|---|---|" + "---|" * len(datasets) + "---|"]
    for (kind, cand), per in groups.items():
        cells = []
        for d in datasets:
            rs = per.get(d, [])
            if not rs:
                cells.append("")
                continue
            nll = np.mean([r["nll"] for r in rs])
            rmse = np.mean([r["rmse"] for r in rs])
            cell = f"{nll:.2f} (+{nll - best[(kind, d)]:.2f}) / {rmse:.3g}"
            if "ood_auroc" in rs[0]:
                cell += f" / {np.mean([r['ood_auroc'] for r in rs]):.2f}"
            cells.append(cell)
        epochs = np.mean([r["epochs"] for rs in per.values() for r in rs])
        lines.append(f"| {kind} | {cand} | " + " | ".join(cells) + f" | {epochs:.0f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--student", action="store_true")
    parser.add_argument(
        "--candidates", nargs="+", default=None, help="names in MEMBER_CANDIDATES"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    rows = run(args.datasets, args.seeds, args.student, args.candidates)
    text = table(rows, args.datasets)
    print(
        "\nValidation NLL (+ over the best candidate) / RMSE (/ knowledge OOD "
        "AUROC on validation-OOD), mean over seeds "
        f"{args.seeds}\n\n" + text
    )
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        stem = "defaults_student" if args.student else "defaults_members"
        (args.out / f"{stem}.json").write_text(json.dumps(rows, indent=1))
        (args.out / f"{stem}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
