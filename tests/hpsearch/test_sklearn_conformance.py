"""scikit-learn's own tests of its search estimators, run against hpsearch's.

``sklearn/model_selection/tests/test_search.py`` is read from the INSTALLED scikit-learn (never
copied here) and executed with its names ``GridSearchCV`` and ``RandomizedSearchCV`` bound to
:mod:`hpsearch.sklearn`'s, before its body runs (so its parametrize lists and module-level
instances hold ours too). Its test functions are then collected as this module's own.

- Tests of scikit-learn internals (``ParameterGrid``/``ParameterSampler`` alone, subclasses of
  ``BaseSearchCV``, its private helpers) and the parametrizations over its Halving classes
  (scikit-learn's own, not bound to ours) are skipped, each with a one-line reason.
- Deliberate differences (README, "Differences from scikit-learn") are expected to fail, strictly:
  one that starts passing fails this module until the README and this list are updated.
"""
import importlib.util
import inspect
import sys
from pathlib import Path
from unittest import mock

import pytest
import sklearn.model_selection

import hpsearch.sklearn

#: test name -> why it is not about the search estimators we provide.
SKIPPED = {
    "test_validate_parameter_input": "ParameterGrid/ParameterSampler alone (scikit-learn's classes)",
    "test_parameter_grid": "ParameterGrid alone (scikit-learn's class)",
    "test_param_sampler": "ParameterSampler alone (scikit-learn's class)",
    "test_parameters_sampler_replacement": "ParameterSampler alone (scikit-learn's class)",
    "test_custom_run_search": "a subclass of scikit-learn's BaseSearchCV",
    "test__custom_fit_no_run_search": "a subclass of scikit-learn's BaseSearchCV",
    "test_yield_masked_array_for_each_param": "a private helper of sklearn.model_selection._search",
    "test_yield_masked_array_no_runtime_warning": "a private helper of sklearn.model_selection._search",
}

#: test name (or name[params]) -> the documented deliberate difference that makes it fail.
EXPECTED_TO_FAIL = {}

#: The name the loaded copy of scikit-learn's test module is registered under.
MODULE = "sklearn_test_search_on_hpsearch"

HALVING = "scikit-learn's Halving*SearchCV, not bound to hpsearch's classes"


def _load_sklearn_tests():
    """The installed ``test_search.py`` as a fresh module, its two search names bound to ours."""
    spec = importlib.util.find_spec("sklearn.model_selection.tests.test_search")
    path = Path(spec.origin)
    module = type(inspect)(MODULE)
    module.__file__ = str(path)
    sys.modules[MODULE] = module   # its classes pickle by reference, as from the real module
    code = compile(path.read_text(encoding="utf-8"), str(path), "exec")
    with mock.patch.object(sklearn.model_selection, "GridSearchCV", hpsearch.sklearn.GridSearchCV), \
            mock.patch.object(sklearn.model_selection, "RandomizedSearchCV", hpsearch.sklearn.RandomizedSearchCV):
        exec(code, module.__dict__)  # noqa: S102 - scikit-learn's own installed test file
    return module


_SKLEARN_TESTS = _load_sklearn_tests()
for _name, _test in vars(_SKLEARN_TESTS).items():
    if _name.startswith("test_") and inspect.isfunction(_test):
        globals()[_name] = _test


def _is_halving(value):
    names = ("HalvingGridSearchCV", "HalvingRandomSearchCV")
    return (value.__name__ if isinstance(value, type) else type(value).__name__) in names


@pytest.fixture(autouse=True)
def _conformance_marks(request):
    """Skips and strict expected failures by test name (see the module docstring)."""
    name, full = request.node.originalname, request.node.name
    if name in SKIPPED:
        pytest.skip(SKIPPED[name])
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and any(_is_halving(v) for v in callspec.params.values()):
        pytest.skip(HALVING)
    reason = EXPECTED_TO_FAIL.get(full, EXPECTED_TO_FAIL.get(name))
    if reason is not None:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def test_the_sklearn_tests_are_bound_to_hpsearch():
    assert _SKLEARN_TESTS.GridSearchCV is hpsearch.sklearn.GridSearchCV
    assert _SKLEARN_TESTS.RandomizedSearchCV is hpsearch.sklearn.RandomizedSearchCV
    assert sklearn.model_selection.GridSearchCV is not hpsearch.sklearn.GridSearchCV   # restored after loading
