"""The search space: an ordered, immutable mapping of parameter names to distributions.

A :class:`Space` maps parameter dicts to and from the unit cube ``[0, 1]^d`` whose
axes are the non-Fixed parameters (``dims``). Samplers work on that cube only, so
the log transform and the integer/choice cells are defined once, in the
distributions, and every sampler gets them for free.

A space can branch (:class:`Branch`): a parameter such as ``optimizer`` chooses one of
several named branches, and each branch brings parameters of its own that exist only
in the trials that chose it (Optuna's define-by-run ``if``, hyperopt's ``hp.choice`` over
dicts, ConfigSpace's conditions). The space stays a flat mapping of every parameter
name (the branch parameter is a :class:`~hpsearch.distributions.Choice` of the branch
names) plus the condition under which each conditional parameter is active; a trial's
params hold only its active parameters.

Example::

    >>> from hpsearch import Space, LogUniform, Choice, Fixed
    >>> space = Space({"lr": LogUniform(1e-6, 1e-1), "act": Choice(["relu", "tanh"]), "epochs": Fixed(5)})
    >>> space.dims
    ('lr', 'act')
    >>> space.from_unit([1.0, 0.9])
    {'lr': 0.1, 'act': 'tanh', 'epochs': 5}
    >>> space.to_unit({"lr": 1e-3, "act": "relu", "epochs": 5}).round(2).tolist()
    [0.6, 0.25]
    >>> from hpsearch import Branch, Uniform
    >>> cond = Space({"lr": LogUniform(1e-4, 1e-1),
    ...               "optimizer": Branch({"sgd": {}, "momentum": {"mu": Uniform(0.5, 0.99)}})})
    >>> cond.from_unit([0.5, 0.2, 0.5])
    {'lr': 0.0031622776601683794, 'optimizer': 'sgd'}
"""
from collections.abc import Mapping

import numpy as np

from hpsearch.distributions import Choice, Distribution, Fixed, ScipyDistribution, distribution_from_dict

__all__ = ["Space", "Branch", "ALTERNATIVE", "branch_key", "is_branch_table"]

#: The branch parameter of a list of alternative spaces when no parameter tells them apart.
ALTERNATIVE = "alternative"


def _as_distribution(name, dist, where=""):
    if isinstance(dist, Distribution):
        return dist
    if callable(getattr(dist, "rvs", None)):  # scipy.stats frozen distribution (sklearn convention)
        try:
            return ScipyDistribution(dist)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    raise TypeError(f"parameter {name!r}{where}: expected a distribution (LogUniform, Uniform, IntUniform, "
                    f"IntLogUniform, Choice, Fixed), a Branch or a scipy.stats frozen distribution, got {dist!r} "
                    f"({type(dist).__name__}); use Fixed({dist!r}) for a constant")


class Branch:
    """A choice between named branches, each with parameters of its own.

    ``Branch({"sgd": {}, "momentum": {"mu": Uniform(0.5, 0.99)}})`` as the value of
    ``"optimizer"`` in a :class:`Space`: each trial picks one branch name (the value of
    ``optimizer``, each equally likely under random search) and gets only that branch's
    parameters. A parameter may appear in several branches with the same distribution (it
    is then one parameter, active in each of them); branches may nest.

    Args:
        branches: a non-empty dict of branch names (non-empty strings) to dicts of parameter
            names to distributions (or Branches); ``{}`` for a branch without parameters.

    Raises:
        ValueError: ``branches`` is not a dict. The Space that holds the Branch checks the rest
            (no branches, a branch name that is not a non-empty string, a branch that is not a
            dict), so that its message names the branch parameter.
    """

    def __init__(self, branches):
        if isinstance(branches, Branch):
            branches = branches.branches
        if not isinstance(branches, Mapping):
            raise ValueError(f"Branch needs a dict of branch names to parameter dicts, got {branches!r}")
        # the other checks wait for the Space, whose messages can name the branch parameter
        self.branches = {name: dict(params) if isinstance(params, Mapping) else params
                         for name, params in branches.items()}

    def __eq__(self, other):
        return isinstance(other, Branch) and self.branches == other.branches

    __hash__ = None

    def __repr__(self):
        inner = ", ".join(f"{b!r}: {{{', '.join(f'{n!r}: {d!r}' for n, d in ps.items())}}}"
                          for b, ps in self.branches.items())
        return f"Branch({{{inner}}})"


