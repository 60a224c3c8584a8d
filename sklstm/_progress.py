"""Progress over the epochs of a fit: tqdm's bar when installed, else a bar of our own on a
terminal, and a line per epoch (as scikit-learn's MLP prints) anywhere else."""

import sys

try:
    from tqdm.auto import tqdm
except ImportError:  # tqdm is optional
    tqdm = None

BAR_WIDTH = 24


class Progress:
    def __init__(self, verbose, n_epochs):
        self.verbose, self.n_epochs, self.done = bool(verbose), n_epochs, 0
        self.bar = None
        if self.verbose and tqdm is not None:
            self.bar = tqdm(total=n_epochs, desc="sklstm", unit="epoch", leave=False)
        self.in_place = self.verbose and self.bar is None and sys.stderr.isatty()

    def update(self, history, events=()):
        """Show the epoch ``history`` just recorded; ``events``: what the stopping rule
        did so far, in words (the latest is shown)."""
        if not self.verbose:
            return
        self.done += 1
        stats = {"loss": f"{history.loss_curve[-1]:.6g}"}
        if history.validation_scores is not None:
            stats["validation score"] = f"{history.validation_scores[-1]:.4f}"
        if events:
            stats["last change"] = events[-1]
        if self.bar is not None:
            self.bar.set_postfix(stats, refresh=False)
            self.bar.update()
            return
        text = ", ".join(f"{name} = {value}" for name, value in stats.items())
        if self.in_place:
            filled = BAR_WIDTH * self.done // self.n_epochs
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            sys.stderr.write(f"\rsklstm [{bar}] epoch {self.done}/{self.n_epochs}, {text}  ")
            sys.stderr.flush()
        else:
            print(f"Epoch {len(history.loss_curve)}, {text}")

    def summary(self, text):
        """Say how training ended, after the bar."""
        if self.verbose:
            self.close()
            print(text)

    def close(self):
        """End the bar's line; again, nothing."""
        if self.bar is not None:
            self.bar.close()
        elif self.in_place and self.done:
            sys.stderr.write("\n")
        self.bar, self.in_place = None, False
