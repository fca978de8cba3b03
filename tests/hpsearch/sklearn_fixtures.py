"""Estimators the scikit-learn front-end tests share (kept apart from study_fixtures, which does
not import scikit-learn)."""
from sklearn.svm import SVC


class InterruptingSVC(SVC):
    """An SVC whose fit presses Ctrl-C once, when a shared countdown reaches zero."""

    countdown = [None]

    def fit(self, X, y, sample_weight=None):
        if self.countdown[0] is not None:
            self.countdown[0] -= 1
            if self.countdown[0] == 0:
                self.countdown[0] = None
                raise KeyboardInterrupt
        return super().fit(X, y, sample_weight=sample_weight)
