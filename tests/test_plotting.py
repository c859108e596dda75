"""Tests of the uncertainty maps, Dirichlet simplex and OOD ROC displays."""

import importlib.util
import sys
import warnings

import numpy as np
import pytest
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colorbar import Colorbar  # noqa: E402
from sklearn.metrics import RocCurveDisplay  # noqa: E402

import skend2.plotting  # noqa: E402
from skend2 import DeepEnsembleClassifier, PriorNetworkDistiller  # noqa: E402
from skend2.datasets import make_spirals  # noqa: E402
from skend2.metrics import ood_detection_auroc  # noqa: E402
from skend2.plotting import (  # noqa: E402
    DirichletSimplexDisplay,
    OODDetectionDisplay,
    UncertaintyMapDisplay,
    plot_uncertainty_maps,
)
from skend2.plotting._base import (  # noqa: E402
    predict_uncertainty as _predict_uncertainty,
)
from skend2.plotting._simplex import _format_precision  # noqa: E402

GRID = 25  # grid points per axis: enough to test shapes, fast to predict


@pytest.fixture(scope="module")
def spirals():
    X_raw, y = make_spirals(600, random_state=0)
    scaler = StandardScaler().fit(X_raw)
    return X_raw, scaler.transform(X_raw), y


@pytest.fixture(scope="module")
def fitted(spirals):
    _, X, y = spirals
    ens = DeepEnsembleClassifier(n_members=3, max_epochs=10, random_state=0).fit(X, y)
    pnd = PriorNetworkDistiller(
        teacher=FrozenEstimator(ens), max_epochs=10, random_state=0
    ).fit(X, y)
    return ens, pnd


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _colorbar_axes(fig):
    """Axes of the figure that hold a colour bar."""
    return [a for a in fig.axes if isinstance(getattr(a, "_colorbar", None), Colorbar)]


# ---------------------------------------------------------------------------
# UncertaintyMapDisplay
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_uncertainty_map_from_estimator(fitted, spirals, no_warnings, tmp_path):
    ens, _ = fitted
    _, X, y = spirals
    disp = UncertaintyMapDisplay.from_estimator(
        ens, X, y, grid_resolution=GRID, title="Ensemble"
    )
    assert disp.xx.shape == disp.yy.shape == (GRID, GRID)
    assert set(disp.uncertainties) == {"total", "data", "knowledge"}
    for values in disp.uncertainties.values():
        assert values.shape == (GRID, GRID)
        assert np.all(np.isfinite(values))
    # knowledge = total - data at every grid point
    np.testing.assert_allclose(
        disp.uncertainties["knowledge"],
        disp.uncertainties["total"] - disp.uncertainties["data"],
        atol=1e-6,
    )
    # the grid covers the data with a 10% margin on each side
    span = X.max(axis=0) - X.min(axis=0)
    assert disp.xx.min() == pytest.approx(X[:, 0].min() - 0.1 * span[0])
    assert disp.yy.max() == pytest.approx(X[:, 1].max() + 0.1 * span[1])
    # the grid values are exactly what the estimator predicts there
    grid = np.column_stack([disp.xx.ravel(), disp.yy.ravel()])
    np.testing.assert_allclose(
        disp.uncertainties["data"].ravel(),
        ens.predict_uncertainty(grid, measure="data"),
    )

    fig = disp.figure_
    assert len(disp.axes_) == 3
    assert len(fig.axes) == 6  # 3 maps + 3 colour bars
    assert len(_colorbar_axes(fig)) == 3
    assert [a.get_title() for a in disp.axes_] == [
        "Total uncertainty",
        "Data uncertainty",
        "Knowledge uncertainty",
    ]
    assert all(a.get_xlabel() == "x₁" and a.get_ylabel() == "x₂" for a in disp.axes_)
    assert fig.get_suptitle() == "Ensemble"
    assert set(disp.contours_) == set(disp.colorbars_) == set(disp.uncertainties)
    # one scatter per class on each map, holding all the points
    assert all(len(s) == 3 for s in disp.scatters_)
    assert sum(len(c.get_offsets()) for c in disp.scatters_[0]) == len(X)
    fig.savefig(tmp_path / "map.png")
    assert (tmp_path / "map.png").stat().st_size > 1000


