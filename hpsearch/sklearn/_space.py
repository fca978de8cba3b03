"""A scikit-learn ``param_distributions``-style space as an hpsearch :class:`~hpsearch.space.Space`.

scikit-learn users write spaces as ``{"clf__C": scipy.stats.loguniform(1e-3, 1e3),
"clf__kernel": ["rbf", "linear"]}``, or as a list of such dicts: alternatives, each candidate
drawn from one of them. Here:

- hpsearch distributions are kept as they are;
- lists become a :class:`~hpsearch.distributions.Choice`; a list holding values that cannot be
  stored (estimators, functions) becomes a Choice of positions, decoded before ``set_params``;
- ``scipy.stats`` ``loguniform``/``reciprocal``, ``uniform`` and ``randint`` become
  :class:`LogUniform`, :class:`Uniform` and :class:`IntUniform` over the same values, so that
  edge warnings and coarse-to-fine apply to them; any other frozen distribution stays a
  scipy distribution (random search only);
- a list of dicts is ``hp.Space([...])`` of the converted dicts: one Branch whose branch
  parameter is the one every alternative fixes to a string of its own (``"kernel": ["rbf"]``),
  else hpsearch's synthetic ``"alternative"``, which never reaches ``set_params``. A parameter
  that two alternatives fix to different values (``"solver": ["liblinear"]`` and
  ``["lbfgs"]``, ``"clf": [SVC()]`` and ``[LogisticRegression()]``) is a constant of each
  alternative, set with its branch but not searched. A list of one dict is that dict, and an
  empty space (``{}``) has one candidate: the estimator as given.
"""
from collections.abc import Mapping

from hpsearch.distributions import Choice, Distribution, Fixed, IntUniform, LogUniform, ScipyDistribution, Uniform
from hpsearch.space import ALTERNATIVE, Space, branch_key

__all__ = ["SklearnSpace", "range_of"]


