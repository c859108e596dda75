"""Persistence cost: skend2.save / skend2.load against pickle, for a 10-member ensemble.

A 10-member DeepEnsembleClassifier (the default MLP, two hidden layers of
``--width`` units, 10 classes, 64 features; fitted for one epoch: only the
weights matter here) is written to disk and read back, once each, with
:func:`skend2.save` / :func:`skend2.load`, with :func:`pickle.dump` /
:func:`pickle.load` and with :func:`joblib.dump` / :func:`joblib.load`. The
size on disk and the wall-clock times of one run are printed; the loaded models
are checked to predict as the original. Optimiser state (Adam's two moments per
weight) is in every file, so each is at least three times the weights.

    python benchmarks/bench_persistence.py [--width 100 1000] [--threads 1]
"""

from __future__ import annotations

import argparse
import pickle
import platform
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import torch

import skend2
from skend2 import DeepEnsembleClassifier


def _time(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def _pickle_dump(model, path):
    with open(path, "wb") as f:
        pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)


def _pickle_load(path):
    with open(path, "rb") as f:
        return pickle.load(f)  # the unsafe baseline: only for files you wrote


FORMATS = {
    "skend2.save": (skend2.save, skend2.load),
    "pickle": (_pickle_dump, _pickle_load),
    "joblib": (joblib.dump, joblib.load),
}


def run(width: int, folder: Path) -> list[tuple]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 64)).astype(np.float32)
    y = rng.integers(0, 10, size=2000)
    model = DeepEnsembleClassifier(
        n_members=10,
        max_epochs=1,
        module__hidden_layer_sizes=(width, width),
        random_state=0,
    ).fit(X, y)
    expected = model.predict_proba(X[:256])
    n_weights = sum(p.numel() for p in model.module_.parameters())
    rows = []
    for name, (dump, load) in FORMATS.items():
        path = folder / f"ensemble-{width}.{name}"
        save_s, _ = _time(lambda: dump(model, path))  # noqa: B023
        load_s, loaded = _time(lambda: load(path))  # noqa: B023
        assert np.array_equal(loaded.predict_proba(X[:256]), expected), name
        rows.append((width, n_weights, name, path.stat().st_size, save_s, load_s))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"skend2 {skend2.__version__}, torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, {args.threads} thread(s); "
        "one run each"
    )
    header = f"{'width':>6} {'weights':>10} {'format':>12} {'size MB':>9}"
    print(header + f" {'save ms':>9} {'load ms':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for width in args.width:
            for width_, n, name, size, save_s, load_s in run(width, Path(tmp)):
                print(
                    f"{width_:>6} {n:>10,} {name:>12} {size / 1e6:>9.2f} "
                    f"{save_s * 1e3:>9.1f} {load_s * 1e3:>9.1f}"
                )


if __name__ == "__main__":
    main()
