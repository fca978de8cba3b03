"""A scikit-learn problem for the multi-fidelity benchmark: ``SGDClassifier`` on digits, one
``partial_fit`` pass per epoch (the budget), no checkpoints (a promoted trial trains again).

It follows hpsearch's objective protocol (``objective(params, budget, seed, report=None,
final=False) -> metrics``); the digits split (60/20/20, stratified, data seed 0) and the
standardisation (fitted on train only) are fixed, so only ``seed`` changes between runs.
"""
import numpy as np

__all__ = ["SGDDigits"]

_DATA = {}   # per process: the split, loaded once


def _data():
    if "digits" not in _DATA:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        x, y = load_digits(return_X_y=True)
        x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
        x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.25, stratify=y_rest,
                                                          random_state=0)
        scaler = StandardScaler().fit(x_train)
        _DATA["digits"] = tuple(a if a.dtype.kind == "i" else scaler.transform(a)
                                for a in (x_train, y_train, x_val, y_val, x_test, y_test))
    return _DATA["digits"]


class SGDDigits:
    """``SGDClassifier(loss, alpha, learning_rate, eta0)`` trained ``budget`` passes over digits.

    Returns ``val_acc`` (best over the passes, as the MLP objective reports it), ``val_acc_last``,
    ``status`` ("diverged" when the weights are not finite) and with ``final=True`` ``test_acc``
    (of the last pass).
    """

    def __call__(self, params, budget, seed, report=None, final=False):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import SGDClassifier

        x_train, y_train, x_val, y_val, x_test, y_test = _data()
        model = SGDClassifier(loss=params["loss"], alpha=params["alpha"], learning_rate=params["learning_rate"],
                              eta0=params["eta0"], random_state=int(seed) % 2**32, shuffle=True)
        classes = np.arange(10)
        best = 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (ConvergenceWarning, RuntimeWarning))
            for epoch in range(1, int(budget) + 1):
                model.partial_fit(x_train, y_train, classes=classes)
                if not np.all(np.isfinite(model.coef_)):
                    return {"val_acc": float("nan"), "status": "diverged"}
                acc = float(model.score(x_val, y_val))
                best = max(best, acc)
                if report is not None:
                    report(epoch, {"val_acc": acc})
        out = {"val_acc": best, "val_acc_last": acc, "status": "ok"}
        if final:
            out["test_acc"] = float(model.score(x_test, y_test))
        return out

    def get_params(self):
        return {"estimator": "SGDClassifier", "dataset": "digits", "split": "60/20/20 stratified, seed 0"}
