"""RandomizedSearchCV and GridSearchCV: scikit-learn's classes, run by hpsearch.

Change ``from sklearn.model_selection import RandomizedSearchCV, GridSearchCV`` to
``from hpsearch.sklearn import RandomizedSearchCV, GridSearchCV``: the same signatures,
defaults and candidates (drawn by scikit-learn's own ``ParameterSampler`` / ``ParameterGrid``
semantics, see :mod:`hpsearch.sklearn._candidates`), the same ``cv_results_`` and ``best_*``.
What hpsearch adds comes as extra keyword arguments: ``storage``/``name`` (a stored search that
resumes), ``progress``, ``backend``, ``follow_up`` (a few more candidates that settle a suspect
edge); ``hp.LogUniform`` and friends as values, and an edge warning (``boundary_``) when the best
value of a continuous range sits at its edge. Both run on the one engine of
:class:`~hpsearch.sklearn.BaseSearch`, as :class:`~hpsearch.sklearn.SearchCV` does.
"""

import numpy as np

from hpsearch.checks import check_seed
from hpsearch.sklearn._base_search import BaseSearch
from hpsearch.sklearn._candidates import Alternatives
from hpsearch.sklearn._plan import check_follow_up

__all__ = ["RandomizedSearchCV", "GridSearchCV"]


def _strategy(candidates, follow_up=False):
    from hpsearch.strategies import CoarseToFine, Narrowing
    from hpsearch.strategies.stage import Stage

    return CoarseToFine([Stage(len(candidates.params), 1, candidates)], Narrowing(follow_up=follow_up))


def _plan(params, alternatives, follow_up=False):
    if not params:
        raise ValueError("No fits were performed. Was the CV iterator empty? Were there no candidates?")
    candidates = alternatives.candidates(params)
    decoder = _Probes(candidates) if follow_up else candidates
    return candidates.space(), _strategy(candidates, follow_up), decoder, len(params)


class _Probes:
    """The decoder of a search with a follow-up stage: a follow-up trial is the best candidate
    with one of its continuous ranges moved a step inside or past an edge, so a range value that
    differs from its candidate's is the trial's own (the others decode as
    :class:`~hpsearch.sklearn._candidates.Candidates` does)."""

    def __init__(self, candidates):
        self.candidates = candidates
        # the ranges the follow-up may move, those inside branches too (never a branch's own name)
        self.ranges = [name for name, dist in candidates.space().items() if dist.ordered]

    def _moved(self, params):
        values = self.candidates.decode(params)
        return values, {name: params[name] for name in self.ranges
                        if name in params and params[name] != values.get(name)}

    def decode(self, params):
        values, moved = self._moved(params)
        return {**values, **moved}

    def index(self, params):
        # a follow-up trial is no candidate of the list, so it has no callback contexts of its own
        _, moved = self._moved(params)
        return None if moved else self.candidates.index(params)

    def describe(self):
        return self.candidates.describe()


