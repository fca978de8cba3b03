"""Data preprocessing from the lecture: none, center, standardize, pca, whiten.

A preprocessor is fitted on the **training split only** and then applied
unchanged to validation and test data. Fitting on all the data (or on each
split separately) leaks information from the evaluation data into training:
the lecture's "common mistake"::

    pre = make_preprocessor("whiten", n_components=32).fit(X_train)
    X_train, X_val = pre.transform(X_train), pre.transform(X_val)

Statistics are computed in float64; ``transform`` returns the input's dtype.
"""
import numpy as np

from models._checks import is_int

__all__ = ["Preprocessor", "NoPreprocessing", "Center", "Standardize", "PCA", "Whiten",
           "PREPROCESSORS", "make_preprocessor", "preprocessor_keywords"]


def _check_2d(X, what="X"):
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{what} must be a non-empty 2-D array (n_samples, n_features), got shape {X.shape}")
    return X


class Preprocessor:
    """Base class: ``fit(X_train) -> self``, ``transform(X) -> X'``, ``fit_transform``."""

    name = None

    def fit(self, X):
        """Learn the statistics from X (n_samples, n_features), the training split. Returns self."""
        X = _check_2d(X)
        self.n_features_in_ = X.shape[1]
        self._fit(X)
        return self

    def transform(self, X):
        """Apply the fitted statistics to X (n, n_features_in_) -> (n, n_features_out_), same dtype."""
        if not hasattr(self, "n_features_in_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(X_train) first")
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"{type(self).__name__} was fitted on {self.n_features_in_} features, "
                             f"got an array of shape {X.shape}")
        return self._transform(X)

    def fit_transform(self, X):
        """``fit(X).transform(X)``."""
        return self.fit(X).transform(X)

    def _fit(self, X):
        pass

    def _transform(self, X):
        return X

    @property
    def n_features_out_(self):
        return self.n_features_in_

    def __repr__(self):
        return f"{type(self).__name__}()"


class NoPreprocessing(Preprocessor):
    """``none``: the data unchanged (no copy)."""

    name = "none"


class Center(Preprocessor):
    """``center``: subtract the training mean of every feature (``mean_``, shape (D,))."""

    name = "center"

    def _fit(self, X):
        self.mean_ = X.mean(axis=0, dtype=np.float64)

    def _transform(self, X):
        out = X - self.mean_.astype(X.dtype, copy=False)
        return out


class Standardize(Center):
    """``standardize``: zero mean and unit variance per feature, from the training split.

    Features constant on the training split (e.g. the always-blank corner pixels of
    digits) keep scale 1 so they become 0 instead of NaN.
    """

    name = "standardize"

    def _fit(self, X):
        super()._fit(X)
        std = X.std(axis=0, dtype=np.float64)
        std[std == 0.0] = 1.0
        self.scale_ = std

    def _transform(self, X):
        out = X - self.mean_.astype(X.dtype, copy=False)
        out /= self.scale_.astype(X.dtype, copy=False)
        return out


class PCA(Center):
    """``pca``: center, then rotate onto the principal axes of the training data.

    Args:
        n_components: keep the top-k components (dimensionality reduction); None keeps
            all of them (a pure rotation that decorrelates the features).

    Attributes after fit: ``mean_`` (D,), ``components_`` (D, k) with orthonormal columns
    sorted by decreasing variance, ``explained_variance_`` (k,).
    """

    name = "pca"

    def __init__(self, n_components=None):
        if n_components is not None and (not is_int(n_components) or n_components < 1):
            raise ValueError(f"n_components must be a positive integer or None, got {n_components!r}")
        self.n_components = None if n_components is None else int(n_components)

    def _fit(self, X):
        super()._fit(X)
        D = X.shape[1]
        k = D if self.n_components is None else self.n_components
        if k > D:
            raise ValueError(f"n_components={k} exceeds the number of features ({D})")
        Xc = X.astype(np.float64) - self.mean_
        cov = Xc.T @ Xc / X.shape[0]
        eigval, eigvec = np.linalg.eigh(cov)           # ascending
        order = np.argsort(eigval)[::-1][:k]
        eigval = np.clip(eigval[order], 0.0, None)      # round-off can make tiny ones negative
        eigvec = eigvec[:, order]
        # eigenvectors have arbitrary signs: fix them so results do not depend on the LAPACK build
        signs = np.sign(eigvec[np.argmax(np.abs(eigvec), axis=0), np.arange(k)])
        signs[signs == 0] = 1.0
        self.components_ = eigvec * signs
        self.explained_variance_ = eigval

    def _projection(self):
        return self.components_

    def _transform(self, X):
        centered = X - self.mean_.astype(X.dtype, copy=False)
        return centered @ self._projection().astype(X.dtype, copy=False)

    @property
    def n_features_out_(self):
        return self.components_.shape[1]

    def __repr__(self):
        return f"{type(self).__name__}(n_components={self.n_components!r})"


class Whiten(PCA):
    """``whiten``: PCA, then divide every component by ``sqrt(variance + eps)``.

    The whitened training data has (almost exactly) identity covariance; ``eps``
    keeps near-zero-variance directions from being blown up into noise.

    Args:
        n_components: as for :class:`PCA`.
        eps: added to each component's variance (> 0, default 1e-5 as in the lecture notes).
    """

    name = "whiten"

    def __init__(self, n_components=None, eps=1e-5):
        super().__init__(n_components)
        if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)) \
                or not np.isfinite(eps) or eps <= 0:
            raise ValueError(f"eps must be a positive finite number, got {eps!r}")
        self.eps = float(eps)

    def _fit(self, X):
        super()._fit(X)
        self.whitening_ = self.components_ / np.sqrt(self.explained_variance_ + self.eps)

    def _projection(self):
        return self.whitening_

    def __repr__(self):
        return f"Whiten(n_components={self.n_components!r}, eps={self.eps!r})"


PREPROCESSORS = {
    "none": NoPreprocessing,
    "center": Center,
    "standardize": Standardize,
    "pca": PCA,
    "whiten": Whiten,
}

_KEYWORDS = {"none": (), "center": (), "standardize": (), "pca": ("n_components",), "whiten": ("n_components", "eps")}


def preprocessor_keywords(name):
    """The options preprocessor ``name`` accepts."""
    _check_name(name)
    return _KEYWORDS[name]


def _check_name(name):
    if not isinstance(name, str) or name not in PREPROCESSORS:
        raise ValueError(f"unknown preprocess {name!r}; expected one of {', '.join(PREPROCESSORS)}")


def make_preprocessor(name, **options):
    """An unfitted preprocessor by name.

    Args:
        name: one of ``PREPROCESSORS`` (none, center, standardize, pca, whiten).
        **options: ``n_components`` (pca, whiten), ``eps`` (whiten). ``n_components=None``
            is accepted (and ignored) by every preprocessor so a search can pass it always.

    Raises:
        ValueError: unknown name or option, invalid value.
    """
    _check_name(name)
    valid = _KEYWORDS[name]
    for key, value in options.items():
        if key not in valid and not (key == "n_components" and value is None):
            raise ValueError(f"unknown option {key!r} for preprocess {name!r}; "
                             f"expected {', '.join(valid) if valid else 'no options'}")
    return PREPROCESSORS[name](**{k: v for k, v in options.items() if k in valid})
