"""Fitting from a Dataset over a memmapped file: peak memory and throughput.

Two measurements for issue 15 ("Beyond in-memory arrays"):

1. **Memory.** A float32 ``numpy.memmap`` of about 2 GB of 1 x 28 x 28 images
   (``--gb``, default 2.0: 637,755 images) and their int64 labels is
   written to a temporary directory in chunks (the whole array is never in
   RAM); the images carry a learnable signal (a class-dependent mean in one
   horizontal band of rows, plus noise). A *fresh* Python process (so that the
   baseline is clean) imports skend2, opens the memmap through a Dataset whose
   ``__getitem__`` reads one row, and fits
   ``DeepEnsembleClassifier(module=MLP, n_members=2, max_epochs=1,
   batch_size=512)`` on it: one full epoch over every image of the file, per
   member. A background thread samples ``/proc/self/status`` every 20 ms during
   the fit. Printed, in MB: the baseline (``VmRSS`` just before ``fit``), the
   peak resident set (``VmHWM``, equal to ``ru_maxrss``) and its increase, and
   the peaks of the two parts of the resident set, ``RssAnon`` (memory the
   process allocates privately: heap, tensors, Python objects) and ``RssFile``
   (pages of mapped files, the memmap's included).

   Which number the 0.5 GB target is about: the *private* memory the process
   allocates (the ``RssAnon`` increase). Pages of the memmap that the fit has
   read are counted in ``VmRSS``/``VmHWM`` as file-backed, shared, clean
   pages: page cache, which the kernel drops under memory pressure and reloads
   from the file, so they grow with whatever was read, not with what the
   process holds. Both are printed; PASS/FAIL is given for each, the verdict
   for the target being the ``RssAnon`` one.

2. **Throughput.** For in-memory data (same shape and signal), the same
   estimator settings with 2 epochs are fitted from the arrays and from a
   Dataset over the same arrays (``iterator_train__num_workers=0``), with
   ``module=MLP`` on ``--n-throughput`` images (default 20,000) and with
   ``module=SmallCNN`` on ``--n-cnn`` images (default 1,000; a convolutional
   network costs far more per image, so the Dataset's per-item reads weigh
   less); each fit is repeated ``--repeats`` times (alternating, after one
   warm-up fit) and the median is used. Images per second are
   ``n_images x epochs / fit time`` (each of the 2 fused members sees every
   image once per epoch); the ratio printed is ``images/s (arrays) /
   images/s (Dataset)`` (the goal: at most 1.5).

The temporary directory is deleted at the end (also on error). The exit
status is 1 when the ``RssAnon`` target or a throughput ratio fails, 0 when
all pass. Set
``OMP_NUM_THREADS=1`` for a run comparable with the saved results (the
estimator itself uses one torch thread, ``n_threads=1``).

Usage
-----
::

    OMP_NUM_THREADS=1 python benchmarks/bench_dataset_memory.py          # ~2 GB
    OMP_NUM_THREADS=1 python benchmarks/bench_dataset_memory.py --quick  # ~50 MB
    OMP_NUM_THREADS=1 python benchmarks/bench_dataset_memory.py --throughput-only
    python benchmarks/bench_dataset_memory.py --gb 1.0 --n-throughput 10000 \
        --n-cnn 500 --repeats 5 --tmpdir /var/tmp

Results of a full run: ``benchmarks/results/bench_dataset_memory_cpu.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

IMAGE_SHAPE = (1, 28, 28)
N_CLASSES = 10
TARGET_MB = 512.0  # 0.5 GB
RATIO_GOAL = 1.5
SETTINGS = {"n_members": 2, "batch_size": 512, "random_state": 0}


# --------------------------------------------------------------------------- data
def _images(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """Noise plus a class-dependent brightness of one band of rows."""
    n = len(labels)
    x = rng.standard_normal((n, *IMAGE_SHAPE), dtype=np.float32)
    bands = labels % 7  # rows 4*band .. 4*band+3 of the 28
    for band in range(7):
        x[bands == band, :, 4 * band : 4 * band + 4, :] += 0.15
    x += (labels[:, None, None, None] * 0.02).astype(np.float32)
    return x


def write_memmap(directory: str, n: int, chunk: int = 20_000, seed: int = 0):
    """Write ``n`` images and labels as .npy-free raw memmaps, chunk by chunk."""
    rng = np.random.default_rng(seed)
    x_path = os.path.join(directory, "images.f32")
    y_path = os.path.join(directory, "labels.i64")
    X = np.memmap(x_path, dtype=np.float32, mode="w+", shape=(n, *IMAGE_SHAPE))
    Y = np.memmap(y_path, dtype=np.int64, mode="w+", shape=(n,))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        labels = rng.integers(0, N_CLASSES, size=stop - start)
        X[start:stop] = _images(rng, labels)
        Y[start:stop] = labels
        X.flush()
        Y.flush()
    del X, Y
    return x_path, y_path


# ------------------------------------------------------------------ /proc sampling
def proc_status() -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon, RssFile, RssShmem of this process, in MB."""
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                values[key] = int(rest.split()[0]) / 1024.0
    return values