def test_uncertainty_map_pipeline_matches_scaled_estimator(
    fitted, spirals, no_warnings
):
    ens, _ = fitted
    X_raw, X, y = spirals
    pipe = make_pipeline(StandardScaler().fit(X_raw), FrozenEstimator(ens))
    disp = UncertaintyMapDisplay.from_estimator(
        pipe, X_raw, y, grid_resolution=GRID, measures="knowledge"
    )
    assert list(disp.uncertainties) == ["knowledge"]
    assert len(disp.axes_) == 1
    grid = np.column_stack([disp.xx.ravel(), disp.yy.ravel()])
    expected = ens.predict_uncertainty(pipe[0].transform(grid), measure="knowledge")
    np.testing.assert_allclose(disp.uncertainties["knowledge"].ravel(), expected)
    # the grid is in raw units, around the raw data
    assert disp.xx.max() > 100


def test_predict_uncertainty_helper(fitted, spirals):
    ens, pnd = fitted
    X_raw, X, _ = spirals
    pipe = make_pipeline(StandardScaler().fit(X_raw), FrozenEstimator(pnd))
    bunch = _predict_uncertainty(pipe, X_raw[:10])
    np.testing.assert_allclose(
        bunch.precision, pnd.predict_uncertainty(X[:10]).precision
    )
    with pytest.raises(TypeError, match="predict_uncertainty"):
        _predict_uncertainty(LogisticRegression().fit(X, spirals[2]), X[:5])


def test_uncertainty_map_shared_colour_scale(fitted, spirals, no_warnings):
    _, pnd = fitted
    _, X, y = spirals
    disp = UncertaintyMapDisplay.from_estimator(
        pnd,
        X,
        y,
        grid_resolution=GRID,
        shared_colorbar=True,
        levels=10,
    )
    assert len(disp.figure_.axes) == 4  # 3 maps + 1 shared colour bar
    levels = [disp.contours_[m].levels for m in ("total", "data", "knowledge")]
    for lv in levels[1:]:
        np.testing.assert_allclose(lv, levels[0])
    assert len(levels[0]) == 11
    # the common scale spans all three measures
    assert levels[0][-1] == pytest.approx(disp.uncertainties["total"].max())
    assert levels[0][0] == pytest.approx(
        min(u.min() for u in disp.uncertainties.values())
    )


def test_uncertainty_map_fixed_vmin_vmax(fitted, spirals, no_warnings):
    ens, _ = fitted
    _, X, y = spirals
    disp = UncertaintyMapDisplay.from_estimator(
        ens,
        X,
        y,
        grid_resolution=GRID,
        measures=("total", "knowledge"),
        vmin=0.0,
        vmax={"total": np.log(3), "knowledge": 0.01},
        levels=5,
    )
    np.testing.assert_allclose(
        disp.contours_["total"].levels, np.linspace(0, np.log(3), 6)
    )
    np.testing.assert_allclose(
        disp.contours_["knowledge"].levels, np.linspace(0, 0.01, 6)
    )
    # values above the fixed top show as an arrow on the colour bar
    assert disp.uncertainties["knowledge"].max() > 0.01
    assert disp.contours_["knowledge"].extend == "max"


def test_uncertainty_map_dataframe_feature_names(fitted, spirals, no_warnings):
    pd = pytest.importorskip("pandas")
    _, X, y = spirals
    df = pd.DataFrame(X, columns=["radius-ish", "angle-ish"])
    model = DeepEnsembleClassifier(n_members=2, max_epochs=2, random_state=0)
    model.fit(df, y)
    disp = UncertaintyMapDisplay.from_estimator(model, df, y, grid_resolution=GRID)
    assert disp.axes_[0].get_xlabel() == "radius-ish"
    assert disp.axes_[0].get_ylabel() == "angle-ish"
    # a DataFrame for an estimator fitted on an array: names label the axes only
    ens = DeepEnsembleClassifier(n_members=2, max_epochs=1, random_state=0)
    disp = UncertaintyMapDisplay.from_estimator(
        ens.fit(X, y), df, grid_resolution=GRID, xlabel="r"
    )
    assert [disp.axes_[0].get_xlabel(), disp.axes_[0].get_ylabel()] == [
        "r",
        "angle-ish",
    ]