def _where(condition):
    return "" if condition is None else f" in branch {condition[0]}={condition[1]!r}"


def _flatten(mapping, condition, dists, conditions, branch_params):
    """Add ``mapping``'s parameters (active under ``condition``: ``(parent, branch)`` or None)."""
    for name, spec in mapping.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"parameter names must be non-empty strings, got {name!r}{_where(condition)}")
        if isinstance(spec, Branch):
            _check_branch(name, spec, condition)
            dist = Choice(list(spec.branches))
        elif isinstance(spec, Mapping) and not isinstance(spec, Distribution):
            raise TypeError(f"parameter {name!r}{_where(condition)}: a dict of branches needs Branch(...), "
                            f"e.g. {name!r}: Branch({{'a': {{}}, 'b': {{...}}}})")
        else:
            try:
                dist = _as_distribution(name, spec, _where(condition))
            except ValueError as exc:
                raise ValueError(f"{exc}{_where(condition)}") from None
        if name in dists:
            _merge(name, dist, condition, dists, conditions, branch_params, isinstance(spec, Branch))
            continue
        dists[name] = dist
        if condition is not None:
            conditions[name] = (condition[0], (condition[1],))
        if isinstance(spec, Branch):
            branch_params.append(name)
            for branch, params in spec.branches.items():
                _flatten(params, (name, branch), dists, conditions, branch_params)


def _check_branch(name, branch, condition):
    if not branch.branches:
        raise ValueError(f"{name}{_where(condition)}: Branch needs at least one branch, got an empty dict")
    for b, params in branch.branches.items():
        if not isinstance(b, str) or not b:
            raise ValueError(f"{name}{_where(condition)}: branch names must be non-empty strings, got {b!r} "
                             f"({type(b).__name__})")
        if not isinstance(params, Mapping):
            raise ValueError(f"{name}{_where(condition)}: branch {b!r} must be a dict of parameter names to "
                             f"distributions ({{}} for none), got {params!r}")


def _merge(name, dist, condition, dists, conditions, branch_params, is_branch):
    """``name`` seen again: one parameter active in several branches of one branch parameter."""
    old = conditions.get(name)
    if old is None or condition is None:
        where = _where(condition) or _where((old[0], old[1][0]))
        raise ValueError(f"parameter {name!r} is defined both outside the branches and{where}; "
                         f"define it once")
    if old[0] != condition[0]:
        raise ValueError(f"parameter {name!r} is defined in branch {old[0]}={old[1][0]!r} and in branch "
                         f"{condition[0]}={condition[1]!r}; a parameter belongs to branches of one parameter")
    if is_branch or name in branch_params:
        raise ValueError(f"branch parameter {name!r} is defined in branches {old[0]}={old[1][0]!r} and "
                         f"{condition[0]}={condition[1]!r}; give each a name of its own")
    if dists[name] != dist:
        raise ValueError(f"parameter {name!r} is defined in branch {old[0]}={old[1][0]!r} as {dists[name]!r} "
                         f"and in branch {condition[0]}={condition[1]!r} as {dist!r}; give it one distribution "
                         f"or two names")
    conditions[name] = (old[0], old[1] + (condition[1],))


