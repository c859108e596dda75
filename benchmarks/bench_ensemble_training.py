"""Fused ensemble training vs members trained one after another, vs one member.

M = 10 members, an MLP with two hidden layers of 64, 3,000 spiral points (3 classes),
20 epochs, batch 128, Adam 1e-3. Configurations:

- ``fused``: ``DeepEnsembleClassifier(training="fused")``, one vectorised pass;
- ``skorch x M``: M plain ``skorch.NeuralNetClassifier`` fits in a row (what a user
  would otherwise write; a shuffling DataLoader, no validation split);
- ``skorch x 1``: one of those fits alone;
- ``sequential``: ``DeepEnsembleClassifier(training="sequential")``, skend2's own
  fallback, which already avoids the DataLoader's per-sample collation;
- ``one member``: ``DeepEnsembleClassifier(n_members=1)``.

Each configuration is timed ``--repeats`` times, interleaved, and the median is
reported, so that the ratios printed are measured side by side in one run on the
same (possibly noisy) machine.

    python benchmarks/bench_ensemble_training.py [--device cuda] [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier

from skend2 import DeepEnsembleClassifier
from skend2.datasets import make_spirals
from skend2.modules import MLP


class SkorchMembers:
    """``n`` plain skorch fits in a row; predicts with the mean probability."""

    def __init__(self, n: int, epochs: int, device: str) -> None:
        self.n, self.epochs, self.device = n, epochs, device

    def fit(self, X, y):
        X, y = X.astype(np.float32), y.astype(np.int64)
        self.nets_ = []
        for seed in range(self.n):
            torch.manual_seed(seed)
            net = NeuralNetClassifier(
                MLP,
                module__n_features=X.shape[1],
                module__n_classes=3,
                module__hidden_layer_sizes=(64, 64),
                criterion=torch.nn.CrossEntropyLoss,
                optimizer=torch.optim.Adam,
                lr=1e-3,
                max_epochs=self.epochs,
                batch_size=128,
                iterator_train__shuffle=True,
                train_split=None,
                verbose=0,
                device=self.device,
            )
            self.nets_.append(net.fit(X, y))
        return self

    def score(self, X, y):
        X = X.astype(np.float32)
        proba = np.mean([net.predict_proba(X) for net in self.nets_], axis=0)
        return float(np.mean(proba.argmax(1) == y))


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
        "skorch x M": SkorchMembers(args.members, args.epochs, args.device),
        "skorch x 1": SkorchMembers(1, args.epochs, args.device),
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
        f"fused vs {args.members} skorch fits in a row: "
        f"{median['skorch x M'] / median['fused']:.2f}x faster"
    )
    print(
        f"fused vs one skorch fit: {median['fused'] / median['skorch x 1']:.2f}x "
        "the time"
    )
    print(
        "fused vs skend2's sequential fallback: "
        f"{median['sequential'] / median['fused']:.2f}x faster"
    )
    print(
        f"fused vs skend2's one member: {median['fused'] / median['one member']:.2f}x "
        "the time"
    )
    print(
        "accuracy difference fused - skorch x M: "
        f"{100 * (accuracy['fused'] - accuracy['skorch x M']):+.2f} points; "
        f"fused - sequential: {100 * (accuracy['fused'] - accuracy['sequential']):+.2f}"
    )


if __name__ == "__main__":
    main()
