"""The candidates of ``RandomizedSearchCV`` / ``GridSearchCV``: a space with alternatives.

scikit-learn users give ``param_distributions`` / ``param_grid`` as a dict (parameter name ->
list of values or distribution) or as a LIST of such dicts: a space with alternatives, where
each candidate comes from one of the sub-spaces (``[{"kernel": ["rbf"], "gamma": [...]},
{"kernel": ["poly"], "degree": [2, 3]}]``). :class:`Alternatives` is that union, the one place
hpsearch reads it; candidates are drawn exactly as scikit-learn's ``ParameterSampler`` (a
sub-space chosen at random per candidate; all-list spaces sampled without replacement, the
whole grid once in order with scikit-learn's warning when ``n_iter`` covers it) and
``ParameterGrid`` enumerate them, by calling them, with hpsearch distributions
(``hp.LogUniform``) and scipy.stats distributions both accepted as values.

The same list is also an hp.Space with alternatives: :meth:`Alternatives.space` is the one
:class:`~hpsearch.sklearn.SklearnSpace` (hence ``hp.Space([...])``) builds, kept to what the
edge test reads (the branches and the continuous ranges), so a range of some alternatives is
tested over the candidates drawn from them, as for any conditional space.

The drawn list becomes a study through :class:`Candidates`: a sampler that proposes them in
order, and the decoder the objective uses to get a candidate's real values back (estimators,
arrays, callables included). A trial stores the candidate's position (``"#candidate"``), its
plain values (numbers, strings; others by ``repr``), so stored studies stay readable, and
what places it in its branch (hpsearch's ``"alternative"`` when no parameter of its own does).
"""
import hashlib
import json
from collections.abc import Mapping

import numpy as np

from hpsearch.distributions import Choice, Distribution
from hpsearch.samplers import BaseSampler
from hpsearch.space import Branch, Space

__all__ = ["Alternatives", "Candidates", "CANDIDATE"]

#: The key of a candidate's position in its trial's stored params (never an estimator parameter).
CANDIDATE = "#candidate"

#: The key that marks which alternative ParameterSampler drew a candidate from; each alternative
#: gets it as a list of one value, which consumes no random draw, so the candidates are unchanged.
_ORIGIN = "#alternative"


class _Draws:
    """An hpsearch distribution as ParameterSampler samples a value: ``rvs(random_state)``."""

    def __init__(self, distribution):
        self.distribution = distribution

    def rvs(self, random_state=None):
        from sklearn.utils import check_random_state

        # the distribution's own draw (log-uniform for log ranges), from ParameterSampler's RandomState
        return self.distribution.sample(check_random_state(random_state))

    def __repr__(self):
        return repr(self.distribution)


class Alternatives:
    """A search space given the scikit-learn way: one dict, or a list of dicts (alternatives).

    Args:
        spec: a dict of parameter name -> list of values / distribution, or a list of them.
            Validated by scikit-learn's ``ParameterSampler`` / ``ParameterGrid`` when candidates
            are drawn (their error types and messages).

    Attributes:
        subspaces: the dicts, one per alternative (``[spec]`` for one dict).
        origins: the alternative each candidate of the last :meth:`sample` / :meth:`grid` came from
            (None when that is unknown: alternatives with keys that are not strings).
    """

    def __init__(self, spec):
        self.spec = spec
        self.subspaces = [spec] if isinstance(spec, Mapping) else \
            (list(spec) if isinstance(spec, (list, tuple)) else None)
        self.origins = []
        self._sklearn_space = None

    def _for_sklearn(self):
        """The spec with hpsearch distributions given the ``rvs`` scikit-learn samples through, and
        (several alternatives) each marked with its index under :data:`_ORIGIN`."""
        if self.subspaces is None or not all(isinstance(s, Mapping) for s in self.subspaces):
            return self.spec   # not ours to judge: scikit-learn raises its TypeError
        wrapped = [{k: _Draws(v) if isinstance(v, Distribution) else v
                    for k, v in s.items()} for s in self.subspaces]
        if isinstance(self.spec, Mapping):
            return wrapped[0]
        if len(wrapped) > 1 and all(isinstance(k, str) for s in wrapped for k in s):
            # ParameterSampler sorts each dict's keys: string keys only, as scikit-learn's own need
            wrapped = [{_ORIGIN: [i], **s} for i, s in enumerate(wrapped)]
        return wrapped

    def sample(self, n_iter, random_state):
        """``n_iter`` candidates as ``ParameterSampler(spec, n_iter, random_state=random_state)`` draws them."""
        from sklearn.model_selection import ParameterSampler

        drawn = list(ParameterSampler(self._for_sklearn(), n_iter, random_state=random_state))
        marked = any(_ORIGIN in p for p in drawn)
        self.origins = [p.pop(_ORIGIN, 0) for p in drawn] if marked or len(self.subspaces or []) < 2 else None
        return drawn

    def grid(self):
        """Every candidate of the grid, in ``ParameterGrid``'s order."""
        from sklearn.model_selection import ParameterGrid

        drawn = list(ParameterGrid(self.spec))
        # ParameterGrid enumerates the alternatives one after the other
        self.origins = [i for i, s in enumerate(self.subspaces) for _ in range(len(ParameterGrid(s)))]
        return drawn

    def _sklearn(self):
        from hpsearch.sklearn._space import SklearnSpace

        if self._sklearn_space is None:
            self._sklearn_space = SklearnSpace(self.spec, strict=False)
        return self._sklearn_space

    def space(self):
        """What the edge test reads of the space: the hp.Space that
        :class:`~hpsearch.sklearn.SklearnSpace` builds from the spec (a list of dicts: one branch per
        alternative), kept to its branches and ordered continuous ranges (hpsearch's, scipy's
        ``loguniform``/``uniform``); lists, integer ranges and other distributions are never flagged.
        A parameter of several alternatives searched differently in them (which scikit-learn
        accepts, but one Space cannot hold) is left out.

        Returns:
            dict of name -> distribution or :class:`~hpsearch.space.Branch` (``Space(...)`` of it is
            the view), ``{}`` when nothing is left; a Branch none of whose branches keeps a range
            is left out too (nothing to place a candidate in).
        """
        if self.subspaces is None:
            return {}
        return _edge_view(self._sklearn().space.nested())

    def candidates(self, params):
        """The :class:`Candidates` of the last draw, ``params``, placed in the branches of :meth:`space`.

        Raises:
            ValueError: ``params`` is not the last :meth:`sample` / :meth:`grid`'s list.
        """
        if self.origins is not None and len(self.origins) != len(params):
            raise ValueError(f"candidates() takes the {len(self.origins)} candidates of the last sample() or grid(), "
                             f"got {len(params)}")
        if self.origins is None:   # no branch to place the candidates in: only the position
            return Candidates(params)
        view = self.space()
        sklearn_space = self._sklearn()
        return Candidates(params, view, [{k: v for k, v in sklearn_space.placement(i).items() if k in view}
                                         for i in self.origins])