def test_uncertainty_map_user_axes_and_errors(fitted, spirals):
    ens, _ = fitted
    _, X, y = spirals
    fig, axes = plt.subplots(2, 2)
    disp = UncertaintyMapDisplay.from_estimator(
        ens,
        X,
        measures=["total", "data", "knowledge", "mkl"],
        grid_resolution=GRID,
        ax=axes,
    )
    assert disp.figure_ is fig
    assert list(disp.axes_) == list(axes.ravel())
    assert disp.axes_[3].get_title() == "Reverse mutual information"
    # without y, the points are one white scatter
    assert all(len(s) == 1 for s in disp.scatters_)

    with pytest.raises(ValueError, match="needs 2 axes"):
        UncertaintyMapDisplay.from_estimator(
            ens, X, measures=["total", "data"], grid_resolution=GRID, ax=axes
        )
    with pytest.raises(ValueError, match="differential_entropy"):
        UncertaintyMapDisplay.from_estimator(
            ens, X, measures="differential_entropy", grid_resolution=GRID
        )
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        UncertaintyMapDisplay.from_estimator(ens, np.c_[X, X], grid_resolution=GRID)
    with pytest.raises(ValueError, match="y must have shape"):
        UncertaintyMapDisplay.from_estimator(ens, X, y[:-1], grid_resolution=GRID)
    with pytest.raises(ValueError, match="grid_resolution"):
        UncertaintyMapDisplay.from_estimator(ens, X, grid_resolution=1)
    with pytest.raises(ValueError, match="at least one"):
        UncertaintyMapDisplay.from_estimator(ens, X, measures=[])


def test_uncertainty_map_constant_field_does_not_fail(no_warnings):
    # EnD's knowledge uncertainty is 0 everywhere: a zero-width colour range
    xx, yy = np.meshgrid(np.linspace(0, 1, 5), np.linspace(0, 1, 5))
    disp = UncertaintyMapDisplay(
        xx=xx, yy=yy, uncertainties={"knowledge": np.zeros_like(xx)}
    ).plot()
    assert disp.contours_["knowledge"].levels[0] == 0.0
    assert np.all(np.diff(disp.contours_["knowledge"].levels) > 0)


@pytest.mark.slow
def test_plot_uncertainty_maps_grid(fitted, spirals, no_warnings, tmp_path):
    ens, pnd = fitted
    _, X, y = spirals
    fig = plot_uncertainty_maps(
        {"Ensemble": ens, "EnD²": pnd}, X, y, grid_resolution=GRID, title="Spirals"
    )
    maps = [a for a in fig.axes if a not in _colorbar_axes(fig)]
    assert len(maps) == 6
    assert len(_colorbar_axes(fig)) == 3  # one per measure column
    # one colour scale per column, shared by both rows
    for j in range(3):
        top, bottom = maps[j].collections[0], maps[3 + j].collections[0]
        np.testing.assert_allclose(top.levels, bottom.levels)
    # the column scales differ (each measure has its own)
    assert maps[0].collections[0].levels[-1] != maps[2].collections[0].levels[-1]
    # row labels and column titles
    texts = [t.get_text() for a in maps for t in a.texts]
    assert "Ensemble" in texts and "EnD²" in texts
    assert [a.get_title() for a in maps[:3]] == [
        "Total uncertainty",
        "Data uncertainty",
        "Knowledge uncertainty",
    ]
    assert [c.get_xlabel() for c in _colorbar_axes(fig)] == [
        "Total uncertainty (nats)",
        "Data uncertainty (nats)",
        "Knowledge uncertainty (nats)",
    ]
    assert fig.get_suptitle() == "Spirals"
    fig.savefig(tmp_path / "maps.png")
    assert (tmp_path / "maps.png").stat().st_size > 1000


def _inside(extent, bbox):
    return (
        extent.x0 >= bbox.x0
        and extent.x1 <= bbox.x1
        and extent.y0 >= bbox.y0
        and extent.y1 <= bbox.y1
    )