def branch_key(alternatives):
    """The branch parameter of a list of alternative spaces (dicts of name -> distribution): the
    first parameter every alternative fixes to a string of its own (scikit-learn's
    ``{"kernel": ["linear"]}``), as ``(name, [its string in each alternative])``; None when no
    parameter tells them apart (the Space then branches on :data:`ALTERNATIVE`)."""
    def fixed_string(dist):
        if isinstance(dist, Fixed) and isinstance(dist.value, str):
            return dist.value
        if isinstance(dist, Choice) and len(dist) == 1 and isinstance(dist.values[0], str):
            return dist.values[0]
        return None

    first = alternatives[0]
    for name in first:
        values = [fixed_string(alt[name]) if name in alt else None for alt in alternatives]
        if all(v is not None and v for v in values) and len(set(values)) == len(values):
            return name, values
    return None


def _from_alternatives(alternatives):
    """A list of alternative spaces as one mapping with a Branch (see :class:`Space`)."""
    if not alternatives:
        raise ValueError("Space needs at least one alternative, got an empty list")
    for i, alt in enumerate(alternatives):
        if isinstance(alt, Space):
            alternatives[i] = alt.nested()
        elif not isinstance(alt, Mapping):
            raise TypeError(f"alternative {i} of the space must be a dict of parameter names to distributions, "
                            f"got {alt!r}")
    key = branch_key(alternatives)
    if key is not None:
        name, branch_names = key
        branches = {b: {n: d for n, d in alt.items() if n != name} for b, alt in zip(branch_names, alternatives)}
    else:
        name = ALTERNATIVE
        for i, alt in enumerate(alternatives):
            if name in alt:
                raise ValueError(f"alternative {i} of the space has a parameter {name!r}, the name that tells "
                                 f"alternatives apart; fix one string parameter per alternative instead")
        branches = {str(i): dict(alt) for i, alt in enumerate(alternatives)}
    return {name: Branch(branches)}