def _plain(value):
    """True for a value a trial record can store (JSON: str, int, float, bool, None, lists of them)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return type(value).__module__ == "numpy" and hasattr(value, "item") and _plain(value.item())


def _from_scipy(frozen):
    """The hpsearch range equal to a scipy.stats frozen distribution, or None."""
    name = getattr(getattr(frozen, "dist", None), "name", None)
    args, kwds = tuple(getattr(frozen, "args", ())), dict(getattr(frozen, "kwds", {}))
    if name in ("loguniform", "reciprocal", "randint") and not kwds and len(args) == 2:
        low, high = (float(a) for a in args)
        if name == "randint":
            return IntUniform(int(low), int(high) - 1) if int(high) - 1 > int(low) else None
        return LogUniform(low, high)
    if name == "uniform":
        loc = kwds.pop("loc", args[0] if args else 0.0)
        scale = kwds.pop("scale", args[1] if len(args) > 1 else 1.0)
        if not kwds and len(args) <= 2 and scale > 0:
            return Uniform(float(loc), float(loc) + float(scale))
    return None


def range_of(value):
    """The hpsearch distribution a space value stands for: itself, the range equal to a scipy.stats
    ``loguniform``/``uniform``/``randint``, or None (a list, another scipy distribution)."""
    if isinstance(value, Distribution):
        return value
    if callable(getattr(value, "rvs", None)):
        return _from_scipy(value)
    return None


def _alternatives(space):
    """``space`` as a list of dicts (a dict is one alternative); refuses anything else."""
    if isinstance(space, Mapping):
        return [space]
    if not isinstance(space, (list, tuple)):
        raise ValueError(f"space must be a dict of parameter names to distributions or lists, or a list of such "
                         f"dicts (alternatives), got {type(space).__name__}")
    if not space:
        raise ValueError("space is an empty list; give at least one dict of parameter names to distributions "
                         "or lists ({} for the estimator as given)")
    for i, alt in enumerate(space):
        if not isinstance(alt, Mapping) or isinstance(alt, Space):
            raise ValueError(f"space[{i}] must be a dict of parameter names to distributions or lists, got "
                             f"{alt!r} ({type(alt).__name__})")
    return list(space)


def _one_value(dist, objects):
    """The single value ``dist`` fixes (a list of one value, a Fixed), as ``(value,)``; None if it has more."""
    if isinstance(dist, Fixed):
        return (dist.value,)
    if isinstance(dist, Choice) and len(dist) == 1:
        return (objects[0],) if objects is not None else (dist.values[0],)
    return None


class SklearnSpace:
    """A search space given the scikit-learn way, and how to decode its trials' params.

    Args:
        space: a dict (or :class:`~hpsearch.space.Space`) of parameter names (nested with
            ``__`` for pipelines) to hpsearch distributions, scipy.stats frozen distributions
            or lists of values; or a list of such dicts (alternatives, see the module docstring).
        strict: True raises on what one Space cannot hold; False (the drop-ins' edge-test view
            of a space scikit-learn accepts) leaves it out instead: a value of another kind, a
            name that is not a string, a parameter two alternatives search differently.

    Attributes:
        space: the :class:`~hpsearch.space.Space` the study searches.
        objects: one dict per alternative: name -> the list of values a Choice of positions
            stands for.
        empty: True when no alternative has a parameter (one candidate: the estimator as given).

    Raises:
        ValueError: not a dict or a list of dicts, an empty list, a value of another kind, or a
            parameter two alternatives search differently (the message names the parameter and
            the alternative: ``space[1]['degree']``).
    """

    def __init__(self, space, *, strict=True):
        self._synthetic, self._key, self._branches = None, None, ()
        if isinstance(space, Space):
            self.space, self.empty = space, False
            branches = space.branches.get(ALTERNATIVE, ())
            if ALTERNATIVE not in space.conditions and branches == tuple(str(i) for i in range(len(branches))):
                # hp.Space([...]) of alternatives no parameter tells apart: its branch is not the estimator's
                self._key, self._synthetic, self._branches = ALTERNATIVE, ALTERNATIVE, branches
            self.objects = [{} for _ in self._branches or [0]]
            self._constants = [{} for _ in self.objects]
            return
        alternatives = _alternatives(space)
        self._one_dict = isinstance(space, Mapping)
        self.objects = [{} for _ in alternatives]
        self._constants = [{} for _ in alternatives]
        converted = [self._convert(i, alt, strict) for i, alt in enumerate(alternatives)]
        self.empty = not any(converted)
        if len(converted) > 1 and not self.empty:
            self._settle_shared(converted, strict)
        try:
            self.space = Space([{}] if self.empty else converted if len(converted) > 1 else converted[0])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"space: {exc}") from None
        if self.space.is_conditional:
            self._key = next(iter(self.space.branches))
            self._branches = self.space.branches[self._key]
            if self._key == ALTERNATIVE and not any(ALTERNATIVE in alt for alt in converted):
                self._synthetic = ALTERNATIVE

    def _where(self, i, name):
        """How a message names parameter ``name`` of alternative ``i``: ``space['C']``, ``space[1]['C']``."""
        return f"space[{name!r}]" if self._one_dict else f"space[{i}][{name!r}]"

    def _convert(self, i, alt, strict):
        """Alternative ``i`` as a dict of name -> distribution (positions for objects)."""
        out = {}
        for name, value in alt.items():
            if not strict and (not isinstance(name, str) or not name):
                continue
            try:
                out[name] = self._distribution(i, name, value)
            except ValueError:
                if strict:
                    raise
        return out

    def _distribution(self, i, name, value):
        where = self._where(i, name)
        if isinstance(value, Distribution):
            return value
        if callable(getattr(value, "rvs", None)):
            return _from_scipy(value) or ScipyDistribution(value)
        if isinstance(value, (list, tuple, range)) or type(value).__name__ == "ndarray":
            values = list(value)
            if not values:
                raise ValueError(f"{where} is an empty list; give at least one value")
            distinct = len({repr(v) for v in values}) == len(values)
            if distinct and all(_plain(v) for v in values):
                try:
                    return Choice(values)
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from None
            self.objects[i][name] = values  # estimators, arrays, repeated values: searched by position
            return Choice(list(range(len(values))))
        raise ValueError(f"{where} must be a list of values, an hpsearch distribution or a "
                         f"scipy.stats frozen distribution, got {value!r} ({type(value).__name__})")

    def _same(self, i, j, name, converted):
        """True if alternatives ``i`` and ``j`` search ``name`` the same way (objects: the same reprs)."""
        a, b = self.objects[i].get(name), self.objects[j].get(name)
        if (a is None) != (b is None):
            return False
        if a is not None:
            return [repr(v) for v in a] == [repr(v) for v in b]
        return converted[i][name] == converted[j][name]

    def _settle_shared(self, converted, strict):
        """A parameter of several alternatives is one parameter of the Space, so it needs one
        distribution; one that each alternative fixes to a value of its own becomes that
        alternative's constant. Anything else raises (strict) or leaves the Space (lenient)."""
        key = branch_key(converted)
        names = dict.fromkeys(name for alt in converted for name in alt)
        for name in names:
            having = [i for i, alt in enumerate(converted) if name in alt]
            if (key is not None and name == key[0]) or all(self._same(having[0], j, name, converted)
                                                           for j in having[1:]):
                continue
            fixed = [_one_value(converted[i][name], self.objects[i].get(name)) for i in having]
            if all(f is not None for f in fixed):
                for i, (value,) in zip(having, fixed):
                    self._constants[i][name] = value
            elif strict:
                j = next(j for j in having[1:] if not self._same(having[0], j, name, converted))
                raise ValueError(f"{self._where(j, name)} is {self._shown(j, name, converted)} but "
                                 f"{self._where(having[0], name)} is {self._shown(having[0], name, converted)}: a "
                                 f"parameter of several alternatives is one parameter of the space (as in hp.Space); "
                                 f"give it the same values in each, or one value per alternative")
            for i in having:
                del converted[i][name]
                self.objects[i].pop(name, None)
        if key is None and not strict:   # hp.Space's branch parameter: a user's own "alternative" leaves
            for i, alt in enumerate(converted):
                alt.pop(ALTERNATIVE, None)
                self.objects[i].pop(ALTERNATIVE, None)

    def _shown(self, i, name, converted):
        objects = self.objects[i].get(name)
        return repr(converted[i][name]) if objects is None else f"[{', '.join(repr(v) for v in objects)}]"

    def alternative(self, params):
        """The index of the alternative a trial's params come from (0 without alternatives)."""
        if self._key is None or self._key not in params:
            return 0
        return self._branches.index(params[self._key])

    def placement(self, index):
        """The params that place a candidate of alternative ``index`` in its branch of :attr:`space`
        (``{"kernel": "rbf"}``, ``{"alternative": "1"}``); ``{}`` without alternatives."""
        return {} if self._key is None or self.empty else {self._key: self._branches[index]}

    def decode(self, params):
        """A trial's stored params as the estimator takes them: positions -> the objects of its
        alternative, that alternative's constants added, hpsearch's ``"alternative"`` left out."""
        i = self.alternative(params)
        objects = self.objects[i]
        out = {k: (objects[k][v] if k in objects else v) for k, v in params.items() if k != self._synthetic}
        out.update(self._constants[i])
        return out

    def describe(self):
        """JSON-able identity of the object choices and constants (their reprs), for the study's spec."""
        if len(self.objects) == 1:
            return {name: [repr(v) for v in values] for name, values in self.objects[0].items()}
        return {"alternatives": [{**{name: [repr(v) for v in values] for name, values in objects.items()},
                                  **{name: repr(value) for name, value in constants.items()}}
                                 for objects, constants in zip(self.objects, self._constants)]}