@pytest.mark.parametrize("n_rows", [1, 2, 4])
@pytest.mark.slow
def test_plot_uncertainty_maps_colorbars_fit_the_figure(
    n_rows, fitted, spirals, no_warnings
):
    # Plain savefig (no bbox_inches="tight") must show the colour-bar labels, and
    # the bars must hang right under the maps however many rows there are.
    ens, pnd = fitted
    _, X, y = spirals
    rows = {f"row {i}": (ens, pnd)[i % 2] for i in range(n_rows)}
    fig = plot_uncertainty_maps(rows, X, y, grid_resolution=GRID, title="Spirals")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    bars = _colorbar_axes(fig)
    maps = [a for a in fig.axes if a not in bars]
    assert len(bars) == 3 and len(maps) == 3 * n_rows
    lowest = min(a.get_tightbbox(renderer).y0 for a in maps)
    for cax in bars:
        label = cax.xaxis.label
        assert label.get_text().endswith("(nats)")
        assert _inside(label.get_window_extent(renderer), fig.bbox)
        for tick in cax.get_xticklabels():
            assert _inside(tick.get_window_extent(renderer), fig.bbox)
        bar = cax.get_window_extent(renderer)
        # below the x labels of the bottom row, with no more than a ~0.3 inch gap
        assert bar.y1 <= lowest
        assert lowest - bar.y1 < 0.3 * fig.dpi
    # nothing of the figure's content is cut off
    for a in fig.axes:
        assert _inside(a.get_tightbbox(renderer), fig.bbox.expanded(1.001, 1.001))


def test_class_colours_are_distinct_and_off_viridis(fitted, spirals):
    from matplotlib.colors import to_rgb

    ens, _ = fitted
    _, X, y = spirals
    disp = UncertaintyMapDisplay.from_estimator(
        ens, X, y, grid_resolution=GRID, measures="total"
    )
    scatters = disp.scatters_[0]
    faces = [to_rgb(tuple(s.get_facecolor()[0])) for s in scatters]

    def luminance(rgb):
        # WCAG 2.1 relative luminance, of linearised sRGB
        rgb = np.asarray(rgb)
        linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
        return float(np.dot([0.2126, 0.7152, 0.0722], linear))

    # Lightness alone tells the classes apart, whatever the colour vision: every
    # pair has a contrast ratio of at least 3 (WCAG's minimum for graphics).
    # Red next to orange, say, has 1.7.
    lum = [luminance(c) for c in faces]
    for i in range(len(lum)):
        for j in range(i):
            hi, lo = max(lum[i], lum[j]), min(lum[i], lum[j])
            assert (hi + 0.05) / (lo + 0.05) >= 3.0
    # and no class colour is close to any colour of the viridis background
    viridis = plt.get_cmap("viridis")(np.linspace(0, 1, 256))[:, :3]
    for c in faces:
        assert np.min(np.linalg.norm(viridis - np.array(c), axis=1)) > 0.3
    # markers stay small, so the map shows through
    assert all(np.all(s.get_sizes() <= 9.0) for s in scatters)


def test_plot_uncertainty_maps_shared_range_is_union(fitted, spirals):
    ens, pnd = fitted
    _, X, y = spirals
    fig = plot_uncertainty_maps(
        {"a": ens, "b": pnd}, X, y, grid_resolution=GRID, measures=["knowledge"]
    )
    single = [
        UncertaintyMapDisplay._compute(
            est, X, measures="knowledge", grid_resolution=GRID
        ).uncertainties["knowledge"]
        for est in (ens, pnd)
    ]
    levels = fig.axes[0].collections[0].levels
    assert levels[0] == pytest.approx(min(u.min() for u in single))
    assert levels[-1] == pytest.approx(max(u.max() for u in single))


def test_plot_uncertainty_maps_rejects_bad_estimators(spirals):
    _, X, y = spirals
    with pytest.raises(TypeError, match="dict"):
        plot_uncertainty_maps([], X, y)


# ---------------------------------------------------------------------------
# DirichletSimplexDisplay
# ---------------------------------------------------------------------------


