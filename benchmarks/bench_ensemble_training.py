"""Fused ensemble training vs members trained one after another, vs one member.

M = 10 members, an MLP with two hidden layers of 64, 3,000 spiral points (3 classes),
20 epochs, batch 128, Adam 1e-3. Each configuration is timed ``--repeats`` times,
interleaved, and the median is reported, so that the ratios printed are measured
side by side in one run on the same (possibly noisy) machine.

    python benchmarks/bench_ensemble_training.py [--device cuda] [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skend2 import DeepEnsembleClassifier
from skend2.datasets import make_spirals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's own choice)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    X, y = make_spirals(4000, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=3000, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    common = dict(
        module__hidden_layer_sizes=(64, 64),
        max_epochs=args.epochs,
        batch_size=128,
        lr=1e-3,
        device=args.device,
        random_state=0,
    )
    configs = {
        "fused": DeepEnsembleClassifier(
            n_members=args.members, training="fused", **common
        ),
        "sequential": DeepEnsembleClassifier(
            n_members=args.members, training="sequential", n_jobs=1, **common
        ),
        "one member": DeepEnsembleClassifier(
            n_members=1, training="sequential", **common
        ),
    }
    # Warm-up: first calls pay for imports and lazy initialisation.
    DeepEnsembleClassifier(
        n_members=2, training="fused", **{**common, "max_epochs": 1}
    ).fit(X_train, y_train)
    times: dict[str, list[float]] = {name: [] for name in configs}
    accuracy: dict[str, float] = {}
    for _ in range(args.repeats):
        for name, estimator in configs.items():
            start = time.perf_counter()
            estimator.fit(X_train, y_train)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
            accuracy[name] = estimator.score(X_test, y_test)

    median = {name: statistics.median(t) for name, t in times.items()}
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"device {args.device}"
    )
    print(
        f"M={args.members}, MLP 64-64, n_train={len(X_train)}, "
        f"epochs={args.epochs}, batch=128, median of {args.repeats}"
    )
    print(f"{'configuration':<14}{'fit time (s)':>14}{'test accuracy':>16}")
    for name in configs:
        print(f"{name:<14}{median[name]:>14.3f}{accuracy[name]:>16.4f}")
    print(
        f"speed-up fused vs sequential: {median['sequential'] / median['fused']:.2f}x"
    )
    print(
        f"fused time / one member time: {median['fused'] / median['one member']:.2f}x"
    )
    print(
        "accuracy difference fused - sequential: "
        f"{100 * (accuracy['fused'] - accuracy['sequential']):+.2f} points"
    )


if __name__ == "__main__":
    main()