class RandomizedSearchCV(BaseSearch):
    """scikit-learn's ``RandomizedSearchCV``, run by hpsearch (see the module docstring).

    Args:
        estimator, param_distributions, n_iter, scoring, n_jobs, refit, cv, verbose, pre_dispatch,
            random_state, error_score, return_train_score: scikit-learn's, with its defaults and
            meaning. ``param_distributions`` is a dict (or a list of dicts: alternatives) of
            parameter name -> list of values, scipy.stats distribution or hpsearch distribution
            (``hp.LogUniform(1e-3, 1e3)``). ``pre_dispatch`` is accepted and has no effect
            (hpsearch's pool hands out one candidate at a time).
        storage: None (in memory) or an SQLite file path: an interrupted or repeated fit resumes.
        name: the study's name in ``storage`` (default ``"sklearn-search"``).
        progress: show a progress bar (tqdm).
        backend: where the fits run: None (the default) runs ``n_jobs=None``/1 in this process, as
            scikit-learn does, and several jobs on isolated worker processes; or a name
            (``"loky"``, ``"threading"``, ``"multiprocessing"``, ``"dask"``).
        follow_up: False (the default) or True: after the candidates, settle each edge they left
            suspect (at most 2) with 10 more candidates, the best one's with that range moved a
            step inside or past the edge (:mod:`hpsearch.strategies.follow_up`).

    Attributes:
        cv_results_, best_index_, best_params_, best_score_, best_estimator_, refit_time_,
        scorer_, multimetric_, n_splits_: scikit-learn's. With ``follow_up=True``,
        ``cv_results_`` has a row per follow-up candidate after the ``n_iter`` (ranked with them:
        one may be the best) and a ``follow_up`` column (``"gamma:high"``, ``""`` for the others).
        boundary_: :class:`hpsearch.BoundaryFlag` per continuous range whose best value sits at
            an edge (each also an :class:`~hpsearch.errors.EdgeWarning`, a ``UserWarning``).
        edge_report_: what the search says about its ranges' edges, as ``result_.summary()``
            words it: a search too small for the edge test (also one ``EdgeWarning``), the flags,
            each followed-up edge confirmed or cleared and the extra fits it cost.
        result_: the :class:`hpsearch.SearchResult` of the study (trials table, ``summary()``).
    """

    def __init__(self, estimator, param_distributions, *, n_iter=10, scoring=None, n_jobs=None, refit=True,
                 cv=None, verbose=0, pre_dispatch="2*n_jobs", random_state=None, error_score=np.nan,
                 return_train_score=False, storage=None, name=None, progress=False, backend=None, follow_up=False):
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.refit = refit
        self.cv = cv
        self.verbose = verbose
        self.pre_dispatch = pre_dispatch
        self.random_state = random_state
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.storage = storage
        self.name = name
        self.progress = progress
        self.backend = backend
        self.follow_up = follow_up

    def _study_seed(self):
        # trial seeds are unused by cross-validation; an int random_state names the study's seed
        try:
            return check_seed(self.random_state)
        except ValueError:  # None, a RandomState, or an int out of range: the study's seed is 0
            return 0

    def _follow_up(self):
        return check_follow_up(self.follow_up)

    def _plan(self, objective):
        alternatives = Alternatives(self.param_distributions)
        return _plan(alternatives.sample(self.n_iter, self.random_state), alternatives, self._follow_up())


class GridSearchCV(BaseSearch):
    """scikit-learn's ``GridSearchCV``, run by hpsearch (see the module docstring).

    Args:
        estimator, param_grid, scoring, n_jobs, refit, cv, verbose, pre_dispatch, error_score,
            return_train_score: scikit-learn's, with its defaults and meaning; ``param_grid`` is a
            dict (or a list of dicts: alternatives) of parameter name -> list of values.
            ``pre_dispatch`` is accepted and has no effect.
        storage, name, progress, backend: as in :class:`RandomizedSearchCV`.
        follow_up: False; True is refused at ``fit``: a grid of lists has no continuous range
            whose edge a follow-up could probe (``RandomizedSearchCV`` takes ranges).

    Attributes:
        as :class:`RandomizedSearchCV`'s.
    """

    def __init__(self, estimator, param_grid, *, scoring=None, n_jobs=None, refit=True, cv=None, verbose=0,
                 pre_dispatch="2*n_jobs", error_score=np.nan, return_train_score=False, storage=None, name=None,
                 progress=False, backend=None, follow_up=False):
        self.estimator = estimator
        self.param_grid = param_grid
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.refit = refit
        self.cv = cv
        self.verbose = verbose
        self.pre_dispatch = pre_dispatch
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.storage = storage
        self.name = name
        self.progress = progress
        self.backend = backend
        self.follow_up = follow_up

    def _plan(self, objective):
        if check_follow_up(self.follow_up):
            raise ValueError("follow_up=True needs a continuous range to probe past its edge, and GridSearchCV's "
                             "param_grid holds lists; use RandomizedSearchCV with ranges (hp.LogUniform, "
                             "scipy.stats.loguniform) or SearchCV")
        alternatives = Alternatives(self.param_grid)
        return _plan(alternatives.grid(), alternatives)
