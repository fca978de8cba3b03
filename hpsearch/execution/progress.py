"""The progress bar of a running study: trials done, epochs trained, best value so far, failures."""
from hpsearch.checks import is_better

__all__ = ["ProgressBar"]


class ProgressBar:
    """A tqdm bar over a study's trials showing the best value so far and the failures.

    Args:
        enabled: False makes every method a no-op (no tqdm import).
        total: the trials planned (grown or shrunk later with :meth:`resize`).
        metric, direction: what "best" means.
        epochs: the epochs planned (promoted trials counted once), shown beside the trials.
    """

    def __init__(self, enabled, total, metric, direction, epochs=None):
        self.bar = None
        self.metric, self.direction = metric, direction
        self.best, self.failed, self.diverged = None, 0, 0
        self.epochs, self.planned_epochs = 0, epochs
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="trial", dynamic_ncols=True)

    def resize(self, delta):
        """Change the planned total by ``delta`` trials (a grid proposes fewer than asked)."""
        if self.bar is not None and delta:
            self.bar.total += delta
            self.bar.refresh()

    def update(self, record):
        """Count one finished trial record."""
        if self.bar is None:
            return
        if record["status"] == "ok":
            value = record["metrics"].get(self.metric)
            if self.best is None or is_better(value, self.best, self.direction):
                self.best = value
        elif record["status"] == "diverged":
            self.diverged += 1
        else:
            self.failed += 1
        self.epochs += int(record.get("trial_epochs", record.get("budget") or 0))
        epochs = f"{self.epochs}" + (f"/{self.planned_epochs}" if self.planned_epochs else "")
        self.bar.set_postfix(best="-" if self.best is None else f"{self.best:.4g}", epochs=epochs,
                             failed=self.failed, diverged=self.diverged, refresh=False)
        self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()
