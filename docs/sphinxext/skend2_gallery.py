"""Helpers of the skend2 gallery, given to sphinx-gallery by qualified name.

sphinx-gallery accepts its callables as ``"module.name"`` strings, which keeps
Sphinx's configuration picklable (callables defined in ``conf.py`` are not).
"""

from pathlib import Path

from sphinx_gallery.scrapers import matplotlib_scraper

__all__ = ["StoryOrder", "tight_matplotlib_scraper"]

# The order a newcomer should read the examples in; others follow by name.
EXAMPLE_ORDER = (
    "plot_spiral_uncertainty.py",
    "plot_dirichlet_simplex.py",
    "plot_ood_detection.py",
    "plot_pipeline_cross_validation.py",
    "plot_annealing_grid_search.py",
    "plot_predict_time.py",
    "plot_gpu.py",
)


def tight_matplotlib_scraper(block, block_vars, gallery_conf, **kwargs):
    """sphinx-gallery's matplotlib scraper, saving with ``bbox_inches="tight"``.

    Text that a figure's layout leaves at its very edge (a colour-bar label, a
    legend outside the axes) is then never clipped in the gallery.
    """
    return matplotlib_scraper(
        block, block_vars, gallery_conf, bbox_inches="tight", **kwargs
    )


class StoryOrder:
    """Sort key of the examples: :data:`EXAMPLE_ORDER`, then the rest by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __repr__(self):
        return f"<{type(self).__name__}>"

    def __call__(self, filename):
        name = Path(filename).name
        if name in EXAMPLE_ORDER:
            return (0, EXAMPLE_ORDER.index(name), name)
        return (1, 0, name)
