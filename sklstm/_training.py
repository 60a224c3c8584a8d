"""The training policy: records of each epoch, the rule that ends a training, and the
checkpoint at the end of each completed epoch.

The stopping rule is made for recurrent networks (issue 9), whose epoch losses are noisy on
small batches and whose training often crosses plateaus before it improves again:

- The monitored value is the training loss, or under early stopping the validation score.
- An epoch improves on the best so far when it beats it by ``tol`` times the first
  epoch's loss (a scale that every loss has, however small it becomes; absolute for a
  validation score, as in scikit-learn's MLP).
- After more than ``n_iter_no_change`` epochs without an improvement (a stall), the
  learning rate is divided by ``LR_DIVISOR`` (``learning_rate="adaptive"``) and training
  goes on; it stops at a stall once the rate would fall below ``MIN_LEARNING_RATE``, or at
  the first stall with ``learning_rate="constant"``.
- However it ends, ``fit`` keeps the weights of the best epoch.

Each of these was chosen by measurement (benchmarks/README.md, "Defaults").
"""

import numpy as np

# learning_rate="adaptive": the divisor of the learning rate at a stall, and its floor.
LR_DIVISOR = 5
MIN_LEARNING_RATE = 1e-6
# A training that stops with its best loss above this share of its first epoch's has
# barely learned: it says so.
UNDERFIT_SHARE = 0.5


class History:
    """Per-epoch records of a training, and its best epoch so far."""

    def __init__(self, early_stopping):
        self.loss_curve = []
        self.t = 0
        self.best_loss = np.inf
        self.validation_scores = [] if early_stopping else None
        self.best_validation_score = -np.inf if early_stopping else None
        self.best_params = None  # the weights of the best epoch
        self.best_epoch = None  # counted as loss_curve counts

    @classmethod
    def resume(cls, est, early_stopping):
        """The records of a fitted estimator, to continue them."""
        history = cls(early_stopping)
        history.loss_curve, history.t = list(est.loss_curve_), est.t_
        history.best_loss = min(history.loss_curve)
        if early_stopping and est.validation_scores_ is not None:
            history.validation_scores = list(est.validation_scores_)
            history.best_validation_score = est.best_validation_score_
        # The weights it holds are the reference: those of its best epoch after fit, of
        # its last after partial_fit.
        history.best_params = est.network_.params.copy()
        history.best_epoch = est._kept_epoch
        return history

    @property
    def monitored(self):
        """The values the stopping rule watches, lower is better."""
        if self.validation_scores is not None:
            return [-score for score in self.validation_scores]
        return self.loss_curve

    def end_epoch(self, loss, n_samples, validation_score, network):
        """Record an epoch, and its weights if it is the best so far."""
        self.loss_curve.append(loss)
        self.t += n_samples
        self.best_loss = min(self.best_loss, loss)
        if self.validation_scores is not None:
            self.validation_scores.append(validation_score)
            self.best_validation_score = max(self.best_validation_score, validation_score)
        values = self.monitored
        if self.best_epoch is None or values[-1] < values[self.best_epoch - 1]:
            if self.best_params is None:
                self.best_params = network.params.copy()
            else:
                np.copyto(self.best_params, network.params)
            self.best_epoch = len(values)

    def kept_weights(self):
        """Which epoch's weights a training that ends here leaves, in words."""
        which = "on validation" if self.validation_scores is not None else "in training loss"
        return (
            f"the weights of epoch {self.best_epoch}, the best {which} of the "
            f"{len(self.loss_curve)} completed"
        )

    def commit(self, est, kept_epoch):
        est.loss_curve_ = self.loss_curve
        est.loss_ = self.loss_curve[-1]
        # As in scikit-learn's MLP: None under early stopping, which watches validation.
        est.best_loss_ = self.best_loss if self.validation_scores is None else None
        est._kept_epoch = kept_epoch
        est.t_ = self.t
        est.validation_scores_ = self.validation_scores
        est.best_validation_score_ = self.best_validation_score


class StoppingRule:
    """Decides at each epoch's end whether training goes on, at which learning rate, or
    stops (the module's docstring gives the rule)."""

    def __init__(self, est, no_improvement=0, reference=None):
        self.tol, self.patience = est.tol, est.n_iter_no_change
        self.adaptive = est.learning_rate == "adaptive"
        self.no_improvement = no_improvement
        self.reference = reference  # the monitored value of the last improvement
        self.events = []  # what the rule did, in words, for the progress display

    @classmethod
    def resume(cls, est):
        """The rule as the estimator's last training left it."""
        return cls(est, est._no_improvement_count, est._stall_reference)

    def end_epoch(self, history, optimizer):
        """Act on the epoch ``history`` just recorded; return why training stops, or None."""
        value = history.monitored[-1]
        margin = self.tol * (
            1.0 if history.validation_scores is not None else history.loss_curve[0]
        )
        if self.reference is None or value < self.reference - margin:
            self.reference, self.no_improvement = value, 0
            return None
        self.no_improvement += 1
        if self.no_improvement <= self.patience:  # counted as scikit-learn's MLP counts
            return None
        what = "validation score" if history.validation_scores is not None else "training loss"
        stall = (
            f"the {what} did not improve by tol={self.tol} (times the first epoch's loss) "
            f"for n_iter_no_change={self.patience} epochs"
        )
        if self.adaptive and optimizer.learning_rate / LR_DIVISOR >= MIN_LEARNING_RATE:
            optimizer.learning_rate /= LR_DIVISOR
            self.no_improvement = 0
            self.events.append(
                f"epoch {len(history.loss_curve)}: learning rate lowered to "
                f"{optimizer.learning_rate:.3g}"
            )
            return None
        if self.adaptive:
            stall += f", at the lowest learning rate, {optimizer.learning_rate:.3g}"
        return stall

    def commit(self, est):
        est._no_improvement_count = self.no_improvement
        est._stall_reference = self.reference


def underfit(history):
    """Whether a training's best loss is still high against its first epoch's."""
    return history.best_loss > UNDERFIT_SHARE * history.loss_curve[0]


class Checkpoint:
    """Weights, optimizer state, records and rule as the last completed epoch left them, in
    buffers allocated once: training that diverges or is interrupted goes back to it."""

    def __init__(self, network, optimizer, history, rule):
        self.network, self.optimizer, self.history, self.rule = network, optimizer, history, rule
        self.params = network.params.copy()
        self.arrays = [getattr(optimizer, name).copy() for name in optimizer.ARRAYS]
        self.save()

    def save(self):
        np.copyto(self.params, self.network.params)
        for name, saved in zip(self.optimizer.ARRAYS, self.arrays, strict=True):
            np.copyto(saved, getattr(self.optimizer, name))
        self.scalars = {name: getattr(self.optimizer, name) for name in self.optimizer.SCALARS}
        self.records = _copied(vars(self.history))
        self.rule_state = (self.rule.no_improvement, self.rule.reference, len(self.rule.events))

    def restore(self):
        np.copyto(self.network.params, self.params)
        for name, saved in zip(self.optimizer.ARRAYS, self.arrays, strict=True):
            np.copyto(getattr(self.optimizer, name), saved)
        for name, value in self.scalars.items():
            setattr(self.optimizer, name, value)
        vars(self.history).update(_copied(self.records))
        self.rule.no_improvement, self.rule.reference, n_events = self.rule_state
        del self.rule.events[n_events:]


def _copied(records):
    """The records with their lists and arrays copied: a checkpoint shares none with the
    history that goes on changing them."""
    return {
        name: value.copy() if isinstance(value, (list, np.ndarray)) else value
        for name, value in records.items()
    }
