"""Every public class, function and method has a valid numpydoc docstring.

The docstrings are checked with :func:`numpydoc.validate.validate`, as
scikit-learn's ``sklearn/tests/test_docstrings.py`` does, by their public import
path (``skend2.metrics.ece_scorer``, not the private module that defines it), less
the codes in ``IGNORED`` and ``IGNORED_FOR_METHODS``. On top of numpydoc's checks:

* ``SK01``: the Examples section of a public class or function holds at least one
  doctest (``>>>`` line); numpydoc's EX01 only asks for the section. The examples
  themselves run as doctests (``--doctest-modules`` over ``skend2/`` in
  pyproject.toml).
* ``SK02``: numpydoc parses the docstring without warnings (a wrongly underlined
  section heading is a warning, not a validation error).
* Each docstring, as numpydoc renders it for Sphinx, is valid reStructuredText (an
  unescaped ``n_features_in_`` or ``*args`` breaks the docs build with warnings as
  errors). The Sphinx build itself is left to CI (too slow for the test suite).
* docs/api.rst lists every public name, and the gallery scripts have the
  sphinx-gallery format.
"""

import ast
import doctest
import importlib
import inspect
import re
import warnings
from pathlib import Path

import pytest
from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives, roles
from numpydoc.docscrape import NumpyDocString, get_doc_object
from numpydoc.docscrape_sphinx import get_doc_object as get_sphinx_doc_object
from numpydoc.validate import validate

ROOT = Path(__file__).resolve().parents[1]

PUBLIC_MODULES = (
    "skend2",
    "skend2.annealing",
    "skend2.transfer",
    "skend2.modules",
    "skend2.uncertainty",
    "skend2.losses",
    "skend2.metrics",
    "skend2.datasets",
    "skend2.plotting",
    "skend2.regression",
)

# numpydoc codes not enforced anywhere, and why.
IGNORED = {
    "ES01": "an extended summary is optional: short docstrings may stay short",
    "SA01": "a See Also section is optional",
    "SA04": "numpydoc's format allows See Also references without a description",
    "RT02": "a Returns entry may name its value (name : type) for the text to use",
}
# numpydoc codes not enforced for methods (and properties), and why.
IGNORED_FOR_METHODS = {
    "EX01": "the class docstring's Examples show its methods in use",
}
# GL08 (no docstring) is also accepted for a method that overrides a documented
# base-class method (``forward``, ``get_params``, skorch callback hooks): the base
# docstring is the one that applies, and ``help()`` shows it.


