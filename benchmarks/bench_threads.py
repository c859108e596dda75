"""Torch CPU threads for skend2's networks: one thread vs torch's default.

Times ``fit`` and ``predict_proba`` of three workloads with ``torch.set_num_threads(1)``
and with torch's default thread count (the number of cores), first on an idle
machine and then *loaded*: with ``--busy`` (default 2) processes that this script
starts, each spinning a CPU core in a pure-Python loop, and terminates when done
(also on error or Ctrl-C). The workloads:

* **MLP ensemble**: ``DeepEnsembleClassifier()`` with its defaults (5 members, MLP
  with two hidden layers of 100, batches of 64) on scikit-learn's digits (1,797 x 64,
  10 classes, pixels scaled to [0, 1]);
* **EnD² student**: ``PriorNetworkDistiller`` distilling that ensemble (through
  ``FrozenEstimator``, so its fit is the student's alone, teacher outputs included);
* **CNN**: ``DeepEnsembleClassifier(module=SmallCNN, n_members=1)`` (default width 32)
  on 28 x 28 one-channel images (random pixels: the cost of a pass does not depend
  on what the images show).

Each timing is repeated ``--repeats`` times, the two thread settings interleaved,
and the median is reported. The ratio is ``time(default threads) / time(1
thread)``: above 1, one thread is faster. When the estimators have an
``n_threads`` parameter it is set to the thread count under test as well, so
that they do not override it.

    python benchmarks/bench_threads.py [--quick] [--repeats 3] [--busy 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator

from skend2 import DeepEnsembleClassifier, PriorNetworkDistiller
from skend2.modules import MLP, SmallCNN

#: Sizes of a full run and of ``--quick``. The work is kept small because the
#: slow cell (torch's default threads next to busy processes) can take ten
#: times as long as the fast one: a full run takes 1-2 minutes on 2 idle cores
#: and up to about 5 on a shared, busy machine; ``--quick`` about a third.
SIZES = {
    "full": {
        "mlp_epochs": 2,
        "student_epochs": 2,
        "tabular_predict": 20_000,
        "cnn_train": 500,
        "cnn_epochs": 1,
        "cnn_predict": 1000,
        "repeats": 3,
    },
    "quick": {
        "mlp_epochs": 1,
        "student_epochs": 1,
        "tabular_predict": 10_000,
        "cnn_train": 200,
        "cnn_epochs": 1,
        "cnn_predict": 500,
        "repeats": 1,
    },
}


def _spin() -> None:
    """Keep one core busy until terminated."""
    while True:
        pass


@contextmanager
def busy_processes(n: int) -> Iterator[None]:
    """Run ``n`` processes that each keep a CPU core busy; always stop them."""
    # fork: the children run a pure-Python loop and never touch torch.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    processes = [context.Process(target=_spin, daemon=True) for _ in range(n)]
    try:
        for process in processes:
            process.start()
        time.sleep(0.5)  # let the scheduler see them
        yield
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()


def _set_threads(estimators: list, n_threads: int) -> None:
    torch.set_num_threads(n_threads)
    for estimator in estimators:
        if "n_threads" in estimator.get_params(deep=False):
            estimator.set_params(n_threads=n_threads)


def _n_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _workloads(sizes: dict) -> list[dict]:
    """Each workload: a name, its network's size, and fit/predict callables."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_predict = np.resize(X, (sizes["tabular_predict"], X.shape[1]))

    def make_ensemble():
        return DeepEnsembleClassifier(max_epochs=sizes["mlp_epochs"], random_state=0)

    fitted_ensemble = make_ensemble().fit(X, y)

    def make_student():
        return PriorNetworkDistiller(
            FrozenEstimator(fitted_ensemble),
            max_epochs=sizes["student_epochs"],
            random_state=0,
        )

    fitted_student = make_student().fit(X, y)

    rng = np.random.default_rng(0)
    images = rng.random((sizes["cnn_train"], 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, sizes["cnn_train"])
    images_predict = rng.random((sizes["cnn_predict"], 1, 28, 28), dtype=np.float32)

    def make_cnn():
        return DeepEnsembleClassifier(
            module=SmallCNN,
            n_members=1,
            max_epochs=sizes["cnn_epochs"],
            random_state=0,
        )

    fitted_cnn = make_cnn().fit(images, labels)
    n_mlp = _n_parameters(MLP(n_features=64, n_classes=10))
    n_cnn = _n_parameters(SmallCNN(n_channels=1, n_classes=10))
    return [
        {
            "name": "MLP ensemble",
            "detail": f"5 x MLP 64-100-100-10 ({n_mlp:,} parameters each), "
            f"{len(X)} rows x {sizes['mlp_epochs']} epochs; predict "
            f"{len(X_predict):,} rows",
            "parameters": n_mlp,
            "fit": lambda: make_ensemble().fit(X, y),
            "predict": lambda: fitted_ensemble.predict_proba(X_predict),
            "estimators": lambda: [fitted_ensemble],
        },
        {
            "name": "EnD² student",
            "detail": f"1 x MLP 64-100-100-10 ({n_mlp:,} parameters), "
            f"{len(X)} rows x {sizes['student_epochs']} epochs; predict "
            f"{len(X_predict):,} rows",
            "parameters": n_mlp,
            "fit": lambda: make_student().fit(X, y),
            "predict": lambda: fitted_student.predict_proba(X_predict),
            "estimators": lambda: [fitted_ensemble, fitted_student],
        },
        {
            "name": "SmallCNN",
            "detail": f"1 x SmallCNN width 32 ({n_cnn:,} parameters), "
            f"{sizes['cnn_train']} images 28x28 x {sizes['cnn_epochs']} epoch; "
            f"predict {sizes['cnn_predict']:,} images",
            "parameters": n_cnn,
            "fit": lambda: make_cnn().fit(images, labels),
            "predict": lambda: fitted_cnn.predict_proba(images_predict),
            "estimators": lambda: [fitted_cnn],
        },
    ]


def _time(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def measure(workloads: list[dict], threads: tuple[int, int], repeats: int) -> dict:
    """Median seconds per (workload, stage, threads); the settings interleaved."""
    times: dict = {}
    for workload in workloads:
        for stage in ("fit", "predict"):
            for _ in range(repeats):
                for n_threads in threads:
                    # Estimators made inside "fit" get n_threads through torch.
                    _set_threads(workload["estimators"](), n_threads)
                    key = (workload["name"], stage, n_threads)
                    times.setdefault(key, []).append(_time(workload[stage]))
    return {key: statistics.median(values) for key, values in times.items()}


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} logical CPUs; Python {platform.python_version()}, "
        f"torch {torch.__version__}"
    )


