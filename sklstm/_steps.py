"""The per-step estimators: one target and one output per time step (sequence labelling,
sequence-to-sequence regression).

Design. A step estimator is its sequence estimator (``LSTMClassifier``, ``LSTMRegressor``:
their parameters, validation, training loop, losses, early stopping, partial_fit,
warm_start, class and sample weights, dtypes) on a network whose readout keeps every step
(``_readouts.Steps``): the head applies to each packed row, so the loss is over packed
rows and padding never enters. Only the layout of the targets differs, through the hooks
of ``_BaseLSTM`` ("Targets"): y is flattened to one entry per step, the sequences one after
another (as ``Sequences.data`` holds their steps), and each packed batch gathers its rows'
targets (``_sequences.packed_rows``). Every step is then a sample to the losses, the
label encoding, the target standardisation, class weights and scores: losses are means
over steps, scores (accuracy, R^2) are over all steps.

Causality: a unidirectional network's output at step t reads the steps up to t only (the
recurrence runs forward; nothing of later steps reaches it); a bidirectional one reads the
whole sequence (non-causal tagging).

The ``readout`` parameter does not apply: it is not a parameter of the step estimators.

Targets (``flatten_steps``): y holds one target per step of X as given: a list of 1-D
(labels, single outputs) or 2-D (n_steps_i, n_outputs) arrays, or an array (n, T) or
(n, T, n_outputs). Steps that X's padding drops (trailing NaN, or ``padding_value``) drop
their targets too, whatever they hold. ``sample_weight`` is per sequence (a 1-D array of
n_samples numbers: each step weighs as its sequence) or per step (y's layout).

Outputs (``per_sequence``): a list of per-sequence arrays for a list X, an array (n, T,
...) for an array X whose sequences all keep their T steps, and a list when an array's
sequences are padded (they have different lengths: no value is invented for padding).
"""

import numpy as np
from sklearn.base import is_classifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.validation import _check_sample_weight

from ._estimators import (
    _DEFAULTS,
    LSTMClassifier,
    LSTMRegressor,
    _document,
    _parameters,
    _parameters_init,
)
from ._sequences import packed_rows, sequence_rows, step_starts

# The step estimators' parameters: the sequence estimators' but the readout.
_STEP_DEFAULTS = {name: value for name, value in _DEFAULTS.items() if name != "readout"}


def given_lengths(X, n):
    """The number of steps of each sequence of X as given, padding included."""
    if isinstance(X, (list, tuple)):
        return np.array([len(x) for x in X], dtype=np.intp)
    return np.full(n, np.shape(X)[1], dtype=np.intp)


def flatten_steps(y, given, lengths, name="y"):
    """The per-step entries of ``y`` (one sequence's per entry, ``given`` steps each) of
    the first ``lengths`` steps of each sequence, one sequence after another."""
    alternative = {
        "y": "one target per step (for one per sequence, use LSTMClassifier or LSTMRegressor)",
        "sample_weight": "one weight per step, or one per sequence in a 1-D array",
    }[name]
    parts = []
    for i, (y_i, n_given, n_kept) in enumerate(zip(y, given, lengths, strict=True)):
        y_i = np.asarray(y_i)
        if y_i.ndim == 0 or y_i.shape[0] != n_given:
            steps = "a single value" if y_i.ndim == 0 else f"{y_i.shape[0]} steps"
            raise ValueError(
                f"{name} of sequence {i} has {steps}, but sequence {i} of X has {n_given}: a "
                f"step estimator takes {alternative}."
            )
        if parts and y_i.shape[1:] != parts[0].shape[1:]:
            raise ValueError(
                f"{name} of sequence {i} has targets of shape {y_i.shape[1:]} per step, "
                f"sequence 0 {parts[0].shape[1:]}: every step needs the same shape."
            )
        parts.append(y_i[:n_kept])
    return np.concatenate(parts)