def _import_or_none(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _public_objects():
    """(public import path, object) of every class and function in a public __all__.

    An object exported from several modules (``skend2.TemperatureAnnealing`` is
    ``skend2.annealing.TemperatureAnnealing``) is listed once, under its first
    name. Constants (tuples, dicts, ``__version__``) are skipped.
    """
    seen = set()
    found = []
    for module_name in PUBLIC_MODULES:
        module = _import_or_none(module_name)
        if module is None:
            continue
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            found.append((f"{module_name}.{name}", obj))
    return found


def _public_methods(objects):
    """(import path, class, name) of the public methods and properties of classes.

    Only those skend2 defines itself (overrides included): inherited scikit-learn,
    skorch and torch methods, and the ``set_*_request`` methods scikit-learn
    generates, are not ours to document.
    """
    found = []
    for path, cls in objects:
        if not inspect.isclass(cls):
            continue
        for name in sorted(dir(cls)):
            if name.startswith("_") and name != "__call__":
                continue
            owner = next((k for k in cls.__mro__ if name in vars(k)), None)
            if owner is None:
                continue
            attr = vars(owner)[name]
            if isinstance(attr, property):
                function = attr.fget
            else:
                function = getattr(attr, "__func__", attr)
            if not inspect.isfunction(function):
                continue
            if not getattr(function, "__module__", "").startswith("skend2"):
                continue
            found.append((f"{path}.{name}", cls, name))
    return found


PUBLIC_OBJECTS = _public_objects()
PUBLIC_METHODS = _public_methods(PUBLIC_OBJECTS)


def _is_documented_override(cls, name):
    """Whether ``cls.name`` has no docstring of its own but a base class's."""
    member = inspect.getattr_static(cls, name)
    own = getattr(getattr(member, "__func__", member), "__doc__", None)
    return not own and bool(inspect.getdoc(getattr(cls, name)))


def docstring_errors(target, cls=None, method=None):
    """numpydoc validation errors of a docstring, less the ignored codes.

    Parameters
    ----------
    target : str or object
        Public import path of the object (``"skend2.metrics.ece_scorer"``), or the
        object itself (for objects without one, as in this module's own tests).
    cls : type or None, default=None
        The class, when ``target`` is one of its methods.
    method : str or None, default=None
        The method's name, when ``target`` is a method.

    Returns
    -------
    result : dict
        The result of :func:`numpydoc.validate.validate`, its ``"errors"`` (a list
        of ``(code, message)`` pairs) filtered, plus the ``SK01`` and ``SK02``
        errors described in this module's docstring.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = validate(target if isinstance(target, str) else get_doc_object(target))
        examples = "\n".join(NumpyDocString(result["docstring"] or "")["Examples"])
    errors = []
    for code, message in result["errors"]:
        if code in IGNORED:
            continue
        if method is not None and code in IGNORED_FOR_METHODS:
            continue
        if (
            code == "GL08"
            and method is not None
            and _is_documented_override(cls, method)
        ):
            continue
        errors.append((code, message))
    if method is None and examples.strip():
        if not doctest.DocTestParser().get_examples(examples):
            errors.append(("SK01", "Examples section has no doctest (>>> line)"))
    # numpydoc parses a docstring several times, and names the object only in
    # some of its warnings: report each warning once, without the location.
    warned = dict.fromkeys(
        " ".join(str(w.message).split()).split(" in the docstring of ")[0]
        for w in caught
        if issubclass(w.category, UserWarning)
    )
    errors += [("SK02", f"numpydoc warns: {message}") for message in warned]
    result["errors"] = errors
    return result


def _report(name, result):
    """The docstring and its errors, for a failure message."""
    errors = "\n".join(f" - {code}: {message}" for code, message in result["errors"])
    return (
        f"\n\n{result['file']}:{result['file_line']}\n{name}\n\n"
        f"{result['docstring']}\n# Errors\n{errors}"
    )


# --- reStructuredText check ------------------------------------------------------
# Sphinx's roles and directives are unknown to plain docutils: stand-ins that
# accept anything keep the check about the docstrings' own markup.


class _AnyOptions(dict):
    def __contains__(self, key):
        return True

    def __getitem__(self, key):
        return directives.unchanged


class _IgnoredDirective(Directive):
    has_content = True
    optional_arguments = 10
    final_argument_whitespace = True
    option_spec = _AnyOptions()

    def run(self):
        return []


def _literal_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    return [nodes.literal(rawtext, text)], []


_SPHINX_DIRECTIVES = (
    "only",
    "autosummary",
    "versionadded",
    "versionchanged",
    "deprecated",
    "seealso",
    "currentmodule",
    "plot",
    "minigallery",
)
_SPHINX_ROLES = ("class", "func", "meth", "mod", "data", "attr", "obj", "exc")
_SPHINX_ROLES += ("ref", "term", "doc") + tuple(f"py:{r}" for r in _SPHINX_ROLES)


@pytest.fixture(scope="module")
def sphinx_stand_ins():
    """Register the stand-ins in docutils for this module's tests only."""
    saved = dict(directives._directives), dict(roles._roles)
    for name in _SPHINX_DIRECTIVES:
        directives.register_directive(name, _IgnoredDirective)
    for name in _SPHINX_ROLES:
        roles.register_local_role(name, _literal_role)
    yield
    directives._directives.clear()
    directives._directives.update(saved[0])
    roles._roles.clear()
    roles._roles.update(saved[1])


def rst_problems(obj):
    """Docutils warnings and errors in ``obj``'s docstring as numpydoc renders it."""
    if not inspect.getdoc(obj):
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rendered = str(get_sphinx_doc_object(obj, config={"show_class_members": False}))
    tree = publish_doctree(
        rendered,
        settings_overrides={
            "report_level": 2,
            "halt_level": 5,
            "warning_stream": False,
        },
    )
    problems = [
        message.astext().splitlines()[0]
        for message in tree.findall(nodes.system_message)
        if message["level"] >= 2
    ]
    # Unresolvable references (``name_`` in running text) leave these behind.
    problems += [
        f"unresolved reference or markup: {node.astext()!r}"
        for node in tree.findall(nodes.problematic)
    ]
    return problems


# --- the public API -------------------------------------------------------------


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_module_imports_with_all(module_name):
    if module_name == "skend2.plotting":
        pytest.importorskip("matplotlib")
    module = importlib.import_module(module_name)
    assert inspect.getdoc(module), f"{module_name} has no module docstring"
    assert module.__all__, f"{module_name} has an empty __all__"
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.__all__ lists missing {name}"


def test_public_objects_were_found():
    names = {name for name, _ in PUBLIC_OBJECTS}
    # One of each kind, from different modules, so an empty collection cannot pass.
    assert "skend2.DeepEnsembleClassifier" in names
    assert "skend2.uncertainty.ensemble_uncertainty" in names
    assert "skend2.datasets.make_spirals" in names
    assert len(PUBLIC_OBJECTS) >= 30
    methods = {name for name, _, _ in PUBLIC_METHODS}
    assert "skend2.DeepEnsembleClassifier.fit" in methods
    assert "skend2.PriorNetworkDistiller.predict_uncertainty" in methods
    assert "skend2.DeepEnsembleClassifier.set_score_request" not in methods


@pytest.mark.parametrize("path", [path for path, _ in PUBLIC_OBJECTS])
def test_docstring(path):
    result = docstring_errors(path)
    assert not result["errors"], _report(path, result)


@pytest.mark.parametrize(
    "path, cls, method", PUBLIC_METHODS, ids=[path for path, _, _ in PUBLIC_METHODS]
)
def test_method_docstring(path, cls, method):
    result = docstring_errors(path, cls=cls, method=method)
    assert not result["errors"], _report(path, result)


_RST_TARGETS = [(path, obj) for path, obj in PUBLIC_OBJECTS] + [
    (path, getattr(cls, name)) for path, cls, name in PUBLIC_METHODS
]


@pytest.mark.parametrize(
    "obj", [obj for _, obj in _RST_TARGETS], ids=[path for path, _ in _RST_TARGETS]
)
def test_docstring_is_valid_restructuredtext(obj, sphinx_stand_ins):
    problems = rst_problems(obj)
    assert not problems, "; ".join(problems)


def test_api_reference_lists_every_public_name():
    """docs/api.rst names every public class and function (and nothing else)."""
    api = (ROOT / "docs" / "api.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"^   ([A-Za-z_]\w*)$", api, flags=re.MULTILINE))
    listed |= set(re.findall(r"^\.\. autodata:: (\w+)$", api, flags=re.MULTILINE))
    public = {name.rsplit(".", 1)[1] for name, _ in PUBLIC_OBJECTS}
    assert public - listed == set(), "missing from docs/api.rst"
    assert (
        listed - public - {"ENSEMBLE_MEASURES", "DIRICHLET_MEASURES", "SCORERS"}
        == set()
    )


def _gallery_examples():
    return sorted((ROOT / "examples").glob("plot_*.py"))


def test_gallery_has_examples_and_readme():
    assert (ROOT / "examples" / "README.txt").is_file()
    assert len(_gallery_examples()) >= 7


@pytest.mark.parametrize("path", _gallery_examples(), ids=lambda p: p.name)
def test_gallery_example_format(path):
    """A sphinx-gallery script: a titled docstring, then ``# %%`` cells."""
    source = path.read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source), clean=False)
    assert docstring, f"{path.name} has no module docstring"
    lines = docstring.strip("\n").splitlines()
    assert len(lines) >= 3 and lines[0].strip(), "the docstring must start with a title"
    assert set(lines[1]) == {"="} and len(lines[1]) >= len(lines[0]), (
        "the title must be underlined with '=' at least as long as it"
    )
    assert source.count("\n# %%") >= 2, "split the example into # %% cells"
    assert "plt.show()" in source or "DataFrame" in source, "show a figure or a table"


