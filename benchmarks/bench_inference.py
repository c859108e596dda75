"""Inference cost: the EnD² student vs the ensemble it distils.

``predict_uncertainty`` on 100,000 inputs (10 classes, the default MLP with two
hidden layers of 100) for a 10-member DeepEnsembleClassifier and its EnD² and EnD
students, for tabular inputs (64 features) and image-sized inputs (784 features,
flattened 28 x 28). Training is cut to one epoch: only the cost of prediction is
measured. The models are timed ``--repeats`` times, interleaved, in one run; the
medians, the minima (the least disturbed runs on a shared machine) and their
ratios are printed, with where the time goes, measured through the public API:
the forward passes (``predict_member_logits`` / ``predict_logits``, input checks
included) and the uncertainty measures on those logits
(``skend2.uncertainty.ensemble_uncertainty_from_logits`` for the ensemble and
the EnD student, ``dirichlet_uncertainty_from_logits`` for the EnD² student).

    python benchmarks/bench_inference.py [--threads 1] [--repeats 7]
        [--n-features 64 784] [--device cuda]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator

from skend2 import DeepEnsembleClassifier, EnsembleDistiller, PriorNetworkDistiller
from skend2.uncertainty import (
    dirichlet_uncertainty_from_logits,
    ensemble_uncertainty_from_logits,
)

STAGES = ("total", "forward", "measures")


def _time(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _stages(model) -> tuple[Callable, Callable]:
    """The public calls that do predict_uncertainty's work: logits, then measures."""
    if isinstance(model, DeepEnsembleClassifier):
        return model.predict_member_logits, ensemble_uncertainty_from_logits
    if isinstance(model, PriorNetworkDistiller):
        offset = model.concentration_offset_
        return model.predict_logits, lambda logits: dirichlet_uncertainty_from_logits(
            logits, offset=offset
        )
    # EnD: the entropy of one softmax, i.e. a one-member ensemble.
    return model.predict_logits, lambda logits: ensemble_uncertainty_from_logits(
        logits[:, None, :]
    )


def _stage_times(model, X: np.ndarray) -> dict[str, float]:
    """Seconds for predict_uncertainty(X), and for its forward and measure stages.

    The stages run on the whole input at once (predict_uncertainty works batch
    by batch and never copies the logits out), so they add up to about the
    total, not exactly.
    """
    forward, measures = _stages(model)
    times = {"total": _time(lambda: model.predict_uncertainty(X))}
    start = time.perf_counter()
    logits = forward(X)
    times["forward"] = time.perf_counter() - start
    times["measures"] = _time(lambda: measures(logits))
    return times


def run(n_features: int, args: argparse.Namespace) -> None:
    rng = np.random.RandomState(0)
    n_classes = 10
    X_train = rng.normal(size=(2000, n_features))
    y_train = rng.randint(n_classes, size=2000)
    # float32, as images from skend2.datasets' loaders are: float64 inputs add the
    # same conversion (about 0.1 s for 100,000 x 784) to every model.
    X = rng.normal(size=(args.n_inputs, n_features)).astype(np.float32)

    common = dict(max_epochs=1, device=args.device, random_state=0)
    ensemble = DeepEnsembleClassifier(n_members=args.members, **common)
    ensemble.fit(X_train, y_train)
    frozen = FrozenEstimator(ensemble)
    models = {
        "ensemble": ensemble,
        "EnD² student": PriorNetworkDistiller(frozen, **common).fit(X_train, y_train),
        "EnD student": EnsembleDistiller(frozen, **common).fit(X_train, y_train),
    }
    for model in models.values():  # warm-up
        model.predict_uncertainty(X[:1000])

    times = {name: {stage: [] for stage in STAGES} for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():
            for stage, seconds in _stage_times(model, X).items():
                times[name][stage].append(seconds)
    median = {
        name: {stage: statistics.median(t) for stage, t in stages.items()}
        for name, stages in times.items()
    }
    best = {name: min(stages["total"]) for name, stages in times.items()}

    print(
        f"\npredict_uncertainty on {args.n_inputs:,} inputs, {n_features} features, "
        f"{n_classes} classes, M={args.members}, MLP(100, 100), "
        f"{args.repeats} interleaved repeats"
    )
    print(
        f"{'model':<14}{'median s':>10}{'min s':>8}{'inputs/s':>12}"
        f"{'forward':>9}{'measures':>10}"
    )
    for name in models:
        m = median[name]
        print(
            f"{name:<14}{m['total']:>10.3f}{best[name]:>8.3f}"
            f"{args.n_inputs / m['total']:>12,.0f}"
            f"{m['forward']:>9.3f}{m['measures']:>10.3f}"
        )
    ens, student = median["ensemble"], median["EnD² student"]
    print(
        f"speed-up EnD² student vs ensemble: {ens['total'] / student['total']:.1f}x "
        f"(median), {best['ensemble'] / best['EnD² student']:.1f}x (min); "
        f"forward passes alone {ens['forward'] / student['forward']:.1f}x; "
        f"EnD student {ens['total'] / median['EnD student']['total']:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's own choice)",
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--n-inputs", type=int, default=100_000)
    parser.add_argument(
        "--n-features",
        type=int,
        nargs="+",
        default=[64, 784],
        help="input sizes to run (64: tabular; 784: flattened 28x28 images)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"machine: {platform.processor() or platform.machine()}, torch "
        f"{torch.__version__}, threads {torch.get_num_threads()}, device {args.device}"
    )
    for n_features in args.n_features:
        run(n_features, args)


if __name__ == "__main__":
    main()