def step_weights(sample_weight, given, lengths):
    """The weight of each of the first ``lengths`` steps of each sequence (``given`` steps
    each), from weights per sequence or per step; None for None."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, (list, tuple)):  # a list of per-sequence arrays, or numbers
        per_step = any(np.ndim(w) for w in sample_weight)
    else:
        per_step = np.ndim(sample_weight) == 2
    if per_step:
        return flatten_steps(sample_weight, given, lengths, "sample_weight")
    per_sequence_weight = _check_sample_weight(
        sample_weight, lengths, dtype=np.float64, ensure_non_negative=True
    )
    return np.repeat(per_sequence_weight, lengths)


def per_sequence(values, seqs, X):
    """Per-step ``values`` (one sequence after another) in X's structure: a list of
    per-sequence arrays, or an array (n, T, ...) for an array X without padding."""
    if not isinstance(X, (list, tuple)) and (seqs.lengths == seqs.array_steps).all():
        return values.reshape(seqs.n_samples, seqs.array_steps, *values.shape[1:])
    return np.split(values, step_starts(seqs.lengths)[1:])


class _PerStep:
    """What makes a sequence estimator a step estimator (see the module docstring)."""

    readout = "steps"

    def _per_target(self, X, y, sample_weight, seqs):
        """y and sample_weight flattened to one entry per step (the module docstring)."""
        given = given_lengths(X, seqs.n_samples)
        y = flatten_steps(y, given, seqs.lengths)
        return y, step_weights(sample_weight, given, seqs.lengths)

    def _step_weights(self, weights, seqs):
        return weights  # already one per step

    def _target_rows(self, seqs, idx):
        return sequence_rows(step_starts(seqs.lengths)[idx], seqs.lengths[idx])

    def _batch_rows(self, seqs):
        starts = step_starts(seqs.lengths)  # once per fit, not per batch
        return lambda batch: packed_rows(starts, batch)

    def _stratify(self, y):
        return None  # the split is over sequences, whose steps may be of several classes

    def _per_step(self, X, answer):
        """``answer`` (``_predictions``, ``_proba``, ``_log_proba``) of the network's
        outputs for X, in X's structure (``per_sequence``)."""
        z, seqs = self._forward_sequences(X)
        return per_sequence(answer(z), seqs, X)

    def fit(self, X, y, sample_weight=None):
        """Fit the model to sequences X and per-step targets y.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Training sequences.
        y : list of arrays of shape (n_timesteps_i,) or (n_timesteps_i, n_outputs), or \
                array of shape (n_samples, n_timesteps) or (n_samples, n_timesteps, n_outputs)
            One target per step of each sequence of X as given (labels, a multilabel
            indicator row, or values); the targets of the padding steps that X's padding
            drops are ignored.
        sample_weight : array-like of shape (n_samples,), or per step as y, default=None
            Weights of the sequences (each of its steps weighs as it does), or of each step.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(X, y, sample_weight)

    def predict(self, X):
        """Predict every step's target (labels, or values).

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Sequences; their lengths may differ from those seen in fit.

        Returns
        -------
        y : list of arrays of shape (n_timesteps_i,) or (n_timesteps_i, n_outputs), or \
                array of shape (n_samples, n_timesteps) or (n_samples, n_timesteps, n_outputs)
            A list for a list X or for an array X with padding; an array otherwise.
        """
        return self._per_step(X, self._predictions)

    def score(self, X, y, sample_weight=None):
        """Accuracy (classifier) or R^2 (regressor) over all steps of all sequences.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Sequences.
        y : list of arrays or array, as in ``fit``
            True targets of every step.
        sample_weight : array-like of shape (n_samples,), or per step as y, default=None
            As in ``fit``: each step weighs as its sequence, or its own weight.

        Returns
        -------
        score : float
            The score of the steps' predictions, each step a sample.
        """
        z, seqs = self._forward_sequences(X)
        self._check_y(y, seqs.n_samples)
        y, weights = self._per_target(X, y, sample_weight, seqs)
        metric = accuracy_score if is_classifier(self) else r2_score
        return float(metric(y, self._predictions(z), sample_weight=weights))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # per step: y is 2-D at least
        tags.target_tags.single_output = False
        return tags


_STEP_PARAMETERS = _parameters(None)


@_document(
    """LSTM classifier of every time step (sequence labelling): one label per step.

    ``LSTMClassifier``'s network with its head applied to the top layer's states at every
    step; the loss is the mean over all steps of the task's: binary, multiclass or
    multilabel per step. A unidirectional model is causal: its label at step t depends on
    steps up to t only; ``bidirectional=True`` reads the whole sequence. Targets, weights
    and outputs: see ``fit`` and ``predict``.

    Parameters
    ----------
{parameters}
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied into the steps' weights ("balanced": inversely
        proportional to the classes' frequencies over all steps).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
{attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import LSTMStepClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 12, 1))
    >>> y = (np.cumsum(X[:, :, 0], axis=1) > 0).astype(int)  # the sign of the running sum
    >>> clf = LSTMStepClassifier(hidden_layer_sizes=8, max_iter=20, random_state=0).fit(X, y)
    >>> clf.predict(X[:2]).shape
    (2, 12)
    >>> [labels.shape for labels in clf.predict([X[0, :5], X[1]])]
    [(5,), (12,)]
    """,
    parameters=_STEP_PARAMETERS,
)
class LSTMStepClassifier(_PerStep, LSTMClassifier):
    _parameter_constraints = {
        k: v for k, v in LSTMClassifier._parameter_constraints.items() if k != "readout"
    }

    __init__ = _parameters_init({**_STEP_DEFAULTS, "class_weight": None})

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Train for one epoch on X and per-step labels y, continuing from the previous call.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Training sequences.
        y : list of arrays of shape (n_timesteps_i,) or (n_timesteps_i, n_labels), or \
                array of shape (n_samples, n_timesteps) or (n_samples, n_timesteps, n_labels)
            One label (or multilabel indicator row) per step of each sequence of X.
        sample_weight : array-like of shape (n_samples,), or per step as y, default=None
            Weights of the sequences, or of each step.
        classes : array-like of shape (n_classes,), default=None
            Every class that y may hold in any call: required on the first call (but for
            multilabel y), ignored or checked afterwards.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return super().partial_fit(X, y, sample_weight, classes)

    def predict_proba(self, X):
        """Probability of each class (of each label for multilabel targets) at each step.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Sequences.

        Returns
        -------
        proba : list of arrays of shape (n_timesteps_i, n_classes), or array of shape \
                (n_samples, n_timesteps, n_classes)
            In the order of ``classes_``; a list for a list X or a padded array X.
        """
        return self._per_step(X, self._proba)

    def predict_log_proba(self, X):
        """Logarithm of ``predict_proba``, computed stably from the network's outputs.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Sequences.

        Returns
        -------
        log_proba : list of arrays of shape (n_timesteps_i, n_classes), or array of shape \
                (n_samples, n_timesteps, n_classes)
            As ``predict_proba``.
        """
        return self._per_step(X, self._log_proba)


@_document(
    """LSTM regressor of every time step (sequence-to-sequence regression), trained on the
    mean squared error over all steps.

    ``LSTMRegressor``'s network with its head applied to the top layer's states at every
    step; ``standardize_y`` standardises each output over all steps. A unidirectional model
    is causal: its output at step t depends on steps up to t only; ``bidirectional=True``
    reads the whole sequence. Targets, weights and outputs: see ``fit`` and ``predict``.

    Parameters
    ----------
{parameters}
    output_activation : {{"identity", "tanh", "sigmoid"}}, default="identity"
        Activation of the outputs; the squared error is taken after it.
    standardize_y : bool, default=True
        Train on y standardised per output over all steps (mean 0, standard deviation 1)
        and predict in y's own units. Only with the identity output. ``partial_fit`` and
        ``warm_start`` keep the scale of the first fit.

    Attributes
    ----------
{attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import LSTMStepRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 12, 1))
    >>> y = np.cumsum(X[:, :, 0], axis=1)  # the running sum
    >>> reg = LSTMStepRegressor(hidden_layer_sizes=8, max_iter=20, random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2, 12)
    """,
    parameters=_STEP_PARAMETERS,
)
class LSTMStepRegressor(_PerStep, LSTMRegressor):
    _parameter_constraints = {
        k: v for k, v in LSTMRegressor._parameter_constraints.items() if k != "readout"
    }

    __init__ = _parameters_init(
        {**_STEP_DEFAULTS, "output_activation": "identity", "standardize_y": True}
    )

    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch on X and per-step targets y, continuing from the previous call.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Training sequences.
        y : list of arrays of shape (n_timesteps_i,) or (n_timesteps_i, n_outputs), or \
                array of shape (n_samples, n_timesteps) or (n_samples, n_timesteps, n_outputs)
            One target per step of each sequence of X.
        sample_weight : array-like of shape (n_samples,), or per step as y, default=None
            Weights of the sequences, or of each step.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return super().partial_fit(X, y, sample_weight)