# --- the checkers themselves ---------------------------------------------------


def _complete(x, *, scale=1.0, **kwargs):
    """Scale a number.

    Parameters
    ----------
    x : float
        The number.
    scale : float, default=1.0
        The factor.
    **kwargs
        Ignored.

    Returns
    -------
    float
        The product.

    Examples
    --------
    >>> _complete(2.0, scale=3.0)
    6.0
    """
    return x * scale


def _no_examples(x):
    """Return x.

    Parameters
    ----------
    x : float
        The number.

    Returns
    -------
    float
        The number.
    """
    return x


def _prose_examples(x):
    """Return x.

    Parameters
    ----------
    x : float
        The number.

    Returns
    -------
    float
        The number.

    Examples
    --------
    Call it with a number and get the number back.
    """
    return x


def _undocumented_parameter(x, y):
    """Return x.

    Parameters
    ----------
    x : float
        The number.

    Returns
    -------
    float
        The number.

    Examples
    --------
    >>> _undocumented_parameter(1, 2)
    1
    """
    return x


def _unknown_section(x):
    """Return x.

    Parameters
    ----------
    x : float
        The number.

    Returns
    -------
    float
        The number.

    Exemples
    --------
    >>> _unknown_section(1)
    1
    """
    return x


def _short_underline(x):
    """Return x.

    Parameters
    ---------
    x : float
        The number.

    Returns
    -------
    float
        The number.

    Examples
    --------
    >>> _short_underline(1)
    1
    """
    return x


