"""Scoring of per-step predictions: each step a sample.

scikit-learn's scorers compare ``y`` with ``predict(X)`` as they are; a step estimator's
are per sequence (a list of per-step arrays, or an (n, T, ...) array), which they do not
flatten. ``GridSearchCV``'s and ``cross_val_score``'s default, ``scoring=None``, calls the
estimator's own ``score`` (accuracy, R^2 over all steps) and works; for any other metric,
``per_step_scorer`` flattens y, the predictions and the weights to one entry per step.
"""

import numpy as np

from ._steps import flatten_steps, step_weights

__all__ = ["per_step_scorer"]


def per_step_scorer(score_func, *, response_method="predict", greater_is_better=True, **kwargs):
    """A scorer for step estimators: ``score_func`` over all steps, each step a sample.

    Parameters
    ----------
    score_func : callable
        A metric ``score_func(y_true, y_pred, **kwargs)`` of scikit-learn's kind
        (``sklearn.metrics.f1_score``, ``mean_absolute_error``...).
    response_method : {"predict", "predict_proba", "predict_log_proba"}, default="predict"
        The estimator's method whose per-step output the metric reads.
    greater_is_better : bool, default=True
        Whether higher is better (False for a loss: the scorer negates it, as
        scikit-learn's ``make_scorer`` does).
    **kwargs
        Further arguments of ``score_func``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, sample_weight=None)``, for ``scoring=`` of
        ``GridSearchCV``, ``cross_val_score`` and the like. y holds one target per step of
        each sequence of X (as ``fit`` takes it); the targets of padding steps are left
        out, as the predictions are. ``sample_weight``, per sequence or per step, as
        ``fit`` takes it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.metrics import f1_score
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklstm import LSTMStepClassifier
    >>> from sklstm.metrics import per_step_scorer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(40, 10, 1))
    >>> y = (X[:, :, 0] > 0).astype(int)
    >>> clf = LSTMStepClassifier(hidden_layer_sizes=4, max_iter=5, random_state=0)
    >>> scores = cross_val_score(clf, X, y, cv=2, scoring=per_step_scorer(f1_score))
    >>> scores.shape
    (2,)
    """

    if response_method not in ("predict", "predict_proba", "predict_log_proba"):
        raise ValueError(
            f"response_method must be 'predict', 'predict_proba' or 'predict_log_proba'; "
            f"got {response_method!r}."
        )
    return _PerStepScorer(score_func, response_method, 1 if greater_is_better else -1, kwargs)


class _PerStepScorer:
    """``per_step_scorer``'s scorer: a class (not a closure) so that it pickles, as
    parallel searches need."""

    def __init__(self, score_func, response_method, sign, kwargs):
        self.score_func, self.response_method = score_func, response_method
        self.sign, self.kwargs = sign, kwargs

    def __repr__(self):
        return f"per_step_scorer({self.score_func.__name__}, {self.response_method!r})"

    def __call__(self, estimator, X, y, sample_weight=None):
        y_pred = getattr(estimator, self.response_method)(X)
        given = np.array([len(y_i) for y_i in y])
        lengths = np.array([len(p) for p in y_pred])
        score = self.score_func(
            flatten_steps(y, given, lengths),
            np.concatenate(list(y_pred)),
            sample_weight=step_weights(sample_weight, given, lengths),
            **self.kwargs,
        )
        return self.sign * score
