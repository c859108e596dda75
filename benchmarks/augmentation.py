"""Fashion-MNIST vs MNIST with augmentation from a Dataset, online vs offline teacher.

The Fashion-MNIST set of ``benchmarks/fidelity.py``, loaded, split and scored
by its own functions (same seeds, the same 10,000 training, 2,000 validation
and 5,000 test images per seed, MNIST digits as OOD, halved into validation and
test OOD; MNIST is never used for training or for choosing settings), the
same default MLP on the 784 pixels at the estimators' default epochs. What
changes: the training images come from a ``torch.utils.data.Dataset``
(:class:`skend2.datasets.ArrayDataset`) that augments every read with
:class:`skend2.datasets.RandomCropFlip` (zero padding 2, random 28×28 crop,
random horizontal flip).

Rows, per seed:

- ``ensemble (augmented)``: ``DeepEnsembleClassifier(n_members=5)`` fitted on
  the augmented Dataset (each member draws its own views);
- ``EnD² (augmented, online)``: ``PriorNetworkDistiller`` at its defaults
  distilling that ensemble (``FrozenEstimator``) from the augmented Dataset with
  ``teacher_outputs="online"``: the teacher's logits on the very augmented
  batch the student sees;
- ``EnD² (augmented, offline)``: the same with ``teacher_outputs="offline"``
  and the teacher's logits computed once on the *un-augmented* images (the
  authors' approach): the Dataset's transform is switched off while the
  distiller computes the logits and switched on by a callback when the
  student's training begins, so the student's augmented views are paired
  with the logits of the un-augmented image.

Next to them, the un-augmented ``ensemble`` and ``EnD²`` rows of the same
seeds, trained on arrays, read from ``benchmarks/results/fidelity_runs/
fmnist_<seed>/results.json`` (``benchmarks/fidelity.py``'s per-seed runs).

Columns: error %, NLL, OOD AUROC by total and by knowledge uncertainty (as
fidelity.py), training error %, fit time and time per epoch (fit time over
``max_epochs``: for the ensemble one epoch of all members, fused; for a
student it includes its share of the offline logits and of set-up).

Usage::

    python benchmarks/augmentation.py --quick              # smoke test, a minute
    python benchmarks/augmentation.py --seeds 3            # the table
    python benchmarks/augmentation.py --seeds 1 --first-seed 1 --output DIR
    python benchmarks/augmentation.py --merge DIR1 DIR2 --output DIR
    python benchmarks/augmentation.py --timing 5   # s/epoch, rows back to back

Only skend2's public API is used (and skorch's ``Callback``).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from sklearn.frozen import FrozenEstimator
from skorch.callbacks import Callback

from skend2 import DeepEnsembleClassifier, PriorNetworkDistiller
from skend2.datasets import ArrayDataset, RandomCropFlip

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fidelity import (  # noqa: E402
    SETTINGS,
    _clean,
    _network,
    describe,
    evaluate,
    load_panel,
    summarise,
)
from reproduce_paper import machine  # noqa: E402

__all__ = ["ROWS", "main", "run"]

ROOT = Path(__file__).resolve().parent
DATASET = "fashion-mnist"
ROWS = ("ensemble (augmented)", "EnD² (augmented, online)", "EnD² (augmented, offline)")
#: The un-augmented rows of fidelity.py, read per seed, and their names here.
BASELINE_ROWS = {
    "ensemble": "ensemble (arrays, no augmentation)",
    "EnD²": "EnD² (arrays, no augmentation)",
}
BASELINE_RUNS = ROOT / "results" / "fidelity_runs"

METRICS = (
    ("error", "error %", 2),
    ("nll", "NLL", 3),
    ("ood_auroc_total", "OOD AUROC total", 3),
    ("ood_auroc_knowledge", "OOD AUROC knowl.", 3),
    ("train_error", "train error %", 2),
    ("fit_seconds", "fit s", 0),
    ("epoch_seconds", "s / epoch", 2),
)

#: ``default``: fidelity.py's Fashion-MNIST settings with its default network
#: (the MLP on the pixels, the estimators' default epochs: 100 for members,
#: 150 for students). ``quick``: a few hundred images and a few epochs.
MODES = {
    "default": dict(
        SETTINGS["default"]["fashion-mnist"],
        module="mlp", module_params=None, member_epochs=None, student_epochs=None,
    ),
    "quick": dict(
        n_train=400, n_val=200, n_test=400, n_ood=800, module="mlp",
        module_params=None, member_epochs=3, student_epochs=3, n_members=5,
    ),
}  # fmt: skip
DEFAULT_EPOCHS = {"members": 100, "students": 150}
PADDING = 2


class AugmentFromTrainBegin(Callback):
    """Sets a Dataset's transform when the student's training begins.

    With ``teacher_outputs="offline"`` the distiller computes the teacher's
    logits on the Dataset before training: with the transform still unset
    they are the logits of the un-augmented images, which the student's
    augmented views are then paired with (the authors' approach).
    """

    def __init__(self, dataset: ArrayDataset, transform: Any) -> None:
        self.dataset = dataset
        self.transform = transform

    def on_train_begin(self, net, X=None, y=None, **kwargs) -> None:
        self.dataset.transform = self.transform


def _epochs(estimator: Any, default: int) -> int:
    return int(getattr(estimator, "max_epochs", None) or default)


def run_seed(
    seed: int, settings: dict[str, Any], device: str, start: float
) -> tuple[dict[str, dict[str, Any]], Any]:
    """Fit and evaluate the three augmented rows of one seed."""
    data = load_panel(DATASET, seed, settings)
    augment = RandomCropFlip(padding=PADDING, flip=True)
    train = ArrayDataset(data.X_train, data.y_train, transform=augment)
    common = dict(device=device, **_network(settings))
    if settings.get("member_epochs"):
        common["max_epochs"] = settings["member_epochs"]
    student_params: dict[str, Any] = dict(device=device, random_state=20_000 + seed)
    if settings.get("student_epochs"):
        student_params["max_epochs"] = settings["student_epochs"]
    results: dict[str, dict[str, Any]] = {}

    def fit_and_score(name: str, estimator: Any, dataset: Any, epochs: int) -> Any:
        tic = time.perf_counter()
        estimator.fit(dataset)
        seconds = time.perf_counter() - tic
        row = evaluate(name, estimator, data, "test")
        row["fit_seconds"] = seconds
        row["epochs"] = epochs
        row["epoch_seconds"] = seconds / epochs
        if hasattr(estimator, "annealing_"):
            # Defaults change; record the schedule that "auto" resolved to.
            row["annealing"] = repr(estimator.annealing_)
        results[name] = row
        print(
            f"[{time.perf_counter() - start:7.0f} s] seed {seed}: {name} fitted in "
            f"{seconds:.1f} s ({seconds / epochs:.2f} s/epoch), error "
            f"{row['error']:.2f} %, OOD AUROC knowledge "
            f"{row['ood_auroc_knowledge']:.3f}",
            flush=True,
        )
        return estimator

    ensemble = DeepEnsembleClassifier(
        n_members=settings.get("n_members") or 5, random_state=seed, **common
    )
    ensemble = fit_and_score(
        ROWS[0], ensemble, train, _epochs(ensemble, DEFAULT_EPOCHS["members"])
    )
    online = PriorNetworkDistiller(
        FrozenEstimator(ensemble), teacher_outputs="online", **student_params
    )
    fit_and_score(ROWS[1], online, train, _epochs(online, DEFAULT_EPOCHS["students"]))
    # Un-augmented until the student's training begins: the offline logits are
    # those of the stored images.
    plain = ArrayDataset(data.X_train, data.y_train, transform=None)
    offline = PriorNetworkDistiller(
        FrozenEstimator(ensemble),
        teacher_outputs="offline",
        callbacks=[("augment", AugmentFromTrainBegin(plain, augment))],
        **student_params,
    )
    fit_and_score(ROWS[2], offline, plain, _epochs(offline, DEFAULT_EPOCHS["students"]))
    if plain.transform is not augment or offline.teacher_outputs_ != "offline":
        raise RuntimeError("the offline row's student did not train on augmented views")
    return results, data


def time_epochs(
    seed: int, settings: dict[str, Any], device: str, epochs: int, repeats: int
) -> dict[str, Any]:
    """Seconds per epoch of every row, measured back to back under one load.

    The fit times of the table are measured hours apart on a shared machine;
    here each row trains ``epochs`` epochs, the rows in turn, ``repeats``
    times, and the median of skorch's per-epoch durations (``history[:,
    "dur"]``: training steps only, not the set-up or the offline logits) is
    reported. The teacher is the ensemble trained ``epochs`` epochs (its
    weights do not change the cost).
    """
    data = load_panel(DATASET, seed, settings)
    augment = RandomCropFlip(padding=PADDING, flip=True)
    X, y = data.X_train, data.y_train
    n_members = settings.get("n_members") or 5
    common = dict(device=device, max_epochs=epochs, **_network(settings))
    student = dict(device=device, max_epochs=epochs, random_state=20_000 + seed)
    teacher = DeepEnsembleClassifier(n_members=n_members, random_state=seed, **common)
    teacher.fit(X, y)
    frozen = FrozenEstimator(teacher)

    def offline_augmented():
        plain = ArrayDataset(X, y)
        callback = AugmentFromTrainBegin(plain, augment)
        model = PriorNetworkDistiller(
            frozen,
            teacher_outputs="offline",
            callbacks=[("augment", callback)],
            **student,
        )
        return model.fit(plain)

    rows = {
        "ensemble, arrays": lambda: DeepEnsembleClassifier(
            n_members=n_members, random_state=seed, **common
        ).fit(X, y),
        "ensemble, augmented Dataset": lambda: DeepEnsembleClassifier(
            n_members=n_members, random_state=seed, **common
        ).fit(ArrayDataset(X, y, transform=augment)),
        "EnD², arrays (offline)": lambda: PriorNetworkDistiller(frozen, **student).fit(
            X, y
        ),
        "EnD², augmented Dataset, online": lambda: PriorNetworkDistiller(
            frozen, teacher_outputs="online", **student
        ).fit(ArrayDataset(X, y, transform=augment)),
        "EnD², augmented Dataset, offline": offline_augmented,
    }
    durations: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(repeats):
        for name, fit in rows.items():
            model = fit()
            durations[name] += [float(d) for d in model.net_.history[:, "dur"]]
    medians = {name: statistics.median(d) for name, d in durations.items()}
    return {
        "seed": seed,
        "n_train": len(y),
        "epochs": epochs,
        "repeats": repeats,
        "durations": durations,
        "median_epoch_seconds": medians,
    }


def timing_markdown(timing: dict[str, Any]) -> str:
    """The per-epoch times, with the ratios that matter."""
    med = timing["median_epoch_seconds"]
    lines = [
        f"Seconds per epoch (median of {timing['repeats']} × {timing['epochs']} "
        f"epochs per row, rows in turn; seed {timing['seed']}'s "
        f"{timing['n_train']:,} training images):",
        "",
        "| row | s / epoch | ratio |",
        "|---|---:|---|",
    ]
    base = {"ensemble": med["ensemble, arrays"], "EnD²": med["EnD², arrays (offline)"]}
    for name, value in med.items():
        kind = "ensemble" if name.startswith("ensemble") else "EnD²"
        lines.append(
            f"| {name} | {value:.2f} | {value / base[kind]:.2f}× {kind} on arrays |"
        )
    return "\n".join(lines) + "\n"


def baseline_rows(seeds: list[int]) -> dict[str, list[dict[str, Any]]]:
    """fidelity.py's un-augmented ensemble and EnD² rows of ``seeds`` (if run)."""
    rows: dict[str, list[dict[str, Any]]] = {
        name: [] for name in BASELINE_ROWS.values()
    }
    for seed in seeds:
        path = BASELINE_RUNS / f"fmnist_{seed}" / "results.json"
        if not path.exists():
            continue
        payload = json.loads(path.read_text(encoding="utf-8"))
        block = payload["datasets"][DATASET]
        if block["settings"].get("module") != "mlp" or seed not in block["seeds"]:
            continue
        index = block["seeds"].index(seed)
        for model, name in BASELINE_ROWS.items():
            run = dict(block["per_seed"][model][index])
            epochs = DEFAULT_EPOCHS["members" if model == "ensemble" else "students"]
            run["epochs"] = epochs
            run["epoch_seconds"] = run["fit_seconds"] / epochs
            run["seed"] = seed
            rows[name].append(run)
    return {name: runs for name, runs in rows.items() if runs}


