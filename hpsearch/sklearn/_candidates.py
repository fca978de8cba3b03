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

The drawn list becomes a study through :class:`Candidates`: a sampler that proposes them in
order, and the decoder the objective uses to get a candidate's real values back (estimators,
arrays, callables included). A trial stores the candidate's position (``"#candidate"``) and
its plain values (numbers, strings; others by ``repr``), so stored studies stay readable.
"""
import hashlib
import json
from collections.abc import Mapping

import numpy as np

from hpsearch.distributions import Choice, Distribution
from hpsearch.samplers import BaseSampler
from hpsearch.space import Space

__all__ = ["Alternatives", "Candidates", "CANDIDATE"]

#: The key of a candidate's position in its trial's stored params (never an estimator parameter).
CANDIDATE = "#candidate"


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
    """

    def __init__(self, spec):
        self.spec = spec
        self.subspaces = [spec] if isinstance(spec, Mapping) else \
            (list(spec) if isinstance(spec, (list, tuple)) else None)

    def _for_sklearn(self):
        """The spec with hpsearch distributions given the ``rvs`` scikit-learn samples through."""
        if self.subspaces is None or not all(isinstance(s, Mapping) for s in self.subspaces):
            return self.spec   # not ours to judge: scikit-learn raises its TypeError
        wrapped = [{k: _Draws(v) if isinstance(v, Distribution) else v
                    for k, v in s.items()} for s in self.subspaces]
        return wrapped[0] if isinstance(self.spec, Mapping) else wrapped

    def sample(self, n_iter, random_state):
        """``n_iter`` candidates as ``ParameterSampler(spec, n_iter, random_state=random_state)`` draws them."""
        from sklearn.model_selection import ParameterSampler

        return list(ParameterSampler(self._for_sklearn(), n_iter, random_state=random_state))

    def grid(self):
        """Every candidate of the grid, in ``ParameterGrid``'s order."""
        from sklearn.model_selection import ParameterGrid

        return list(ParameterGrid(self.spec))

    def ranges(self):
        """name -> ordered continuous range that every alternative searches the same way: what
        the edge test reads (a list, an int range or a parameter of only some alternatives is never
        flagged). scipy.stats ``loguniform``/``uniform`` count as the range they cover."""
        from hpsearch.sklearn._space import range_of

        common = None
        for subspace in self.subspaces or []:
            found = {}
            for name, value in subspace.items():
                dist = range_of(value)
                if dist is not None and dist.ordered and not _is_int(dist):
                    found[name] = dist
            common = found if common is None else {k: v for k, v in common.items() if found.get(k) == v}
        return common or {}


def _is_int(dist):
    return type(dist).__name__.startswith("Int")


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
        ranges: name -> hpsearch range searched by every candidate (for the edge test).
    """

    is_adaptive = False

    def __init__(self, params, ranges=None):
        self.params = list(params)
        self.ranges = dict(ranges or {})
        self._encoded = [{CANDIDATE: i, **{k: _plain(v) for k, v in p.items()}} for i, p in enumerate(self.params)]
        text = json.dumps(self._encoded, sort_keys=True, allow_nan=True)
        self.digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        self._next = 0

    def space(self):
        """The study's :class:`~hpsearch.space.Space`: the candidate's position, and the ranges."""
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