def test_simplex_from_estimator_with_members(fitted, spirals, no_warnings, tmp_path):
    ens, pnd = fitted
    _, X, _ = spirals
    X_show = np.array([X[0], [8.0, 8.0]])
    members = ens.predict_member_proba(X_show)
    disp = DirichletSimplexDisplay.from_estimator(
        pnd,
        X_show,
        labels=["in-distribution", "out-of-distribution"],
        member_proba=members,
        resolution=30,
    )
    alphas = pnd.predict_concentrations(X_show)
    np.testing.assert_allclose(disp.alphas, alphas)
    n_points = 31 * 32 // 2
    assert disp.points.shape == (n_points, 3)
    assert disp.log_density.shape == (2, n_points)
    np.testing.assert_allclose(disp.points.sum(axis=1), 1.0)
    assert np.all(disp.points > 0)
    assert disp.member_proba.shape == (2, 3, 3)

    fig = disp.figure_
    assert len(disp.axes_) == 2
    assert len(fig.axes) == 4  # 2 simplices + 2 colour bars
    for a, label, alpha0 in zip(disp.axes_, disp.labels, alphas.sum(axis=1)):
        title = a.get_title()
        assert title.startswith(label)
        assert f"α₀ = {_format_precision(alpha0)}" in title
    # corners labelled with the classes
    corner_labels = [t.get_text() for t in disp.axes_[0].texts]
    assert corner_labels == [f"class {c}" for c in pnd.classes_]
    assert all(c.get_ylabel().startswith("log density") for c in _colorbar_axes(fig))
    # members drawn at their probabilities, in Cartesian coordinates
    offsets = disp.member_scatters_[1].get_offsets()
    corners = np.array([[0, 0], [1, 0], [0.5, np.sqrt(3) / 2]])
    np.testing.assert_allclose(offsets, members[1] @ corners)
    legend = disp.axes_[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "Dirichlet mean",
        "ensemble members",
    ]
    np.testing.assert_allclose(
        disp.mean_markers_[0].get_offsets()[0],
        (alphas[0] / alphas[0].sum()) @ corners,
    )
    fig.savefig(tmp_path / "simplex.png")
    assert (tmp_path / "simplex.png").stat().st_size > 1000


def test_simplex_density_matches_scipy_and_peaks_at_mean(no_warnings):
    from scipy.stats import dirichlet

    alpha = np.array([30.0, 5.0, 10.0])
    disp = DirichletSimplexDisplay.from_concentrations(alpha, resolution=60)
    assert disp.log_density.shape == (1, disp.points.shape[0])
    i = 123
    assert disp.log_density[0, i] == pytest.approx(
        dirichlet.logpdf(disp.points[i], alpha)
    )
    mode = (alpha - 1) / (alpha.sum() - 3)
    peak = disp.points[np.argmax(disp.log_density[0])]
    assert np.abs(peak - mode).max() < 0.03
    assert disp.axes_[0].get_title() == "α₀ = 45"
    # default corner names
    assert [t.get_text() for t in disp.axes_[0].texts] == [
        "class 0",
        "class 1",
        "class 2",
    ]


@pytest.mark.parametrize(
    "alpha",
    [[1e-3, 2e-3, 1e-3], [0.3, 0.5, 0.4], [500.0, 2.0, 2.0], [300.0, 200.0, 100.0]],
    ids=["tiny", "below-one", "corner", "sharp"],
)
def test_simplex_colour_scale_stays_readable(alpha, no_warnings):
    # Tiny α put infinite density at the corners, huge α a spike of width ~1/√α₀:
    # in both cases the colour bands must still spread over the picture.
    disp = DirichletSimplexDisplay.from_concentrations([alpha], resolution=60)
    ld = disp.log_density[0]
    assert np.all(np.isfinite(ld))
    levels = disp.contours_[0].levels
    assert np.percentile(ld, 50) < levels[-1] <= ld.max()
    assert levels[-1] - levels[0] <= 12.0 + 1e-9
    bands = np.unique(np.digitize(ld, levels))
    assert len(bands) >= 8  # not one flat colour with a dot


def test_simplex_point_mass_is_marked_and_labelled(no_warnings, tmp_path):
    # α₀ = 10¹⁵ (a ReLU network far from its data): the log density on the grid
    # is ~ -1e12, shown relative to the top of the scale.
    alpha = np.array([1e15, 1.0, 1.0])
    disp = DirichletSimplexDisplay.from_concentrations(alpha, resolution=20)
    assert disp.axes_[0].get_title() == "α₀ = 1·10¹⁵"
    label = disp.colorbars_[0].ax.get_ylabel()
    assert label.startswith("log density + ")
    assert disp.contours_[0].levels[-1] == pytest.approx(0.0)
    np.testing.assert_allclose(
        disp.mean_markers_[0].get_offsets()[0], [0, 0], atol=1e-12
    )
    disp.figure_.savefig(tmp_path / "spike.png")  # glyphs render without warnings