def _cell(metrics: dict, key: str, digits: int) -> str:
    entry = metrics.get(key)
    if entry is None or entry["mean"] is None or math.isnan(entry["mean"]):
        return "n/a"
    return f"{entry['mean']:.{digits}f} ± {entry['std']:.{digits}f}"


def markdown_table(summary: dict[str, dict]) -> str:
    """Mean ± std (ddof 1) over seeds per row and metric, as Markdown."""
    lines = [
        "| model | " + " | ".join(label for _, label, _ in METRICS) + " |",
        "|---|" + "---:|" * len(METRICS),
    ]
    for model, metrics in summary.items():
        cells = [_cell(metrics, key, digits) for key, _, digits in METRICS]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _summarise(per_seed: dict[str, list[dict[str, Any]]]) -> dict[str, dict]:
    return summarise({k: v for k, v in per_seed.items() if v})


def tables_markdown(payload: dict[str, Any]) -> str:
    """The report of a run: the augmented rows, then the un-augmented ones."""
    meta = payload["meta"]
    m = meta["machine"]
    baseline = payload.get("baseline", {})
    lines = [
        "# Fashion-MNIST with augmentation from a Dataset",
        "",
        f"Command: `{meta['command']}`  ",
        f"Date: {meta['date']}; mode: {meta['mode']}; seeds: {meta['seeds']}; "
        f"wall time {meta.get('wall_seconds', 0) / 60:.1f} min  ",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} "
        f"({m['torch_threads']} threads), device {meta['device']}, skend2 "
        f"{m['skend2']}  ",
        f"Augmentation: RandomCropFlip(padding={PADDING}, flip=True) on every "
        "read of an ArrayDataset; test and OOD images are not augmented.",
        "",
        f"{payload.get('description', DATASET)}. Mean ± std over the seeds.",
        "",
        markdown_table(payload.get("summary", {})),
        "",
    ]
    if baseline.get("summary"):
        lines += [
            "Un-augmented rows of the same seeds (arrays; benchmarks/fidelity.py, "
            f"seeds {baseline['seeds']}, from {baseline['source']}):",
            "",
            markdown_table(baseline["summary"]),
            "",
        ]
    return "\n".join(lines)