class Space(Mapping):
    """Ordered (insertion order), immutable mapping ``name -> distribution``.

    Args:
        mapping: a dict (or Mapping, or Space) of parameter names to distributions or
            :class:`Branch` objects. Objects with an ``rvs`` method (scipy.stats frozen
            distributions) are wrapped in :class:`~hpsearch.distributions.ScipyDistribution`.
            A list of such dicts is a list of alternative spaces (scikit-learn's list of
            ``param_distributions``): one Branch whose branch parameter is the parameter every
            alternative fixes to a string of its own (``{"kernel": Fixed("rbf"), ...}``), or
            else :data:`ALTERNATIVE` (branches ``"0"``, ``"1"``, ...).

    The mapping holds every parameter, branch parameters as a Choice of their branch
    names, in the order first given (a branch parameter's own parameters right after it).

    Raises:
        TypeError: a name that is not a non-empty string, or a value that is not a distribution.
        ValueError: an empty space or list, a bad Branch, or a parameter given twice with
            different distributions (the message names the parameter and the branches).
    """

    def __init__(self, mapping):
        if isinstance(mapping, Space):
            self._set(dict(mapping._dists), dict(mapping._conditions), list(mapping._branch_params))
            return
        if isinstance(mapping, (list, tuple)):
            mapping = _from_alternatives(list(mapping))
        elif not isinstance(mapping, Mapping):
            raise TypeError(f"Space needs a dict of parameter names to distributions (or a list of them), "
                            f"got {mapping!r}")
        if not mapping:
            raise ValueError("Space needs at least one parameter, got an empty dict")
        dists, conditions, branch_params = {}, {}, []
        for name, spec in mapping.items():
            _flatten({name: spec}, None, dists, conditions, branch_params)
        self._set(dists, conditions, branch_params)

    def _set(self, dists, conditions, branch_params):
        self._dists = dists
        self._conditions = conditions
        self._branch_params = tuple(branch_params)
        self._dims = tuple(n for n, d in dists.items() if not isinstance(d, Fixed))

    # -- Mapping ---------------------------------------------------------------------------
    def __getitem__(self, name):
        return self._dists[name]

    def __iter__(self):
        return iter(self._dists)

    def __len__(self):
        return len(self._dists)

    def __eq__(self, other):
        if not isinstance(other, Space):
            return NotImplemented
        return list(self._dists.items()) == list(other._dists.items()) and self._conditions == other._conditions

    def __hash__(self):
        return hash((tuple(self._dists.items()), tuple(sorted(self._conditions.items()))))

    def __repr__(self):
        inner = ", ".join(f"{name!r}: {dist!r}" for name, dist in self.nested().items())
        return f"Space({{{inner}}})"

    # -- shape -----------------------------------------------------------------------------
    @property
    def names(self):
        """All parameter names, in order (tuple)."""
        return tuple(self._dists)

    @property
    def dims(self):
        """Names of the non-Fixed parameters: the axes of the unit cube, in order (tuple)."""
        return self._dims

    # -- branches --------------------------------------------------------------------------
    @property
    def is_conditional(self):
        """True if the space has a :class:`Branch`."""
        return bool(self._branch_params)

    @property
    def branches(self):
        """``{branch parameter: (branch names...)}`` in space order (empty without branches)."""
        return {name: tuple(self._dists[name].values) for name in self._branch_params}

    @property
    def conditions(self):
        """``{parameter: (branch parameter, (branch names...))}`` for each parameter that exists
        only in some branches (it is active when the branch parameter is active and takes one
        of those names)."""
        return dict(self._conditions)

    def is_active(self, name, params):
        """True if parameter ``name`` exists in a trial whose (branch) values are ``params``."""
        condition = self._conditions.get(name)
        if condition is None:
            return True
        parent, values = condition
        return parent in params and params[parent] in values and self.is_active(parent, params)

    def active(self, params):
        """``params`` without the parameters that its branches leave out, in space order."""
        out = {}
        for name in self._dists:
            if name in params and self.is_active(name, out):
                out[name] = params[name]
        return out

    def alternatives(self):
        """Every combination of branches as a flat space: a list of ``(choice, Space)`` where
        ``choice`` is ``{branch parameter: branch name}`` and the Space holds the parameters active
        under it (branch parameters as Fixed). ``[({}, self)]`` without branches."""
        if not self._branch_params:
            return [({}, self)]
        out = [({}, {})]
        for name, dist in self._dists.items():
            grown = []
            for choice, dists in out:
                if not self.is_active(name, choice):
                    grown.append((choice, dists))
                elif name in self._branch_params:
                    grown.extend(({**choice, name: b}, {**dists, name: Fixed(b)}) for b in dist.values)
                else:
                    grown.append((choice, {**dists, name: dist}))
            out = grown
        return [(choice, Space(dists)) for choice, dists in out]

    def contexts(self):
        """The parameters grouped by where they exist, for per-parameter statistics.

        Returns:
            list of ``(names, Space)``: ``names`` (a tuple) are the parameters active under one
            condition (first the unconditional ones, then each branch's, in space order); the
            flat Space holds them and every parameter active whenever they are (the ones
            outside the branches, and the branch parameters above them). Without branches:
            ``[(names, self)]``. A trial has ``names`` exactly when the condition holds.
        """
        if not self._branch_params:
            return [(self.names, self)]
        groups = {}
        for name in self._dists:
            groups.setdefault(self._conditions.get(name), []).append(name)
        out = []
        for condition, names in groups.items():
            chain = self._chain(condition)
            implied = [n for n in self._dists if n in names or self._implied(n, chain)]
            out.append((tuple(names), Space({n: self._dists[n] for n in implied})))
        return out

    def trials_by_context(self, params, values):
        """Per-parameter statistics' inputs: for each of :meth:`contexts`, the trials that have
        its parameters.

        Args:
            params: list of trials' parameter dicts; values: one value per trial (same order).

        Returns:
            list of ``(names, Space, params, values)`` (params restricted to the Space's
            parameters); without branches one entry holding all trials. An edge test or a
            narrowing run on each entry sees a parameter only over the trials where it exists,
            next to the parameters those trials all share.
        """
        params, values = list(params), list(values)
        out = []
        for names, sub in self.contexts():
            rows = [i for i, p in enumerate(params) if self.is_active(names[0], p)]  # one condition per context
            out.append((names, sub, [{n: params[i][n] for n in sub if n in params[i]} for i in rows],
                        [values[i] for i in rows]))
        return out

    def _chain(self, condition):
        """``{branch parameter: allowed names}`` along ``condition`` and its ancestors."""
        chain = {}
        while condition is not None:
            parent, values = condition
            chain[parent] = set(values)
            condition = self._conditions.get(parent)
        return chain

    def _implied(self, name, chain):
        condition = self._conditions.get(name)
        if condition is None:
            return True
        parent, values = condition
        return parent in chain and chain[parent] <= set(values) and self._implied(parent, chain)

    def nested(self):
        """The space as given: ``{name: distribution or Branch}`` (a dict; ``Space(nested())``
        rebuilds it). A parameter shared by several branches appears in each of them."""
        return self._level(None)

    def _level(self, where):
        """The parameters directly under ``where`` (``(branch parameter, branch)``, or None for the
        top level), branch parameters as Branch objects of their own levels."""
        out = {}
        for name, dist in self._dists.items():
            condition = self._conditions.get(name)
            if where is None and condition is not None:
                continue
            if where is not None and (condition is None or condition[0] != where[0] or where[1] not in condition[1]):
                continue
            out[name] = Branch({b: self._level((name, b)) for b in dist.values}) \
                if name in self._branch_params else dist
        return out

    # -- unit cube -------------------------------------------------------------------------
    def from_unit(self, u):
        """The parameter dict at point ``u`` of the unit cube.

        Args:
            u: array-like of shape ``(len(dims),)``; entries outside [0, 1] extrapolate
                (clipped to each distribution's ``bounds``). A branch parameter's coordinate
                picks the branch; the coordinates of the branches not taken are unused.

        Returns:
            dict name -> plain value for every active parameter (Fixed ones included), in space order.
        """
        u = np.asarray(u, dtype=float).reshape(-1)
        if u.shape != (len(self._dims),):
            raise ValueError(f"from_unit needs a point of shape ({len(self._dims)},) for dims "
                             f"{list(self._dims)}, got shape {np.shape(u)}")
        coords = dict(zip(self._dims, u.tolist()))
        out = {}
        for name, dist in self._dists.items():
            if self._conditions and not self.is_active(name, out):
                continue
            out[name] = dist.value if isinstance(dist, Fixed) else dist.from_unit(coords[name])
        return out

    def to_unit(self, params):
        """The unit-cube point of a parameter dict: ndarray of shape ``(len(dims),)``; NaN for the
        parameters its branches leave out.

        Raises:
            ValueError: an active dimension missing from ``params``, or a value a Choice does not hold.
        """
        out = np.empty(len(self._dims))
        for i, name in enumerate(self._dims):
            if not self.is_active(name, params):
                out[i] = np.nan
                continue
            if name not in params:
                raise ValueError(f"params are missing {name!r}; expected {list(self._dims)}")
            try:
                out[i] = self._dists[name].to_unit(params[name])
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return out

    # -- derived spaces --------------------------------------------------------------------
    def replace(self, mapping=None, **dists):
        """A new Space with some distributions replaced (same names, same order).

        A branch parameter takes a Choice of some of its branch names: the branches left out
        go, with their parameters.

        Args:
            mapping: optional dict of replacements (for names that are not identifiers).
            **dists: replacements by name.

        Raises:
            ValueError: a name that is not in the space, or a branch parameter replaced by
                anything but a Choice of its branch names.
        """
        new = dict(mapping or {})
        new.update(dists)
        for name in new:
            if name not in self._dists:
                raise ValueError(f"unknown parameter {name!r}; expected one of {', '.join(self._dists)}")
        merged = {name: _as_distribution(name, new.get(name, dist)) for name, dist in self._dists.items()}
        conditions = dict(self._conditions)
        for name in self._branch_params:
            kept = merged[name]
            old = self._dists[name].values
            if not isinstance(kept, Choice) or not set(kept.values) <= set(old):
                raise ValueError(f"branch parameter {name!r} can only keep some of its branches "
                                 f"({', '.join(old)}) as a Choice, got {kept!r}")
            for child, (parent, values) in self._conditions.items():
                if parent == name:
                    conditions[child] = (parent, tuple(v for v in values if v in kept.values))
        # a parameter of no kept branch goes, and so do its own branches' parameters
        gone = set()
        for name in merged:
            condition = conditions.get(name)
            if condition is not None and (condition[0] in gone or not condition[1]):
                gone.add(name)
        space = Space.__new__(Space)
        space._set({n: d for n, d in merged.items() if n not in gone},
                   {n: c for n, c in conditions.items() if n not in gone},
                   [n for n in self._branch_params if n not in gone])
        return space

    def with_bounds(self, bounds):
        """A new Space whose numeric ranges respect ``bounds`` (``{name: (lo, hi)}``).

        Names not in the space and non-numeric parameters are ignored; ``None`` means
        no limit on that side. Hard bounds only constrain coarse-to-fine narrowing and
        the boundary flags, never the ranges the user gave.

        Raises:
            ValueError: a range that reaches outside its bounds (the message names it).
        """
        new = {}
        for name, limits in bounds.items():
            dist = self._dists.get(name)
            if dist is None or not hasattr(dist, "with_bounds"):
                continue
            try:
                new[name] = dist.with_bounds(*limits)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return self.replace(new) if new else self

    # -- serialisation ---------------------------------------------------------------------
    def to_dict(self):
        """JSON-able ``{name: distribution.to_dict()}`` in space order; a branch parameter as
        ``{"type": "branch", "branches": {branch name: {name: ...}}}``."""
        def encode(level):
            return {name: ({"type": "branch", "branches": {b: encode(ps) for b, ps in spec.branches.items()}}
                           if isinstance(spec, Branch) else spec.to_dict())
                    for name, spec in level.items()}

        return encode(self.nested())

    @classmethod
    def from_dict(cls, d):
        """The inverse of :meth:`to_dict`; errors name the parameter (``lr: ...``) and branch."""
        return cls(_decode(d, None))