class Sampler(threading.Thread):
    """Peaks of /proc/self/status's fields, sampled every ``interval`` s."""

    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peaks: dict[str, float] = {}
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self._record()
            self._stop_event.wait(self.interval)

    def _record(self) -> None:
        for key, value in proc_status().items():
            self.peaks[key] = max(self.peaks.get(key, 0.0), value)
        self.samples += 1

    def stop(self) -> dict[str, float]:
        self._stop_event.set()
        self.join()
        self._record()
        return self.peaks


# ------------------------------------------------------------------- child process
def child(x_path: str, y_path: str, n: int) -> None:
    """Fit from a Dataset over the memmap; print one JSON line of measurements."""
    import resource

    import torch
    from torch.utils.data import Dataset

    from skend2 import DeepEnsembleClassifier
    from skend2.modules import MLP

    class MemmapImages(Dataset):
        """(image, label) of one memmap row; ``targets`` is the labels memmap."""

        def __init__(self) -> None:
            self.images = np.memmap(
                x_path, dtype=np.float32, mode="r", shape=(n, *IMAGE_SHAPE)
            )
            self.targets = np.memmap(y_path, dtype=np.int64, mode="r", shape=(n,))

        def __len__(self) -> int:
            return n

        def __getitem__(self, i):
            return torch.from_numpy(np.array(self.images[i])), int(self.targets[i])

    dataset = MemmapImages()
    clf = DeepEnsembleClassifier(module=MLP, max_epochs=1, **SETTINGS)
    before = proc_status()
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    sampler = Sampler()
    sampler.start()
    start = time.perf_counter()
    try:
        clf.fit(dataset)
    finally:
        seconds = time.perf_counter() - start
        peaks = sampler.stop()
    after = proc_status()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    loss = clf.history_[-1]["train_loss"] if hasattr(clf, "history_") else None
    # Accuracy on the first 20,000 rows, read in order through the Dataset.
    probe = torch.utils.data.Subset(dataset, range(min(n, 20_000)))
    predicted = clf.predict(probe)
    accuracy = float(np.mean(predicted == np.asarray(dataset.targets[: len(probe)])))
    print(
        json.dumps(
            {
                "before": before,
                "after": after,
                "peaks": peaks,
                "samples": sampler.samples,
                "maxrss_before": maxrss_before,
                "maxrss": maxrss,
                "seconds": seconds,
                "train_loss": loss,
                "accuracy": accuracy,
                "torch_threads": torch.get_num_threads(),
            }
        )
    )


# ----------------------------------------------------------------------- throughput
def throughput(module_name: str, n: int, epochs: int, repeats: int) -> dict:
    """Median fit seconds from arrays and from a Dataset over the same arrays."""
    import torch
    from torch.utils.data import Dataset

    from skend2 import DeepEnsembleClassifier, modules

    module = getattr(modules, module_name)
    rng = np.random.default_rng(1)
    y = rng.integers(0, N_CLASSES, size=n)
    X = _images(rng, y)

    class ArrayImages(Dataset):
        def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
            self.images = torch.from_numpy(images)
            self.labels = torch.from_numpy(labels)
            self.targets = labels

        def __len__(self) -> int:
            return len(self.images)

        def __getitem__(self, i):
            return self.images[i], self.labels[i]

    dataset = ArrayImages(X, y)

    def fit(data) -> float:
        clf = DeepEnsembleClassifier(
            module=module,
            max_epochs=epochs,
            iterator_train__num_workers=0,
            **SETTINGS,
        )
        start = time.perf_counter()
        if data is None:
            clf.fit(X, y)
        else:
            clf.fit(data)
        return time.perf_counter() - start

    fit(None)  # warm-up (first-call costs of torch and skorch)
    times: dict[str, list[float]] = {"arrays": [], "dataset": []}
    for _ in range(repeats):
        times["arrays"].append(fit(None))
        times["dataset"].append(fit(dataset))
    return {key: statistics.median(value) for key, value in times.items()} | {
        "all": times
    }


# ------------------------------------------------------------------------------ main
def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
        return f"load average (1, 5, 15 min): {one:.2f} {five:.2f} {fifteen:.2f}"
    except OSError:
        return "load average: unavailable"