def write_outputs(payload: dict[str, Any], folder: Path) -> None:
    """results.json (everything, per seed) and tables.md."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(
        json.dumps(_clean(payload), indent=1) + "\n", encoding="utf-8"
    )
    (folder / "tables.md").write_text(tables_markdown(payload), encoding="utf-8")


def _attach_baseline(payload: dict[str, Any]) -> None:
    seeds = payload["meta"]["seeds"]
    runs = baseline_rows(seeds) if payload["meta"]["mode"] == "default" else {}
    payload["baseline"] = {
        "source": str(BASELINE_RUNS.relative_to(ROOT.parent)) + "/fmnist_<seed>",
        "seeds": sorted({r["seed"] for v in runs.values() for r in v}),
        "per_seed": runs,
        "summary": _summarise(runs) if runs else {},
    }


def run(
    seeds: list[int], mode: str, device: str, output: Path, command: str
) -> dict[str, Any]:
    """Run the augmented rows seed after seed, writing the outputs after each."""
    start = time.perf_counter()
    settings = copy.deepcopy(MODES[mode])
    payload: dict[str, Any] = {
        "meta": {
            "command": command,
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "mode": mode,
            "device": device,
            "seeds": [],
            "padding": PADDING,
            "machine": machine(),
        },
        "settings": settings,
        "per_seed": {name: [] for name in ROWS},
    }
    for seed in seeds:
        results, data = run_seed(seed, settings, device, start)
        payload["description"] = describe(DATASET, settings, data)
        for name in ROWS:
            results[name]["seed"] = seed
            payload["per_seed"][name].append(results[name])
        payload["meta"]["seeds"].append(seed)
        payload["summary"] = _summarise(payload["per_seed"])
        payload["meta"]["wall_seconds"] = time.perf_counter() - start
        _attach_baseline(payload)
        write_outputs(payload, output)
    print("\n" + tables_markdown(payload), flush=True)
    return payload


def merge(folders: list[Path], output: Path) -> dict[str, Any]:
    """Pool the seeds of earlier runs (one ``results.json`` per folder)."""
    payloads = [
        json.loads((Path(f) / "results.json").read_text(encoding="utf-8"))
        for f in folders
    ]
    merged: dict[str, Any] = {
        "meta": dict(payloads[0]["meta"]),
        "settings": payloads[0]["settings"],
        "description": payloads[0].get("description", DATASET),
        "per_seed": {name: [] for name in ROWS},
    }
    merged["meta"]["command"] = " ; ".join(p["meta"]["command"] for p in payloads)
    merged["meta"]["wall_seconds"] = sum(
        p["meta"].get("wall_seconds", 0) for p in payloads
    )
    seeds: list[int] = []
    for payload in payloads:
        if payload["meta"]["mode"] != merged["meta"]["mode"]:
            raise ValueError("the runs have different modes")
        twice = set(seeds) & set(payload["meta"]["seeds"])
        if twice:
            raise ValueError(f"seeds {sorted(twice)} in two runs")
        seeds += payload["meta"]["seeds"]
        for name in ROWS:
            merged["per_seed"][name] += payload["per_seed"][name]
    merged["meta"]["seeds"] = seeds
    merged["summary"] = _summarise(merged["per_seed"])
    _attach_baseline(merged)
    write_outputs(merged, output)
    print(tables_markdown(merged), flush=True)
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fashion-MNIST vs MNIST: ensemble and EnD² (online and "
        "offline teacher outputs) trained with random crops and flips from a "
        "Dataset, next to fidelity.py's un-augmented rows."
    )
    parser.add_argument(
        "--seeds", type=int, default=3, help="number of seeds (default 3)"
    )
    parser.add_argument(
        "--first-seed", type=int, default=0, help="first seed (default 0)"
    )
    parser.add_argument(
        "--quick", action="store_true",
        help="development mode: 400 training images, 3 epochs, one seed",
    )  # fmt: skip
    parser.add_argument("--device", default="cpu", help='torch device ("cpu")')
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (default 1)"
    )
    parser.add_argument(
        "--output", type=Path, default=None,
        help="output folder (default benchmarks/results/augmentation[_quick])",
    )  # fmt: skip
    parser.add_argument(
        "--merge", nargs="+", type=Path, default=None, metavar="FOLDER",
        help="merge the results.json of earlier runs into --output",
    )  # fmt: skip
    parser.add_argument(
        "--timing", type=int, default=None, metavar="EPOCHS",
        help="instead of the table: time EPOCHS epochs of every row, the rows "
        "in turn, 3 times, on --first-seed's data (timing.json, timing.md)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.merge is not None:
        if args.output is None:
            parser.error("--merge needs --output")
        merge(args.merge, args.output)
        return 0
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    if str(args.device).startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available here")
    mode = "quick" if args.quick else "default"
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    if args.quick:
        seeds = seeds[:1]
    output = args.output or ROOT / "results" / (
        "augmentation_quick" if args.quick else "augmentation"
    )
    torch.set_num_threads(args.threads)
    command = "python benchmarks/augmentation.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    try:
        if args.timing is not None:
            timing = time_epochs(
                args.first_seed, copy.deepcopy(MODES[mode]), args.device,
                args.timing, repeats=3,
            )  # fmt: skip
            timing["command"] = command.strip()
            timing["machine"] = machine()
            output.mkdir(parents=True, exist_ok=True)
            (output / "timing.json").write_text(
                json.dumps(_clean(timing), indent=1) + "\n", encoding="utf-8"
            )
            text = f"Command: `{command.strip()}`\n\n" + timing_markdown(timing)
            (output / "timing.md").write_text(text, encoding="utf-8")
            print(text, flush=True)
            return 0
        run(seeds, mode, args.device, output, command.strip())
    except (FileNotFoundError, ImportError) as exc:
        print(f"augmentation: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