def _is_int(dist):
    return type(dist).__name__.startswith("Int")


def _edge_view(level):
    """A level of ``Space.nested()`` with only the branches and the ranges the edge test reads."""
    out = {}
    for name, spec in level.items():
        if isinstance(spec, Branch):
            branches = {b: _edge_view(params) for b, params in spec.branches.items()}
            if any(branches.values()):
                out[name] = Branch(branches)
        elif spec.ordered and not _is_int(spec):
            out[name] = spec
    return out


def _plain(value):
    """A JSON value standing for ``value`` in a stored trial (numbers and strings as they are)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return repr(value)


class Candidates(BaseSampler):
    """A list of candidate dicts as a study: the sampler proposing them and their decoder.

    Args:
        params: the candidates (dicts of parameter name -> value), in trial order.
        ranges: name -> hpsearch range or :class:`~hpsearch.space.Branch`: the study's space beside
            the candidate's position (what the edge test reads, :meth:`Alternatives.space`).
        tags: per candidate, the stored params that place it in its branch of ``ranges`` (its
            ``"alternative"``) besides its own values; None for none.
    """

    is_adaptive = False

    def __init__(self, params, ranges=None, tags=None):
        self.params = list(params)
        self.ranges = dict(ranges or {})
        tags = [{}] * len(self.params) if tags is None else list(tags)
        if len(tags) != len(self.params):
            raise ValueError(f"Candidates needs one tag per candidate, got {len(tags)} for {len(self.params)}")
        self._encoded = [{CANDIDATE: i, **{k: _plain(v) for k, v in p.items()}, **tag}
                         for i, (p, tag) in enumerate(zip(self.params, tags))]
        text = json.dumps(self._encoded, sort_keys=True, allow_nan=True)
        self.digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        self._next = 0

    def space(self):
        """The study's :class:`~hpsearch.space.Space`: the candidate's position, and the ranges in
        their branches."""
        return Space({CANDIDATE: Choice(list(range(len(self.params)))), **self.ranges})

    # the sampler protocol
    def start(self, space, n_trials, seed, direction):
        self._next = 0
        return min(int(n_trials), len(self._encoded))

    def ask(self, n):
        batch = self._encoded[self._next:self._next + n]
        self._next += len(batch)
        return [dict(p) for p in batch]

    def tell(self, index, params, value):
        pass

    def __repr__(self):
        return f"Candidates(n={len(self.params)}, digest={self.digest})"

    # the decoder protocol of CVObjective
    def index(self, params):
        """The candidate's position in the list."""
        return params.get(CANDIDATE)

    def decode(self, params):
        """The candidate's values as ``set_params`` takes them (the very objects of the space)."""
        return dict(self.params[params[CANDIDATE]])

    def describe(self):
        return {"candidates": self.digest}
