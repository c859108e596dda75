"""Tests for skend2.datasets.load_mlbench and load_mlbench_ood.

Most tests write small R data files with ``rdata``'s writer, shaped like
mlbench's, so the loader is tested without the Debian package; the real-file
tests skip when r-cran-mlbench's files are not found.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skend2.datasets import load_mlbench, load_mlbench_ood

rdata = pytest.importorskip("rdata")

# name -> (rows, feature columns in the .rda besides Class, classes, factor
# columns with numeric levels)
FAKE = {
    "Vowel": (990, 10, ["hid", "hId", "hEd", "hAd", "hYd", "had", "hOd", "hod",
                        "hUd", "hud", "hed"]),
    "Vehicle": (846, 18, ["bus", "opel", "saab", "van"]),
    "DNA": (3186, 180, ["ei", "ie", "n"]),
    "Shuttle": (58000, 9, ["Rad.Flow", "Fpv.Close", "Fpv.Open", "High", "Bypass",
                           "Bpv.Close", "Bpv.Open"]),
}  # fmt: skip


def _fake_frame(name: str, rng: np.random.Generator) -> pd.DataFrame:
    n, p, classes = FAKE[name]
    labels = np.array(classes)[np.arange(n) % len(classes)]
    columns: dict[str, object] = {}
    if name == "DNA":
        for j in range(p):
            bits = rng.integers(0, 2, n).astype(str)
            columns[f"V{j + 1}"] = pd.Categorical(bits, categories=["0", "1"])
    elif name == "Vowel":
        speakers = (np.arange(n) // 66).astype(str)
        columns["V1"] = pd.Categorical(speakers, categories=[str(s) for s in range(15)])
        for j in range(2, p + 1):
            columns[f"V{j}"] = rng.normal(size=n)
    else:
        for j in range(p):
            columns[f"F{j}"] = rng.normal(size=n) * (j + 1)
    columns["Class"] = pd.Categorical(labels, categories=classes)
    return pd.DataFrame(columns)


@pytest.fixture(scope="module")
def fake_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("mlbench")
    rng = np.random.default_rng(0)
    for name in FAKE:
        rdata.write_rda(home / f"{name}.rda", {name: _fake_frame(name, rng)})
    return home


def _real_home() -> Path | None:
    for folder in (
        Path("/usr/lib/R/site-library/mlbench/data"),
        Path("/usr/local/lib/R/site-library/mlbench/data"),
        Path("/usr/lib/R/library/mlbench/data"),
        Path("/usr/share/datasets/mlbench"),
    ):
        if all((folder / f"{n}.rda").is_file() for n in FAKE):
            return folder
    return None


REAL_HOME = _real_home()
needs_real = pytest.mark.skipif(
    REAL_HOME is None,
    reason="r-cran-mlbench's data files not found (see load_mlbench's error)",
)

# ---------------------------------------------------------------------------
# names and files
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Sonar", "BostonHousing", "Glass", "LetterRecognition", "", 3, None]
)
def test_other_names_are_refused(name):
    with pytest.raises(ValueError, match="serves only Vowel, Vehicle, DNA, Shuttle"):
        load_mlbench(name)


def test_other_names_are_refused_by_ood_loader():
    with pytest.raises(ValueError, match="independent evaluation"):
        load_mlbench_ood("Satellite")


def test_missing_file_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_mlbench("Vehicle", data_home=tmp_path)
    message = str(info.value)
    assert "Vehicle.rda" in message
    assert "apt-get download r-cran-mlbench" in message
    assert "dpkg-deb -x" in message
    assert str(tmp_path) in message


def test_finds_files_below_a_dpkg_root(tmp_path, fake_home):
    data_folder = tmp_path / "usr/lib/R/site-library/mlbench/data"
    data_folder.mkdir(parents=True)
    (data_folder / "Vehicle.rda").write_bytes((fake_home / "Vehicle.rda").read_bytes())
    bunch = load_mlbench("vehicle", data_home=tmp_path)
    assert bunch.data.shape == (846, 18)
    assert Path(bunch.filename) == data_folder / "Vehicle.rda"


def test_not_an_rda_file(tmp_path):
    (tmp_path / "DNA.rda").write_bytes(b"not an R file")
    with pytest.raises(ValueError, match="not a readable R data file"):
        load_mlbench("DNA", data_home=tmp_path)


def test_wrong_object_name(tmp_path):
    rdata.write_rda(
        tmp_path / "Vehicle.rda",
        {"Other": _fake_frame("Vehicle", np.random.default_rng(0))},
    )
    with pytest.raises(ValueError, match="R object named 'Vehicle'"):
        load_mlbench("Vehicle", data_home=tmp_path)


def test_wrong_shape_is_an_error(tmp_path):
    frame = _fake_frame("Vehicle", np.random.default_rng(0)).iloc[:100]
    rdata.write_rda(tmp_path / "Vehicle.rda", {"Vehicle": frame})
    with pytest.raises(ValueError, match="expected Vehicle with 846 rows"):
        load_mlbench("Vehicle", data_home=tmp_path)


def test_non_numeric_factor_feature_is_an_error(tmp_path):
    frame = _fake_frame("Vehicle", np.random.default_rng(0))
    frame["F0"] = pd.Categorical(np.where(frame["F1"] > 0, "a", "b"))
    rdata.write_rda(tmp_path / "Vehicle.rda", {"Vehicle": frame})
    with pytest.raises(ValueError, match="non-numeric levels"):
        load_mlbench("Vehicle", data_home=tmp_path)


# ---------------------------------------------------------------------------
# conversion (written files)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FAKE))
def test_bunch_layout(fake_home, name):
    n, p, classes = FAKE[name]
    bunch = load_mlbench(name, data_home=fake_home)
    n_features = p - 1 if name == "Vowel" else p
    assert bunch.data.shape == (n, n_features)
    assert bunch.data.dtype == np.float64
    assert np.isfinite(bunch.data).all()
    assert bunch.target.shape == (n,)
    assert bunch.target.dtype == object
    assert list(bunch.target_names) == classes
    assert set(bunch.target) == set(classes)
    assert len(bunch.feature_names) == n_features
    assert "Class" not in bunch.feature_names
    assert set(bunch.ood_classes) < set(classes)
    assert name in bunch.DESCR and "Held out" in bunch.DESCR
    X, y = load_mlbench(name, data_home=fake_home, return_X_y=True)
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)


def test_dna_factors_become_indicators(fake_home):
    bunch = load_mlbench("DNA", data_home=fake_home)
    assert set(np.unique(bunch.data)) == {0.0, 1.0}
    assert bunch.groups is None


def test_vowel_speaker_goes_to_groups(fake_home):
    bunch = load_mlbench("Vowel", data_home=fake_home)
    assert "V1" not in bunch.feature_names
    assert bunch.feature_names == [f"V{j}" for j in range(2, 11)]
    assert bunch.groups.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(bunch.groups), np.full(15, 66))


@pytest.mark.parametrize("name", ["Vowel", "Vehicle", "DNA"])
def test_ood_split(fake_home, name):
    data = load_mlbench_ood(name, data_home=fake_home, test_size=0.25)
    held = set(data.ood_classes)
    assert held == set(load_mlbench(name, data_home=fake_home).ood_classes)
    assert not held & set(data.y_train) and not held & set(data.y_test)
    assert set(data.y_ood) == held
    n, _, _ = FAKE[name]
    assert len(data.y_train) + len(data.y_test) + len(data.y_ood) == n
    n_in = len(data.y_train) + len(data.y_test)
    assert abs(len(data.y_test) - 0.25 * n_in) <= 1
    # Stratified: every in-distribution class in both parts.
    assert set(data.y_train) == set(data.y_test)


def test_ood_split_is_seeded_and_accepts_other_classes(fake_home):
    a = load_mlbench_ood("Vehicle", data_home=fake_home, random_state=1)
    b = load_mlbench_ood("Vehicle", data_home=fake_home, random_state=1)
    c = load_mlbench_ood("Vehicle", data_home=fake_home, random_state=2)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)
    d = load_mlbench_ood("Vehicle", ood_classes=["bus", "van"], data_home=fake_home)
    assert set(d.y_ood) == {"bus", "van"} and set(d.y_train) == {"opel", "saab"}


@pytest.mark.parametrize("test_size", [0.0, 1.0, -0.1])
def test_ood_split_rejects_bad_test_size(fake_home, test_size):
    with pytest.raises(ValueError, match="test_size"):
        load_mlbench_ood("Vehicle", data_home=fake_home, test_size=test_size)


# ---------------------------------------------------------------------------
# the real files
# ---------------------------------------------------------------------------


@needs_real
def test_real_files_default_location():
    shapes = {"Vowel": (990, 9), "Vehicle": (846, 18), "DNA": (3186, 180),
              "Shuttle": (58000, 9)}  # fmt: skip
    for name, shape in shapes.items():
        bunch = load_mlbench(name)
        assert bunch.data.shape == shape
        assert np.isfinite(bunch.data).all()
        assert list(bunch.target_names) == FAKE[name][2]


@needs_real
def test_real_class_counts():
    counts = dict(zip(*np.unique(load_mlbench("Shuttle").target, return_counts=True)))
    assert counts == {"Rad.Flow": 45586, "High": 8903, "Bypass": 3267,
                      "Fpv.Open": 171, "Fpv.Close": 50, "Bpv.Open": 13,
                      "Bpv.Close": 10}  # fmt: skip
    vowel = load_mlbench("Vowel")
    assert set(np.unique(vowel.target, return_counts=True)[1]) == {90}
    np.testing.assert_array_equal(np.bincount(vowel.groups), np.full(15, 66))
    dna = load_mlbench("DNA")
    assert set(np.unique(dna.data)) == {0.0, 1.0}
    # Each nucleotide is one of 4 codes over 3 indicators: at most one 1 per triple.
    assert dna.data.reshape(-1, 60, 3).sum(axis=2).max() <= 1


@needs_real
def test_real_ood_sizes():
    sizes = {"Vowel": 360, "Vehicle": 199, "DNA": 1654, "Shuttle": 3267}
    for name, n_ood in sizes.items():
        data = load_mlbench_ood(name, random_state=0)
        assert len(data.y_ood) == n_ood
        assert set(data.y_ood) == set(data.ood_classes)


@needs_real
def test_real_docstring_examples():
    vehicle = load_mlbench("Vehicle")
    assert (vehicle.data.shape, list(vehicle.target_names)) == (
        (846, 18),
        ["bus", "opel", "saab", "van"],
    )
    data = load_mlbench_ood("Vehicle")
    assert (data.X_train.shape, data.X_test.shape, data.X_ood.shape) == (
        (452, 18),
        (195, 18),
        (199, 18),
    )
    assert sorted(set(data.y_train)) == ["bus", "opel", "saab"]