@pytest.mark.parametrize(
    ("labels", "class_names"),
    [(None, None), (["in-distribution"], ["cat", "dog", "a long bird name"])],
)
def test_simplex_title_clears_top_corner_label(labels, class_names, no_warnings):
    disp = DirichletSimplexDisplay.from_concentrations(
        [[3.0, 2.0, 40.0]], labels=labels, class_names=class_names, resolution=20
    )
    fig = disp.figure_
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    a = disp.axes_[0]
    top = a.texts[2]
    assert top.get_text() == (class_names or ["", "", "class 2"])[2]
    title = a.title.get_window_extent(renderer)
    label = top.get_window_extent(renderer)
    assert not title.overlaps(label)
    # the title above the label, with a clear gap (in points) between them
    assert (title.y0 - label.y1) * 72 / fig.dpi >= 5.0
    for text in [a.title, *a.texts]:
        assert _inside(text.get_window_extent(renderer), fig.bbox)


def test_simplex_huge_precision_does_not_fail(no_warnings):
    # α₀ ~ 1e23 (a ReLU network very far from its data) puts the log density at
    # ~ -1e22, where hi - 12 rounds back to hi.
    alpha = np.array([6.6e-36, 2.4e23, 9.7e15])
    disp = DirichletSimplexDisplay.from_concentrations(alpha, resolution=30)
    levels = disp.contours_[0].levels
    assert np.all(np.diff(levels) > 0)
    assert levels[-1] == pytest.approx(0.0)
    assert levels[-1] - levels[0] == pytest.approx(12.0)


def test_simplex_flat_dirichlet(no_warnings):
    disp = DirichletSimplexDisplay.from_concentrations([1.0, 1.0, 1.0], resolution=10)
    np.testing.assert_allclose(disp.log_density, np.log(2.0))
    assert np.all(np.diff(disp.contours_[0].levels) > 0)


def test_simplex_rejects_wrong_number_of_classes(spirals):
    with pytest.raises(ValueError, match="3 classes"):
        DirichletSimplexDisplay.from_concentrations(np.ones((2, 4)))
    X, y = spirals[1][:100], spirals[2][:100]
    binary = y.copy()
    binary[binary == 2] = 1
    ens = DeepEnsembleClassifier(n_members=2, max_epochs=1, random_state=0)
    ens.fit(X, binary)
    pnd2 = PriorNetworkDistiller(
        teacher=FrozenEstimator(ens), max_epochs=1, random_state=0
    ).fit(X, binary)
    with pytest.raises(ValueError, match="K=2"):
        DirichletSimplexDisplay.from_estimator(pnd2, X[:2])


def test_simplex_rejects_non_prior_network(fitted, spirals):
    ens, _ = fitted
    with pytest.raises(TypeError, match="predict_concentrations"):
        DirichletSimplexDisplay.from_estimator(ens, spirals[1][:2])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alphas": [[1.0, -1.0, 1.0]]}, "positive"),
        ({"alphas": [[1.0, np.nan, 1.0]]}, "positive"),
        ({"alphas": np.ones((2, 3)), "labels": ["one"]}, "one title per input"),
        ({"alphas": np.ones((2, 3)), "member_proba": np.ones((2, 4, 2))}, "n_members"),
        ({"alphas": np.ones((1, 3)), "class_names": ["a", "b"]}, "3 entries"),
        ({"alphas": np.ones((1, 3)), "resolution": 1}, "resolution"),
    ],
)
def test_simplex_input_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DirichletSimplexDisplay.from_concentrations(**kwargs)


# ---------------------------------------------------------------------------
# OODDetectionDisplay
# ---------------------------------------------------------------------------