class _DocumentedClass:
    """A class whose parameters are documented in the class docstring.

    Parameters
    ----------
    a, b : int
        Two numbers.

    Examples
    --------
    >>> _DocumentedClass(1, 2).a
    1
    """

    def __init__(self, a, b):
        self.a = a
        self.b = b

    def __repr__(self):
        return "_DocumentedClass()"

    def total(self):
        """Return the sum of the two numbers.

        Returns
        -------
        int
            ``a + b``.
        """
        return self.a + self.b


def _codes(obj, **kwargs):
    return [code for code, _ in docstring_errors(obj, **kwargs)["errors"]]


def test_checker_accepts_complete_docstrings():
    assert _codes(_complete) == []
    assert _codes(_DocumentedClass) == []
    # A method needs no Examples; an override of a documented method no docstring.
    assert _codes(_DocumentedClass.total, cls=_DocumentedClass, method="total") == []
    repr_ = _DocumentedClass.__repr__
    assert _codes(repr_, cls=_DocumentedClass, method="__repr__") == []


def test_checker_reports_missing_examples():
    assert _codes(_no_examples) == ["EX01"]
    assert _codes(_prose_examples) == ["SK01"]


def test_checker_reports_undocumented_parameters_and_no_docstring():
    assert _codes(_undocumented_parameter) == ["PR01"]

    def bare(x):
        return x

    assert _codes(bare) == ["GL08"]


def test_checker_reports_unparsable_docstring():
    assert "GL06" in _codes(_unknown_section)
    assert _codes(_short_underline) == ["PR01", "SK02"]


def _broken_markup(X):
    """Return X.

    Parameters
    ----------
    X : ndarray of shape (n_features_in_,)
        The input, as for a (batch, *sample_shape) array.

    Examples
    --------
    >>> _broken_markup(1)
    1
    """
    return X


def _sphinx_markup(X):
    """Return X, see :class:`numpy.ndarray` and :math:`\\alpha_0`.

    Parameters
    ----------
    X : ndarray of shape (`n_features_in_`,)
        The input [1]_.

    References
    ----------
    .. [1] A. Author, "A Paper", 2020.

    Examples
    --------
    >>> _sphinx_markup(1)
    1
    """
    return X


def test_rst_checker_reports_broken_markup(sphinx_stand_ins):
    problems = rst_problems(_broken_markup)
    assert any("n_features_in_" in p for p in problems), problems
    assert any("emphasis" in p for p in problems), problems
    assert rst_problems(_sphinx_markup) == []
    assert rst_problems(_complete) == []
