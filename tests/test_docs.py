"""Every public class and function has a numpydoc docstring with runnable Examples.

The Examples themselves run as doctests (``--doctest-modules`` over ``skend2/`` in
pyproject.toml); these tests make sure there is something to run: a docstring that
numpydoc parses without warnings, a ``Parameters`` section naming every parameter
of the signature, and an ``Examples`` section with at least one ``>>>`` line.
Each docstring, as numpydoc renders it for Sphinx, must also be valid
reStructuredText (an unescaped ``n_features_in_`` or ``*args`` breaks the docs
build with warnings as errors). The Sphinx build itself is left to CI (too slow
for the test suite).
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
from numpydoc.docscrape import ClassDoc, FunctionDoc
from numpydoc.docscrape_sphinx import get_doc_object

ROOT = Path(__file__).resolve().parents[1]

PUBLIC_MODULES = (
    "skend2",
    "skend2.annealing",
    "skend2.modules",
    "skend2.uncertainty",
    "skend2.losses",
    "skend2.metrics",
    "skend2.datasets",
    "skend2.plotting",
)

# Parameters that a docstring need not list (bound automatically).
_IMPLICIT = {"self", "cls"}


def _import_or_none(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _public_callables():
    """(qualified name, object) of every class and function in a public __all__.

    An object exported from several modules (``skend2.TemperatureAnnealing`` is
    ``skend2.annealing.TemperatureAnnealing``) is listed once, under its first
    name. Constants (tuples, dicts, ``__version__``) are not callables and are
    skipped.
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


def _signature_parameters(obj):
    """Names of the parameters a docstring must document (``*args`` as ``*args``)."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    names = []
    for parameter in signature.parameters.values():
        if parameter.name in _IMPLICIT:
            continue
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            names.append(f"*{parameter.name}")
        elif parameter.kind is inspect.Parameter.VAR_KEYWORD:
            names.append(f"**{parameter.name}")
        else:
            names.append(parameter.name)
    return names


def _documented_names(parameters):
    """Names in a numpydoc Parameters section; ``x, y : int`` documents both."""
    names = set()
    for parameter in parameters:
        for name in parameter.name.split(","):
            name = name.strip()
            names.add(name)
            names.add(name.lstrip("*"))
    return names


def docstring_problems(obj):
    """What keeps ``obj``'s docstring from being a complete numpydoc docstring.

    Returns a list of messages, empty when the docstring parses with numpydoc
    (warnings count as failures), documents every parameter of the signature in a
    non-empty ``Parameters`` section, and has an ``Examples`` section holding at
    least one doctest (``>>>``).
    """
    if not inspect.getdoc(obj):
        return ["no docstring"]
    problems = []
    parser = ClassDoc if inspect.isclass(obj) else FunctionDoc
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            if parser is ClassDoc:
                doc = ClassDoc(obj, config={"show_class_members": False})
            else:
                doc = FunctionDoc(obj)
        except Exception as exc:  # numpydoc raises ValueError or warns
            return [f"numpydoc cannot parse the docstring: {exc}"]

    expected = _signature_parameters(obj)
    if expected:
        if not doc["Parameters"]:
            problems.append(f"empty Parameters section (signature: {expected})")
        else:
            documented = _documented_names(doc["Parameters"])
            missing = [name for name in expected if name not in documented]
            if missing:
                problems.append(f"parameters not documented: {missing}")

    examples = "\n".join(doc["Examples"])
    if not examples.strip():
        problems.append("no Examples section")
    elif not doctest.DocTestParser().get_examples(examples):
        problems.append("Examples section has no doctest (>>> line)")
    return problems


PUBLIC_CALLABLES = _public_callables()


def _public_methods():
    """(qualified name, function) of the public methods skend2 defines itself.

    Inherited scikit-learn, skorch and torch methods are not ours to fix.
    """
    found = []
    for qualname, cls in PUBLIC_CALLABLES:
        if not inspect.isclass(cls):
            continue
        for name, member in inspect.getmembers(cls):
            if name.startswith("_") and name != "__call__":
                continue
            function = getattr(member, "__func__", member)
            if not inspect.isfunction(function):
                continue
            if not getattr(function, "__module__", "").startswith("skend2"):
                continue
            found.append((f"{qualname}.{name}", function))
    return found


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
        rendered = str(get_doc_object(obj, config={"show_class_members": False}))
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


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_module_imports_with_all(module_name):
    if module_name == "skend2.plotting":
        pytest.importorskip("matplotlib")
    module = importlib.import_module(module_name)
    assert inspect.getdoc(module), f"{module_name} has no module docstring"
    assert module.__all__, f"{module_name} has an empty __all__"
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.__all__ lists missing {name}"


def test_public_callables_were_found():
    names = {name for name, _ in PUBLIC_CALLABLES}
    # One of each kind, from different modules, so an empty collection cannot pass.
    assert "skend2.DeepEnsembleClassifier" in names
    assert "skend2.uncertainty.ensemble_uncertainty" in names
    assert "skend2.datasets.make_spirals" in names
    assert len(PUBLIC_CALLABLES) >= 30


@pytest.mark.parametrize(
    "obj", [obj for _, obj in PUBLIC_CALLABLES], ids=[n for n, _ in PUBLIC_CALLABLES]
)
def test_numpydoc_docstring_with_examples(obj):
    problems = docstring_problems(obj)
    assert not problems, "; ".join(problems)


PUBLIC_METHODS = _public_methods()


@pytest.mark.parametrize(
    "obj",
    [obj for _, obj in PUBLIC_CALLABLES + PUBLIC_METHODS],
    ids=[n for n, _ in PUBLIC_CALLABLES + PUBLIC_METHODS],
)
def test_docstring_is_valid_restructuredtext(obj, sphinx_stand_ins):
    problems = rst_problems(obj)
    assert not problems, "; ".join(problems)


def test_api_reference_lists_every_public_name():
    """docs/api.rst names every public class and function (and nothing else)."""
    api = (ROOT / "docs" / "api.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"^   ([A-Za-z_]\w*)$", api, flags=re.MULTILINE))
    listed |= set(re.findall(r"^\.\. autodata:: (\w+)$", api, flags=re.MULTILINE))
    public = {name.rsplit(".", 1)[1] for name, _ in PUBLIC_CALLABLES}
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
    """
    return x


def _prose_examples(x):
    """Return x.

    Parameters
    ----------
    x : float
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

    Exemples
    --------
    >>> _unknown_section(1)
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


def test_checker_accepts_complete_docstrings():
    assert docstring_problems(_complete) == []
    assert docstring_problems(_DocumentedClass) == []


def test_checker_reports_missing_examples():
    assert docstring_problems(_no_examples) == ["no Examples section"]
    assert docstring_problems(_prose_examples) == [
        "Examples section has no doctest (>>> line)"
    ]


def test_checker_reports_undocumented_parameters_and_no_docstring():
    assert docstring_problems(_undocumented_parameter) == [
        "parameters not documented: ['y']"
    ]

    def bare(x):
        return x

    assert docstring_problems(bare) == ["no docstring"]


def test_checker_reports_unparsable_docstring():
    problems = docstring_problems(_unknown_section)
    assert len(problems) == 1
    assert problems[0].startswith("numpydoc cannot parse")


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