def test_ood_display_from_estimator(fitted, spirals, no_warnings, tmp_path):
    _, pnd = fitted
    _, X, _ = spirals
    rng = np.random.default_rng(0)
    X_ood = rng.uniform(-4, 4, size=(200, 2))
    disp = OODDetectionDisplay.from_estimator(pnd, X[:200], X_ood, name="EnD²")
    unc_in = pnd.predict_uncertainty(X[:200])
    unc_out = pnd.predict_uncertainty(X_ood)
    assert set(disp.roc_displays_) == set(unc_in) == set(disp.aurocs_)
    for m, auroc in disp.aurocs_.items():
        sign = -1.0 if m == "precision" else 1.0
        expected = ood_detection_auroc(sign * unc_in[m], sign * unc_out[m])
        assert auroc == pytest.approx(expected, abs=1e-12)
        assert isinstance(disp.roc_displays_[m], RocCurveDisplay)
        assert disp.roc_displays_[m].roc_auc == pytest.approx(expected)
    # precision was negated: its AUROC equals that of the un-negated 1 - AUROC
    raw = ood_detection_auroc(unc_in["precision"], unc_out["precision"])
    assert disp.aurocs_["precision"] == pytest.approx(1 - raw)

    ax = disp.ax_
    entries = [t.get_text() for t in ax.get_legend().get_texts()]
    curves = [e for e in entries if "AUROC" in e and not e.startswith("Chance")]
    assert len(curves) == len(unc_in)
    assert all(e.startswith("EnD²: ") for e in curves)
    assert any(e.startswith("EnD²: −precision") for e in curves)
    assert "Chance (AUROC = 0.5)" in entries
    assert disp.chance_level_ is not None
    np.testing.assert_allclose(disp.chance_level_.get_xydata(), [[0, 0], [1, 1]])
    assert ax.get_xlabel().startswith("False positive rate")
    assert ax.get_ylabel().startswith("True positive rate")
    assert ax.get_title() == "OOD detection"
    disp.figure_.savefig(tmp_path / "roc.png")
    assert (tmp_path / "roc.png").stat().st_size > 1000


def test_ood_display_from_predictions_and_shared_axes(no_warnings):
    rng = np.random.default_rng(1)
    in_a = {"total": rng.normal(0, 1, 300), "knowledge": rng.normal(0, 1, 300)}
    out_a = {"total": rng.normal(1, 1, 300), "knowledge": rng.normal(2, 1, 300)}
    fig, ax = plt.subplots()
    first = OODDetectionDisplay.from_predictions(in_a, out_a, ax=ax, name="A")
    second = OODDetectionDisplay.from_predictions(
        in_a, out_a, measures=["knowledge"], ax=ax, name="B"
    )
    assert first.ax_ is second.ax_ is ax
    assert list(second.aurocs_) == ["knowledge"]
    assert second.chance_level_ is None  # the diagonal is drawn once
    entries = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sum(e.startswith("Chance") for e in entries) == 1
    assert sum("AUROC" in e for e in entries) == 4
    # the curve of the better-separated measure dominates: larger AUROC
    assert first.aurocs_["knowledge"] > first.aurocs_["total"] > 0.5
    for m in ("total", "knowledge"):
        assert first.aurocs_[m] == pytest.approx(ood_detection_auroc(in_a[m], out_a[m]))
        assert first.tpr[m][-1] == 1.0 and first.fpr[m][0] == 0.0


def test_ood_display_errors(fitted, spirals):
    ens, _ = fitted
    X = spirals[1]
    with pytest.raises(ValueError, match="missing"):
        OODDetectionDisplay.from_predictions({"a": [0.0, 1.0]}, {"b": [1.0]})
    with pytest.raises(TypeError, match="dict"):
        OODDetectionDisplay.from_predictions(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        OODDetectionDisplay.from_predictions({"a": [0.0, np.nan]}, {"a": [1.0]})
    with pytest.raises(ValueError, match="precision"):
        OODDetectionDisplay.from_estimator(ens, X[:5], X[5:10], measures="precision")


# ---------------------------------------------------------------------------
# matplotlib is optional
# ---------------------------------------------------------------------------


def test_missing_matplotlib_gives_install_hint(monkeypatch, spirals):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install skend2\[plot\]"):
        DirichletSimplexDisplay.from_concentrations([1.0, 2.0, 3.0])
    with pytest.raises(ImportError, match=r"pip install skend2\[plot\]"):
        OODDetectionDisplay.from_predictions({"a": [0.0]}, {"a": [1.0]})


def test_module_imports_without_matplotlib(monkeypatch):
    # Execute a fresh copy of the module with matplotlib made unimportable.
    for name in [m for m in sys.modules if m.split(".")[0] == "matplotlib"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    spec = importlib.util.spec_from_file_location(
        "skend2._plotting_without_matplotlib", skend2.plotting.__file__
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__all__ == skend2.plotting.__all__
    assert sys.modules["matplotlib"] is None
    with pytest.raises(ImportError, match=r"pip install skend2\[plot\]"):
        module.DirichletSimplexDisplay.from_concentrations([1.0, 2.0, 3.0])
