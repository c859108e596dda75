"""End-to-end check of the GPU path: every estimator on ``device="cuda"`` vs the CPU.

For DeepEnsembleClassifier (fused and sequential), EnsembleDistiller and
PriorNetworkDistiller (offline and online teacher outputs), from arrays and
from a ``torch.utils.data.Dataset`` of the same images, it

* fits on the CPU, and checks that a Dataset gives the model arrays give;
* fits the same on CUDA (when available), checks the CUDA models against the
  CPU ones, and the CPU models moved to CUDA against themselves on the CPU;
* checks the online teacher on CUDA against the teacher's
  ``predict_member_logits`` on the CPU, for an augmented batch;
* pickles the CUDA models and loads them in a process without CUDA
  (``CUDA_VISIBLE_DEVICES=""``), which predicts as the CUDA model did;
* prints throughput (images per second of member training and of
  distillation, from arrays and from a Dataset, with and without augmentation)
  and the fused ensemble's epoch time over one member's.

Any mismatch beyond float tolerance raises (exit status 1, "MISMATCH").
Without CUDA it runs the CPU parts and says that it skipped CUDA.

    python benchmarks/gpu_check.py [--quick] [--n 2048] [--epochs 3]
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from torch.utils.data import Dataset, TensorDataset

from skend2 import DeepEnsembleClassifier, EnsembleDistiller, PriorNetworkDistiller
from skend2.transfer import OnlineTeacher

# Same device: Dataset vs arrays read the same batches, so they agree to the
# last bits on the CPU (0 measured); on CUDA, within float32 rounding of
# kernels whose reductions may be ordered differently. Across devices the
# kernels differ (cuDNN vs CPU convolutions, in float32: TF32 is switched off)
# and training amplifies their rounding a little; predictions of one trained
# model on either device agree to float32 rounding.
SAME_DEVICE_ATOL = {"cpu": 1e-5, "cuda": 1e-4}
CROSS_DEVICE_TRAINED_ATOL = 2e-3
CROSS_DEVICE_PREDICT_ATOL = 1e-4


class Mismatch(AssertionError):
    pass


def check_close(what: str, a, b, atol: float) -> None:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    worst = float(np.max(np.abs(a - b))) if a.size else 0.0
    status = "ok" if worst <= atol and a.shape == b.shape else "MISMATCH"
    print(f"  check {what}: max |diff| = {worst:.2e} (tolerance {atol:.0e}) {status}")
    if status != "ok":
        raise Mismatch(f"MISMATCH: {what}: max |diff| {worst:.3e} > {atol:.0e}")


class RandomFlip(Dataset):
    """Images with a random horizontal flip per read (torchvision-style)."""

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X, self.targets = torch.from_numpy(X), torch.from_numpy(y)

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i):
        x = self.X[i]
        if torch.rand(()) < 0.5:
            x = x.flip(-1)
        return x, self.targets[i]


def make_data(n: int, size: int, n_classes: int = 4):
    """Images whose class sets the brightness of one quadrant."""
    rng = np.random.default_rng(0)
    y = rng.integers(n_classes, size=n)
    X = rng.normal(scale=0.5, size=(n, 1, size, size)).astype(np.float32)
    half = size // 2
    for k in range(n_classes):
        rows, cols = divmod(k, 2)
        X[
            y == k, :, rows * half : (rows + 1) * half, cols * half : (cols + 1) * half
        ] += 1
    return X, y.astype(np.int64)


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def estimators(device: str, epochs: int, members: int, teacher):
    """name -> (factory, images trained per fit) for one device."""
    common = dict(max_epochs=epochs, random_state=0, device=device, module__width=8)

    def ensemble(training):
        return lambda: DeepEnsembleClassifier(
            n_members=members, training=training, **common
        )

    def distiller(cls, outputs):
        return lambda: cls(
            FrozenEstimator(teacher),
            teacher_outputs=outputs,
            **common,
        )

    return {
        "ensemble fused": (ensemble("fused"), members),
        "ensemble sequential": (ensemble("sequential"), members),
        "EnD offline": (distiller(EnsembleDistiller, "offline"), 1),
        "EnD online": (distiller(EnsembleDistiller, "online"), 1),
        "EnD2 offline": (distiller(PriorNetworkDistiller, "offline"), 1),
        "EnD2 online": (distiller(PriorNetworkDistiller, "online"), 1),
    }


def fit_all(device, X, y, epochs, members, teacher):
    """Fit every estimator from arrays and from a Dataset; print throughput."""
    fitted = {}
    print(f"\n== {device}: fit from arrays and from a Dataset ({len(X)} images)")
    for name, (make, copies) in estimators(device, epochs, members, teacher).items():
        from_arrays, t_arrays = timed(make().fit, X, y)
        dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
        from_dataset, t_dataset = timed(make().fit, dataset)
        images = len(X) * epochs * copies
        print(
            f"  {name:<20} arrays {images / t_arrays:9.0f} img/s   "
            f"Dataset {images / t_dataset:9.0f} img/s   "
            f"(Dataset/arrays time {t_dataset / t_arrays:.2f}x)"
        )
        check_close(
            f"{device} {name}: Dataset vs arrays",
            from_dataset.predict_proba(dataset),
            from_arrays.predict_proba(X),
            SAME_DEVICE_ATOL[device],
        )
        fitted[name] = from_arrays
    return fitted


def augmented_run(device, X, y, epochs, members, teacher):
    """Training with a random flip: per-member views, online teacher; throughput."""
    print(f"\n== {device}: random flips from a Dataset")
    dataset = RandomFlip(X, y)
    common = dict(max_epochs=epochs, random_state=0, device=device, module__width=8)
    _, t = timed(
        lambda: DeepEnsembleClassifier(n_members=members, **common).fit(dataset)
    )
    print(f"  ensemble (per-member views) {len(X) * epochs * members / t:9.0f} img/s")
    student, t = timed(
        lambda: PriorNetworkDistiller(FrozenEstimator(teacher), **common).fit(dataset)
    )
    assert student.teacher_outputs_ == "online"
    print(f"  EnD2, online teacher         {len(X) * epochs / t:9.0f} img/s")
    # The online teacher on this device labels an augmented batch as the
    # teacher's predict_member_logits (on the CPU) does.
    batch = torch.stack([dataset[i][0] for i in range(64)])
    online = OnlineTeacher(teacher, device)(batch.to(device)).cpu().numpy()
    check_close(
        f"{device} online teacher vs predict_member_logits",
        online,
        teacher.predict_member_logits(batch.numpy()),
        CROSS_DEVICE_PREDICT_ATOL,
    )


def epoch_ratio(device, X, y, epochs, members):
    """The fused ensemble's time per epoch over one member's."""
    common = dict(max_epochs=epochs, random_state=0, device=device, module__width=8)
    times = {}
    for m in (1, members):
        model = DeepEnsembleClassifier(n_members=m, training="fused", **common)
        model.fit(X, y)
        times[m] = float(np.median([row["dur"] for row in model.history_]))
    print(
        f"\n== {device}: fused ensemble of {members} epoch {times[members]:.3f} s, "
        f"one member {times[1]:.3f} s: ratio {times[members] / times[1]:.2f} "
        f"(one member after another: {members})"
    )


def load_without_cuda(models: dict, X: np.ndarray) -> dict:
    """Pickle CUDA models; predict with them in a process where CUDA is hidden."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "models.pkl")
        with open(path, "wb") as f:
            pickle.dump((models, X), f)
        code = (
            "import pickle, sys, warnings, numpy as np, torch\n"
            "assert not torch.cuda.is_available()\n"
            "with warnings.catch_warnings():\n"
            "    warnings.simplefilter('ignore')\n"
            f"    models, X = pickle.load(open({path!r}, 'rb'))\n"
            "out = {k: m.predict_proba(X) for k, m in models.items()}\n"
            "assert all(m.device == 'cpu' for m in models.values())\n"
            f"pickle.dump(out, open({path!r} + '.out', 'wb'))\n"
        )
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        with open(path + ".out", "rb") as f:
            return pickle.load(f)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI)")
    parser.add_argument("--n", type=int, default=2048, help="training images")
    parser.add_argument("--size", type=int, default=28, help="image side")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--members", type=int, default=5)
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.size, args.epochs, args.members = 128, 8, 2, 3
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    X, y = make_data(args.n, args.size)
    cuda = torch.cuda.is_available()
    if cuda:
        # Compare in float32: no TF32 convolutions or matrix products, and
        # cuDNN's deterministic kernels (Dataset vs arrays on one device).
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    print(
        f"torch {torch.__version__}; CUDA "
        f"{torch.cuda.get_device_name(0) if cuda else 'not available'}; "
        f"{args.n} images of 1x{args.size}x{args.size}, {args.epochs} epochs, "
        f"{args.members} members"
    )
    teacher = DeepEnsembleClassifier(
        n_members=args.members,
        max_epochs=args.epochs,
        random_state=0,
        module__width=8,
    ).fit(X, y)
    try:
        cpu = fit_all("cpu", X, y, args.epochs, args.members, teacher)
        augmented_run("cpu", X, y, args.epochs, args.members, teacher)
        epoch_ratio("cpu", X, y, args.epochs, args.members)
        if not cuda:
            print(
                "\nCUDA is not available: skipped the CUDA checks (CPU parts passed)."
            )
            return 0
        gpu = fit_all("cuda", X, y, args.epochs, args.members, teacher)
        augmented_run("cuda", X, y, args.epochs, args.members, teacher)
        epoch_ratio("cuda", X, y, args.epochs, args.members)
        print("\n== cuda vs cpu")
        for name, model in gpu.items():
            check_close(
                f"{name}: trained on cuda vs on cpu",
                model.predict_proba(X),
                cpu[name].predict_proba(X),
                CROSS_DEVICE_TRAINED_ATOL,
            )
            on_cpu = cpu[name].predict_proba(X)
            moved = pickle.loads(pickle.dumps(cpu[name])).set_params(device="cuda")
            check_close(
                f"{name}: cpu model predicting on cuda",
                moved.predict_proba(X),
                on_cpu,
                CROSS_DEVICE_PREDICT_ATOL,
            )
        print("\n== pickled on cuda, loaded without CUDA")
        loaded = load_without_cuda(gpu, X)
        for name, model in gpu.items():
            check_close(
                f"{name}: loaded on cpu vs cuda",
                loaded[name],
                model.predict_proba(X),
                CROSS_DEVICE_PREDICT_ATOL,
            )
    except Mismatch as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 1
    print("\nAll checks passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