def memory_part(n: int, parent: str) -> int:
    """Part 1: fit from a memmapped file in a fresh process; 0 if the target holds."""
    directory = tempfile.mkdtemp(prefix="skend2_bench_memmap_", dir=parent)
    try:
        start = time.perf_counter()
        x_path, y_path = write_memmap(directory, n)
        print(
            f"\n[memory] memmap: {n:,} images of {IMAGE_SHAPE} float32 "
            f"({os.path.getsize(x_path) / 1e9:.2f} GB) + int64 labels, written in "
            f"chunks in {time.perf_counter() - start:.1f} s to {directory}"
        )
        print(
            "  fit: DeepEnsembleClassifier(module=MLP, n_members=2, max_epochs=1, "
            "batch_size=512) on a Dataset reading one memmap row per item, "
            "in a fresh process"
        )
        result = subprocess.run(
            [
                sys.executable,
                os.path.abspath(__file__),
                "--child",
                x_path,
                y_path,
                str(n),
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            print(result.stdout)
            print(result.stderr)
            print("  the child process failed")
            return 1
        m = json.loads(result.stdout.strip().splitlines()[-1])
        b, p = m["before"], m["peaks"]
        hwm_extra = m["maxrss"] - b["VmRSS"]
        anon_extra = p["RssAnon"] - b["RssAnon"]
        file_extra = p["RssFile"] - b["RssFile"]
        ok_anon = anon_extra < TARGET_MB
        ok_hwm = hwm_extra < TARGET_MB
        rate = 2 * n / m["seconds"]
        print(
            f"  fit: {m['seconds']:.1f} s ({n / m['seconds']:,.0f} images/s, "
            f"{rate:,.0f} item reads/s for 2 members), last train_loss "
            f"{m['train_loss']:.4f}, accuracy on the first rows "
            f"{m['accuracy']:.3f}; torch threads {m['torch_threads']}; "
            f"{m['samples']} samples of /proc/self/status"
        )
        print(
            f"  baseline before fit: VmRSS {b['VmRSS']:8.1f} MB "
            f"(RssAnon {b['RssAnon']:.1f}, RssFile {b['RssFile']:.1f}); "
            f"VmHWM so far {b['VmHWM']:.1f} MB"
        )
        print(
            f"  peak (VmHWM = ru_maxrss):  {m['maxrss']:8.1f} MB   "
            f"extra {hwm_extra:8.1f} MB   "
            f"{'PASS' if ok_hwm else 'FAIL'} vs {TARGET_MB:.0f} MB "
            "(counts the memmap's page cache)"
        )
        print(
            f"  peak RssAnon (private):    {p['RssAnon']:8.1f} MB   "
            f"extra {anon_extra:8.1f} MB   "
            f"{'PASS' if ok_anon else 'FAIL'} vs {TARGET_MB:.0f} MB "
            "<- the target"
        )
        print(
            f"  peak RssFile (file-backed):{p['RssFile']:8.1f} MB   "
            f"extra {file_extra:8.1f} MB   (memmap pages read: reclaimable cache)"
        )
        a = m["after"]
        print(
            f"  after fit: VmRSS {a['VmRSS']:.1f} MB (RssAnon {a['RssAnon']:.1f}, "
            f"RssFile {a['RssFile']:.1f})"
        )
        return 0 if ok_anon else 1
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        print(f"  temporary directory deleted: {not os.path.exists(directory)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="~50 MB file")
    parser.add_argument("--gb", type=float, default=None, help="file size in GB")
    parser.add_argument("--n-throughput", type=int, default=None)
    parser.add_argument("--n-cnn", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tmpdir", default=None, help="where the file is written")
    parser.add_argument(
        "--throughput-only",
        action="store_true",
        help="skip the memory part (no file is written)",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return 0

    gb = args.gb if args.gb is not None else (0.05 if args.quick else 2.0)
    n_tp = args.n_throughput or (4000 if args.quick else 20_000)
    n_cnn = args.n_cnn or (250 if args.quick else 1000)
    image_bytes = int(np.prod(IMAGE_SHAPE)) * 4
    n = int(gb * 1e9 // image_bytes)
    need = n * (image_bytes + 8)
    parent = args.tmpdir or tempfile.gettempdir()
    free = shutil.disk_usage(parent).free
    print("bench_dataset_memory", "(--quick)" if args.quick else "")
    print(
        f"python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    )
    print(f"at start: {_load()}")
    failed = False
    if args.throughput_only:
        print("\n[memory] skipped (--throughput-only)")
    elif free < 2 * need:
        print(
            f"not enough space in {parent}: {free / 1e9:.1f} GB free, "
            f"{need / 1e9:.2f} GB needed (with 2x margin)"
        )
        return 2
    else:
        failed |= memory_part(n, parent) != 0

    for module_name, n_images in (("MLP", n_tp), ("SmallCNN", n_cnn)):
        print(
            f"\n[throughput] {n_images:,} in-memory images {IMAGE_SHAPE}, "
            f"DeepEnsembleClassifier(module={module_name}, n_members=2, "
            f"max_epochs=2, batch_size=512), arrays vs a Dataset over them "
            f"(num_workers=0), median of {args.repeats}"
        )
        print(f"  before: {_load()}")
        t = throughput(module_name, n_images, epochs=2, repeats=args.repeats)
        ips = {k: n_images * 2 / t[k] for k in ("arrays", "dataset")}
        ratio = ips["arrays"] / ips["dataset"]
        for key in ("arrays", "dataset"):
            runs = ", ".join(f"{s:.2f}" for s in t["all"][key])
            print(
                f"  {key:8s}: {t[key]:6.2f} s per fit ({runs}) -> "
                f"{ips[key]:10,.0f} images/s"
            )
        ok_ratio = ratio <= RATIO_GOAL
        print(
            f"  ratio images/s arrays / Dataset: {ratio:.2f}x   "
            f"{'PASS' if ok_ratio else 'FAIL'} vs goal <= {RATIO_GOAL}x"
        )
        failed |= not ok_ratio
    print(f"\nat end: {_load()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