def is_branch_table(spec):
    """True if a study-file table is a branch: ``{"type": "branch", "branches": {...}}``, or a
    table without ``type`` holding tables (``[space.optimizer.adam]`` sub-tables)."""
    if not isinstance(spec, Mapping):
        return False
    if "type" in spec:
        return spec["type"] == "branch"
    return any(isinstance(v, Mapping) for v in spec.values())


def _decode(d, condition):
    if not isinstance(d, Mapping):
        raise ValueError(f"a space must be a table of parameter names to distributions, got {d!r}"
                         f"{_where(condition)}")
    out = {}
    for name, spec in d.items():
        if not is_branch_table(spec):
            try:
                out[name] = distribution_from_dict(spec)
            except ValueError as exc:
                raise ValueError(f"{name}{_where(condition)}: {exc}") from None
            continue
        branches = spec.get("branches") if "type" in spec else spec
        extra = sorted(set(spec) - {"type", "branches"}) if "type" in spec else []
        if extra or not isinstance(branches, Mapping) or not branches:
            raise ValueError(f"{name}{_where(condition)}: a branch needs at least one branch, as a table of "
                             f"branch names to parameter tables, got {branches if not extra else spec!r}")
        decoded = {}
        for branch, params in branches.items():
            if not isinstance(params, Mapping):
                raise ValueError(f"{name}{_where(condition)}: branch {branch!r} must be a table of parameters "
                                 f"(empty for none), got {params!r}")
            decoded[branch] = _decode(params, (name, branch))
        try:
            out[name] = Branch(decoded)
        except ValueError as exc:
            raise ValueError(f"{name}{_where(condition)}: {exc}") from None
    return out
