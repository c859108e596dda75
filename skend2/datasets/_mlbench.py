"""Four UCI sets of the R package mlbench, read from its ``.rda`` files.

This module owns :func:`load_mlbench` and :func:`load_mlbench_ood`: the
tabular half of the fidelity panel (``benchmarks/fidelity.py``). Debian's
``r-cran-mlbench`` ships the sets as R data files; the PyPI package ``rdata``
reads them without R. Only Vowel, Vehicle, DNA and Shuttle are served: the
package's other sets are kept for independent evaluation and are refused by
name. Nothing is downloaded; a missing file gives an error that says how to get
it.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from ._ood_splits import _check_test_size, _split_held_out

__all__ = ["load_mlbench", "load_mlbench_ood"]

#: Where the four files are looked for when ``data_home`` is None: Debian's
#: install location of r-cran-mlbench (and R's other usual library folders),
#: then the folder that ``.ci/run`` copies them to without installing R.
_DEFAULT_FOLDERS = (
    Path("/usr/lib/R/site-library/mlbench/data"),
    Path("/usr/local/lib/R/site-library/mlbench/data"),
    Path("/usr/lib/R/library/mlbench/data"),
    Path("/usr/share/datasets/mlbench"),
)
#: Below a ``data_home`` the files may also lie where ``dpkg-deb -x`` or an R
#: library put them.
_SUBFOLDERS = (
    Path("."),
    Path("mlbench/data"),
    Path("usr/lib/R/site-library/mlbench/data"),
)

_HOW_TO = (
    "The files ship in Debian's r-cran-mlbench package; to get them without "
    "installing R:\n"
    "    apt-get update && apt-get download r-cran-mlbench\n"
    "    dpkg-deb -x r-cran-mlbench_*.deb mlbench-deb\n"
    "    mkdir -p /usr/share/datasets/mlbench\n"
    "    cp mlbench-deb/usr/lib/R/site-library/mlbench/data/"
    "{Vowel,Vehicle,DNA,Shuttle,BostonHousing,Servo}.rda "
    "/usr/share/datasets/mlbench/\n"
    "or pass data_home=<a folder with the .rda files>. (apt-get install "
    "r-cran-mlbench also works, but pulls in R.)"
)

# name -> file stem (also the R object's name), rows, feature columns in
# ``data``, classes, held-out OOD classes; the descriptions follow.
_SPEC_FIELDS = ("stem", "n_samples", "n_features", "n_classes", "ood_classes")
_SPEC_ROWS = {
    "vowel": ("Vowel", 990, 9, 11, ("hod", "hUd", "hud", "hed")),
    "vehicle": ("Vehicle", 846, 18, 4, ("van",)),
    "dna": ("DNA", 3186, 180, 3, ("n",)),
    "shuttle": ("Shuttle", 58000, 9, 7, ("Bypass",)),
}
_DESCRIPTIONS = {
    "vowel": (
        "Vowel (mlbench; UCI 'Connectionist Bench (Vowel Recognition - "
        "Deterding Data)', D. Deterding and A. Robinson): 11 steady-state "
        "British English vowels ('hid', 'hId', ..., 'hed'), each spoken 6 "
        "times by 15 speakers; 990 rows. mlbench's 10 columns are V1, the "
        "speaker (a factor 0-14), and V2-V10, nine numeric features "
        "derived from log-area ratios of the speech signal. The speaker "
        "is an identifier, not a measurement: it is left out of `data` "
        "(990 x 9) and returned as `groups` (int 0-14), e.g. for "
        "sklearn.model_selection.GroupShuffleSplit; random row splits "
        "mix speakers between train and test."
    ),
    "vehicle": (
        "Vehicle (mlbench; UCI 'Statlog (Vehicle Silhouettes)', Turing "
        "Institute, Glasgow): 18 shape features (compactness, "
        "circularity, moments, ...) of silhouettes of four vehicle "
        "models seen from many angles: a double-decker bus ('bus'), a "
        "Chevrolet van ('van'), a Saab 9000 ('saab') and an Opel Manta "
        "400 ('opel'); 846 rows. Saab and Opel are notoriously hard to "
        "tell apart."
    ),
    "dna": (
        "DNA (mlbench; UCI 'Statlog' version of 'Molecular Biology "
        "(Splice-junction Gene Sequences)'): windows of 60 nucleotides "
        "of primate DNA around a possible splice junction, each "
        "nucleotide coded by 3 binary indicators, so 180 features in "
        "{0, 1} (R factors with levels '0' and '1', returned as the "
        "numbers 0.0 and 1.0); 3,186 rows. Classes: 'ei' (exon/intron "
        "boundary, donor site), 'ie' (intron/exon boundary, acceptor "
        "site) and 'n' (neither)."
    ),
    "shuttle": (
        "Shuttle (mlbench; UCI 'Statlog (Shuttle)', NASA, J. Catlett): 9 "
        "numeric sensor attributes of the space shuttle's radiators; "
        "58,000 rows (the UCI training and test sets together). Seven "
        "very imbalanced classes: 'Rad.Flow' 45,586 rows (78.6 %), "
        "'High' 8,903, 'Bypass' 3,267, 'Fpv.Open' 171, 'Fpv.Close' 50, "
        "'Bpv.Open' 13, 'Bpv.Close' 10. Features have very different "
        "ranges: standardise them."
    ),
}
_SPECS: dict[str, dict[str, Any]] = {
    name: {**dict(zip(_SPEC_FIELDS, row)), "descr": _DESCRIPTIONS[name]}
    for name, row in _SPEC_ROWS.items()
}

_OOD_REASONS = {
    "vowel": (
        "the last four of mlbench's eleven vowels (about a third of the "
        "classes): 'hod', 'hUd', 'hud', 'hed'"
    ),
    "vehicle": (
        "'van', the one class with a distinct shape of its own; bus, Saab "
        "and Opel stay in distribution, so the in-distribution task keeps "
        "the hard Saab/Opel distinction"
    ),
    "dna": (
        "'n' (neither donor nor acceptor site): a model of splice junctions "
        "should find sequences with no junction unfamiliar; in distribution "
        "the task is 'ei' against 'ie'"
    ),
    "shuttle": (
        "'Bypass' (3,267 rows, 5.6 %), a mid-size class: an OOD set large "
        "enough for steady AUROCs when halved into validation and test "
        "parts, while the four rare classes (10-171 rows) stay in "
        "distribution, so the in-distribution task stays very imbalanced"
    ),
}


def _spec(name) -> tuple[str, dict[str, Any]]:
    if not isinstance(name, str) or name.lower() not in _SPECS:
        served = ", ".join(spec["stem"] for spec in _SPECS.values())
        raise ValueError(
            f"load_mlbench serves only {served}, got {name!r}. The other sets "
            "of mlbench are kept out of this project's reach on purpose, for "
            "independent evaluation."
        )
    key = name.lower()
    return key, _SPECS[key]


def _find_rda(stem: str, data_home) -> Path:
    if data_home is None:
        folders = list(_DEFAULT_FOLDERS)
    else:
        home = Path(os.path.expanduser(os.fspath(data_home)))
        folders = [home / sub for sub in _SUBFOLDERS]
    for folder in folders:
        candidate = folder / f"{stem}.rda"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"Could not find {stem}.rda (looked in "
        f"{', '.join(str(f) for f in folders)}). {_HOW_TO}"
    )


def _read_frame(path: Path, stem: str, column: str = "Class"):
    """The data frame ``stem`` of an R data file, which must have ``column``."""
    try:
        import rdata
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "load_mlbench needs the rdata package to read R data files: "
            "pip install rdata (or pip install 'skend2[data]')."
        ) from exc
    with warnings.catch_warnings():
        # rdata warns that mlbench's files declare no string encoding (they are
        # ASCII) and, on files that are not .rda, guesses aloud before failing.
        warnings.filterwarnings("ignore", category=UserWarning, module="rdata")
        try:
            objects = rdata.read_rda(path)
        except Exception as exc:
            raise ValueError(f"{path}: not a readable R data file ({exc}).") from exc
    if stem not in objects:
        raise ValueError(
            f"{path}: expected an R object named {stem!r}, found {sorted(objects)}."
        )
    frame = objects[stem]
    if not hasattr(frame, "columns") or column not in frame.columns:
        raise ValueError(
            f"{path}: {stem} is not a data frame with a {column!r} column."
        )
    return frame


def _numeric_column(column, name: str, path: Path) -> np.ndarray:
    """A data-frame column as float64; factors whose levels are numbers map to them."""
    if hasattr(column, "cat"):
        levels = column.cat.categories
        try:
            values = np.array([float(level) for level in levels], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"{path}: column {name!r} is a factor with non-numeric levels "
                f"{list(levels)[:5]}."
            ) from None
        codes = np.asarray(column.cat.codes)
        out = np.full(codes.shape, np.nan)
        present = codes >= 0
        out[present] = values[codes[present]]
        return out
    return np.asarray(column, dtype=np.float64)


@functools.lru_cache(maxsize=4)
def _read_arrays(path_str: str, key: str, mtime_ns: int, size: int) -> tuple:
    """Parse one file into arrays, once per file version (DNA's 180 factors
    take rdata about two seconds)."""
    spec = _SPECS[key]
    stem = spec["stem"]
    path = Path(path_str)
    frame = _read_frame(path, stem)

    target_column = frame["Class"]
    if not hasattr(target_column, "cat"):
        raise ValueError(f"{path}: {stem}$Class is not a factor.")
    target_names = np.asarray(
        [str(c) for c in target_column.cat.categories], dtype=object
    )
    codes = np.asarray(target_column.cat.codes)
    if (codes < 0).any():
        raise ValueError(f"{path}: {stem}$Class has missing labels.")
    target = target_names[codes]

    feature_columns = [c for c in frame.columns if c != "Class"]
    groups = None
    if key == "vowel":
        groups = _numeric_column(frame["V1"], "V1", path).astype(np.int64)
        feature_columns = [c for c in feature_columns if c != "V1"]
    data = np.column_stack(
        [_numeric_column(frame[c], str(c), path) for c in feature_columns]
    )

    expected = (spec["n_samples"], spec["n_features"])
    if data.shape != expected or len(target_names) != spec["n_classes"]:
        raise ValueError(
            f"{path}: expected {stem} with {expected[0]} rows, {expected[1]} "
            f"features and {spec['n_classes']} classes, got {data.shape[0]} "
            f"rows, {data.shape[1]} features and {len(target_names)} classes."
        )
    return data, target, target_names, tuple(str(c) for c in feature_columns), groups


def load_mlbench(name: str, *, data_home=None, return_X_y: bool = False):
    """Load Vowel, Vehicle, DNA or Shuttle from R's mlbench package.

    Four UCI classification sets, read from the ``.rda`` files of Debian's
    ``r-cran-mlbench`` with the PyPI package ``rdata`` (no R needed). Only
    these four are served; other names are refused (mlbench's other sets are
    kept for independent evaluation). Nothing is downloaded.

    ==============  ======  ========  =======  ===================================
    name            rows    features  classes  notes
    ==============  ======  ========  =======  ===================================
    ``"Vowel"``     990     9         11       speaker id in ``groups``
    ``"Vehicle"``   846     18        4        bus, opel, saab, van
    ``"DNA"``       3,186   180       3        binary indicators (0/1)
    ``"Shuttle"``   58,000  9         7        very imbalanced (78.6 % one class)
    ==============  ======  ========  =======  ===================================

    Factor columns whose levels are numbers become those numbers: DNA's 180
    indicator columns (levels ``"0"``, ``"1"``) become 0.0 and 1.0. Vowel's
    first column, ``V1``, is the speaker (a factor 0–14, 66 rows each): an
    identifier rather than a measurement, so it is left out of ``data`` (990
    × 9 numeric features, V2–V10) and returned as ``groups``.

    Parameters
    ----------
    name : {"Vowel", "Vehicle", "DNA", "Shuttle"}
        The set (case-insensitive).
    data_home : str or path-like, default=None
        Folder with the ``.rda`` files (also searched: ``mlbench/data`` and
        ``usr/lib/R/site-library/mlbench/data`` below it, i.e. an R library or
        the root that ``dpkg-deb -x`` extracted to). None searches Debian's
        install location ``/usr/lib/R/site-library/mlbench/data`` (and R's
        other library folders), then ``/usr/share/datasets/mlbench``.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``data`` (float64 ndarray of shape (n_samples, n_features)),
        ``target`` (object ndarray of shape (n_samples,): the class names as
        strings, as mlbench spells them), ``target_names`` (the classes in
        mlbench's factor order), ``feature_names`` (mlbench's column names),
        ``groups`` (Vowel: int64 speaker ids 0–14; None for the others),
        ``ood_classes`` (the classes :func:`load_mlbench_ood` holds out),
        ``DESCR`` and ``filename``.
    (data, target) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    ValueError
        If ``name`` is not one of the four, or the file does not hold the
        expected data frame.
    FileNotFoundError
        If the ``.rda`` file is not found; the message gives the commands that
        get it.
    ImportError
        If ``rdata`` is not installed (``pip install rdata``).

    See Also
    --------
    load_mlbench_ood : The same sets with some classes held out as OOD.

    References
    ----------
    .. [1] F. Leisch and E. Dimitriadou, "mlbench: Machine Learning Benchmark
       Problems", R package, https://CRAN.R-project.org/package=mlbench.
    .. [2] D. Dua and C. Graff, UCI Machine Learning Repository,
       https://archive.ics.uci.edu.

    Examples
    --------
    >>> from skend2.datasets import load_mlbench
    >>> vehicle = load_mlbench("Vehicle")  # doctest: +SKIP
    >>> vehicle.data.shape, list(vehicle.target_names)  # doctest: +SKIP
    ((846, 18), ['bus', 'opel', 'saab', 'van'])
    >>> X, y = load_mlbench("DNA", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, sorted(set(X.ravel().tolist()))  # doctest: +SKIP
    ((3186, 180), [0.0, 1.0])
    """
    key, spec = _spec(name)
    path = _find_rda(spec["stem"], data_home)
    stat = path.stat()
    arrays = _read_arrays(str(path), key, stat.st_mtime_ns, stat.st_size)
    # Copies: the parsed arrays are cached, callers may write to theirs.
    data, target, target_names, feature_names, groups = (
        a.copy() if isinstance(a, np.ndarray) else a for a in arrays
    )
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        target_names=target_names,
        feature_names=list(feature_names),
        groups=groups,
        ood_classes=list(spec["ood_classes"]),
        DESCR=f"{spec['descr']} Held out by load_mlbench_ood: {_OOD_REASONS[key]}.",
        filename=str(path),
    )


def load_mlbench_ood(
    name: str,
    *,
    ood_classes: Iterable[str] | None = None,
    test_size: float = 0.3,
    random_state=0,
    data_home=None,
) -> Bunch:
    """Load an mlbench set with some classes held out as out-of-distribution.

    The layout of :func:`load_digits_ood`: the in-distribution rows are
    split into a stratified train and test set, all rows of the held-out
    classes are the OOD set. By default the held-out classes are fixed:

    - Vowel: ``"hod"``, ``"hUd"``, ``"hud"``, ``"hed"``, the last four of
      its eleven vowels (about a third of the classes);
    - Vehicle: ``"van"``, the class with a shape of its own (bus, Saab and
      Opel stay, and with them the hard Saab/Opel distinction);
    - DNA: ``"n"``, sequences with no splice junction (the task in
      distribution is donor ``"ei"`` against acceptor ``"ie"``);
    - Shuttle: ``"Bypass"`` (3,267 rows), a mid-size class: enough OOD rows
      for steady AUROCs, while the four rare classes (10–171 rows) stay in
      distribution and the task stays very imbalanced.

    Features are returned as stored (not scaled); standardise them with a
    scaler fitted on the training rows.

    Parameters
    ----------
    name : {"Vowel", "Vehicle", "DNA", "Shuttle"}
        The set, as for :func:`load_mlbench`.
    ood_classes : iterable of str, default=None
        Classes to hold out instead of the fixed ones above.
    test_size : float, default=0.3
        Fraction of the in-distribution rows in the test set, in (0, 1).
    random_state : int, RandomState instance or None, default=0
        Seed of the stratified train/test split.
    data_home : str or path-like, default=None
        Where the ``.rda`` files are, as for :func:`load_mlbench`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``X_train``, ``y_train``, ``X_test``, ``y_test`` (in
        distribution), ``X_ood``, ``y_ood`` (the held-out classes), X float64,
        y object arrays of class names; ``ood_classes`` and
        ``feature_names``.

    Raises
    ------
    ValueError, FileNotFoundError, ImportError
        As for :func:`load_mlbench`.

    See Also
    --------
    load_mlbench : The whole set.
    split_ood_classes : Hold out classes of any data set.

    Examples
    --------
    >>> from skend2.datasets import load_mlbench_ood
    >>> data = load_mlbench_ood("Vehicle")  # doctest: +SKIP
    >>> data.X_train.shape, data.X_test.shape, data.X_ood.shape  # doctest: +SKIP
    ((452, 18), (195, 18), (199, 18))
    >>> sorted(set(data.y_train))  # doctest: +SKIP
    ['bus', 'opel', 'saab']
    """
    _spec(name)
    test_size = _check_test_size(test_size)
    bunch = load_mlbench(name, data_home=data_home)
    held_out = list(bunch.ood_classes if ood_classes is None else ood_classes)
    return _split_held_out(
        bunch.data,
        bunch.target,
        held_out,
        test_size,
        random_state,
        ood_classes=held_out,
        feature_names=bunch.feature_names,
    )