def _load_average() -> str:
    try:
        return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load average unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 repeat")
    parser.add_argument("--repeats", type=int, default=None, help="timings per cell")
    parser.add_argument(
        "--busy", type=int, default=2, help="busy processes of the loaded runs"
    )
    args = parser.parse_args(argv)

    sizes = SIZES["quick" if args.quick else "full"]
    repeats = args.repeats or sizes["repeats"]
    default_threads = torch.get_num_threads()
    if default_threads == 1:
        print(
            "torch's default is already 1 thread here (OMP_NUM_THREADS set, or one "
            "core): nothing to compare."
        )
        return
    threads = (1, default_threads)
    start = time.perf_counter()
    print(_machine())
    print(f"torch default threads: {default_threads}; repeats: {repeats} (median)")

    # Building the workloads fits each model once: that warms torch up.
    workloads = _workloads(sizes)
    for workload in workloads:
        print(f"  {workload['name']}: {workload['detail']}")

    results = {}
    print(f"idle: {_load_average()}")
    results["idle"] = measure(workloads, threads, repeats)
    with busy_processes(args.busy):
        print(f"loaded ({args.busy} busy processes): {_load_average()}")
        results["loaded"] = measure(workloads, threads, repeats)
    torch.set_num_threads(default_threads)

    header = (
        f"| workload | stage | idle: 1 thread (s) | idle: {default_threads} threads "
        f"(s) | idle ratio | loaded: 1 thread (s) | loaded: {default_threads} "
        f"threads (s) | loaded ratio |"
    )
    print()
    print(
        f"ratio = time({default_threads} threads) / time(1 thread); "
        "above 1: one thread is faster"
    )
    print()
    print(header)
    print("|---" * 8 + "|")
    for workload in workloads:
        for stage in ("fit", "predict"):
            cells = [workload["name"], stage]
            for load in ("idle", "loaded"):
                one = results[load][(workload["name"], stage, 1)]
                many = results[load][(workload["name"], stage, default_threads)]
                cells += [f"{one:.2f}", f"{many:.2f}", f"**{many / one:.2f}**"]
            print("| " + " | ".join(cells) + " |")
    print()
    print(f"wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
