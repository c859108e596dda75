"""Inference cost: the EnD² student vs the ensemble it distils.

``predict_uncertainty`` on 100,000 inputs (64 features, 10 classes, the default
MLP with two hidden layers of 100) for a 10-member DeepEnsembleClassifier and
its PriorNetworkDistiller student. Both are timed ``--repeats`` times,
interleaved, in one run; the medians and their ratio are printed. Training is cut
to one epoch: only the cost of prediction is measured.

    python benchmarks/bench_inference.py [--device cuda] [--repeats 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator

from skend2 import DeepEnsembleClassifier, EnsembleDistiller, PriorNetworkDistiller


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's own choice)",
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--n-inputs", type=int, default=100_000)
    parser.add_argument(
        "--n-features",
        type=int,
        default=784,
        help="input size (784: flattened 28x28 images, as Fashion-MNIST)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    rng = np.random.RandomState(0)
    n_features, n_classes = args.n_features, 10
    X_train = rng.normal(size=(2000, n_features))
    y_train = rng.randint(n_classes, size=2000)
    # float32, as images from skend2.datasets' loaders are: float64 inputs add the
    # same conversion (about 0.1 s for 100,000 x 784) to both models.
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

    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():
            start = time.perf_counter()
            model.predict_uncertainty(X)
            times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(t) for name, t in times.items()}

    print(
        f"machine: {platform.processor() or platform.machine()}, torch "
        f"{torch.__version__}, threads {torch.get_num_threads()}, device {args.device}"
    )
    print(
        f"predict_uncertainty on {args.n_inputs:,} inputs, {n_features} features, "
        f"{n_classes} classes, M={args.members}, median of {args.repeats}"
    )
    print(f"{'model':<14}{'time (s)':>10}{'inputs/s':>14}")
    for name in models:
        print(f"{name:<14}{median[name]:>10.3f}{args.n_inputs / median[name]:>14,.0f}")
    ratio = median["ensemble"] / median["EnD² student"]
    print(f"speed-up EnD² student vs ensemble: {ratio:.1f}x")


if __name__ == "__main__":
    main()
