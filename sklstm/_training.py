"""The records of a training and its checkpoint at the end of each completed epoch."""

import numpy as np


class History:
    """Per-epoch records of a training, and the stall rule of scikit-learn's MLP."""

    def __init__(self, early_stopping):
        self.loss_curve = []
        self.t = 0
        self.no_improvement = 0
        # The stall rule's reference: the training loss, or under early stopping the
        # validation score (and the weights that scored best).
        self.best_loss = None if early_stopping else np.inf
        self.validation_scores = [] if early_stopping else None
        self.best_validation_score = -np.inf if early_stopping else None
        self.best_params = None
        self.best_epoch = None  # the epoch of best_params, counted as loss_curve counts

    @classmethod
    def resume(cls, est, early_stopping):
        """The records of a fitted estimator, to continue them."""
        history = cls(early_stopping)
        history.loss_curve, history.t = list(est.loss_curve_), est.t_
        if early_stopping and est.validation_scores_ is not None:
            history.validation_scores = list(est.validation_scores_)
            history.best_validation_score = est.best_validation_score_
            # The previous fit ended on its best epoch's weights.
            history.best_params = est.network_.params.copy()
            history.best_epoch = int(np.argmax(history.validation_scores)) + 1
        if not early_stopping and est.best_loss_ is not None:
            history.best_loss = est.best_loss_
            history.no_improvement = est._no_improvement_count
        return history

    def end_epoch(self, loss, n_samples, validation_score, network, tol):
        """Record an epoch; return the stall count."""
        self.loss_curve.append(loss)
        self.t += n_samples
        if self.validation_scores is not None:
            self.validation_scores.append(validation_score)
            improved = validation_score >= self.best_validation_score + tol
            if validation_score > self.best_validation_score:
                self.best_validation_score = validation_score
                self.best_params = network.params.copy()
                self.best_epoch = len(self.loss_curve)
        else:
            improved = loss <= self.best_loss - tol
            self.best_loss = min(self.best_loss, loss)
        self.no_improvement = 0 if improved else self.no_improvement + 1
        return self.no_improvement

    def kept_weights(self):
        """Which epoch's weights a training that stops here leaves, in words."""
        if self.best_params is not None:
            return (
                f"the weights of epoch {self.best_epoch}, the best on validation of the "
                f"{len(self.loss_curve)} completed"
            )
        return f"the weights of epoch {len(self.loss_curve)}, the last one completed"

    def commit(self, est):
        est.loss_curve_ = self.loss_curve
        est.loss_ = self.loss_curve[-1]
        est.best_loss_ = self.best_loss
        est.t_ = self.t
        est._no_improvement_count = self.no_improvement
        est.validation_scores_ = self.validation_scores
        est.best_validation_score_ = self.best_validation_score


class Checkpoint:
    """Weights, optimizer state and records as the last completed epoch left them, in
    buffers allocated once: training that diverges or is interrupted goes back to it."""

    def __init__(self, network, optimizer, history):
        self.network, self.optimizer, self.history = network, optimizer, history
        self.params = network.params.copy()
        self.arrays = [getattr(optimizer, name).copy() for name in optimizer.ARRAYS]
        self.save()

    def save(self):
        np.copyto(self.params, self.network.params)
        for name, saved in zip(self.optimizer.ARRAYS, self.arrays, strict=True):
            np.copyto(saved, getattr(self.optimizer, name))
        self.scalars = {name: getattr(self.optimizer, name) for name in self.optimizer.SCALARS}
        self.records = {
            name: list(value) if isinstance(value, list) else value
            for name, value in vars(self.history).items()
        }

    def restore(self):
        np.copyto(self.network.params, self.params)
        for name, saved in zip(self.optimizer.ARRAYS, self.arrays, strict=True):
            np.copyto(getattr(self.optimizer, name), saved)
        for name, value in self.scalars.items():
            setattr(self.optimizer, name, value)
        vars(self.history).update(self.records)
