"""Progress over the epochs of a fit: tqdm's bar when installed, else a line per epoch."""

try:
    from tqdm.auto import tqdm
except ImportError:  # tqdm is optional
    tqdm = None


class Progress:
    def __init__(self, verbose, n_epochs):
        self.bar = None
        self.verbose = bool(verbose)
        if self.verbose and tqdm is not None:
            self.bar = tqdm(total=n_epochs, desc="sklstm", unit="epoch", leave=False)

    def update(self, history):
        if not self.verbose:
            return
        stats = {"loss": f"{history.loss_curve[-1]:.6g}"}
        if history.validation_scores is not None:
            stats["validation score"] = f"{history.validation_scores[-1]:.4f}"
        if self.bar is not None:
            self.bar.set_postfix(stats, refresh=False)
            self.bar.update()
        else:
            line = ", ".join(f"{name} = {value}" for name, value in stats.items())
            print(f"Epoch {len(history.loss_curve)}, {line}")

    def close(self):
        if self.bar is not None:
            self.bar.close()
