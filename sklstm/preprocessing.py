"""Preprocessing for sequences: layout, standardisation, downsampling and forecasting
windows.

The transformers answer in the format of their input. A list of sequences of different
shapes gives a list; an array gives an array, in which the steps after a sequence's end
(its padding in X, or steps it no longer has) are NaN: the padding that every sklstm
estimator and transformer reads without being told.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _check_feature_names, check_is_fitted

from ._sequences import Sequences, check_sequences, names_of, without_padding

__all__ = ["FromChannelsFirst", "PiecewiseAggregate", "SequenceScaler", "make_windows"]


class _SequenceTransformer(TransformerMixin, BaseEstimator):
    """A transformer of sequences: 3-D arrays are its input, as 2-D and lists."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def _validate(self, X, *, reset, padding_value):
        """X as float64 ``Sequences``, checked against the fit unless reset: features per
        step and, as scikit-learn checks them, feature names."""
        _check_feature_names(self, names_of(X), reset=reset)
        seqs = check_sequences(
            X,
            dtype=np.float64,
            n_features=None if reset else self.n_features_in_,
            padding_value=padding_value,
        )
        if reset:
            self.n_features_in_ = seqs.n_features
        return seqs


class _StatelessSequenceTransformer(_SequenceTransformer):
    """A sequence transformer whose ``fit`` learns nothing but X's shape and names."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags


class SequenceScaler(_SequenceTransformer):
    """Standardise each feature over all samples and all time steps.

    The mean and standard deviation of each feature are taken over every time step of every
    sequence, so sequences of different lengths weigh by their length; padding is no step.
    Output has the format of the input: a 3-D array, a 2-D array of univariate sequences
    or, for sequences of different shapes, a list of them; in an array, the steps after a
    sequence's end are NaN, whatever padded them in X.

    Parameters
    ----------
    padding_value : float or None, default=None
        The value that pads sequences to a common length in an array given to ``fit`` and
        ``transform``: a sequence ends at its last step not equal to it on every feature.
        Trailing steps of NaN on every feature always end a sequence. ``inverse_transform``
        reads NaN padding only, as ``transform`` gives it.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Mean of each feature.
    scale_ : ndarray of shape (n_features,)
        Standard deviation of each feature (1 where the feature is constant, as in
        ``StandardScaler``).
    n_features_in_ : int
        Features per time step seen in fit.
    feature_names_in_ : ndarray
        String column names of X in fit, as the estimators record them; checked by
        ``transform``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.preprocessing import SequenceScaler
    >>> X = [np.array([[0.0], [2.0]]), np.array([[4.0]])]
    >>> SequenceScaler().fit(X).mean_
    array([2.])
    >>> zero_padded = np.array([[1.0, 3.0], [5.0, 0.0]])  # univariate: [1, 3] and [5]
    >>> SequenceScaler(padding_value=0).fit_transform(zero_padded)
    array([[-1.22474487,  0.        ],
           [ 1.22474487,         nan]])
    """

    _parameter_constraints: dict = {"padding_value": [None, Real]}

    def __init__(self, padding_value=None):
        self.padding_value = padding_value

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute each feature's mean and standard deviation.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Sequences.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted scaler.
        """
        data = self._validate(X, reset=True, padding_value=self.padding_value).data
        # The steps of all sequences as rows: StandardScaler's statistics, constant
        # features (to rounding) included.
        scaler = StandardScaler().fit(data)
        self.mean_, self.scale_ = scaler.mean_, scaler.scale_
        return self

    def transform(self, X):
        """Standardise X.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Sequences.

        Returns
        -------
        X_scaled : array or list of arrays
            X standardised, in X's format.
        """
        return self._apply(X, lambda data: (data - self.mean_) / self.scale_, self.padding_value)

    def inverse_transform(self, X):
        """Undo ``transform``.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Standardised sequences, padded with NaN in an array.

        Returns
        -------
        X_original : array or list of arrays
            X on its original scale, in X's format.
        """
        return self._apply(X, lambda data: data * self.scale_ + self.mean_, None)

    def _apply(self, X, function, padding_value):
        check_is_fitted(self)
        seqs = self._validate(X, reset=False, padding_value=padding_value)
        return _in_format_of(X, seqs, function(seqs.data), seqs.lengths, seqs.array_steps)


class PiecewiseAggregate(_StatelessSequenceTransformer):
    """Downsample sequences: each run of ``window`` steps becomes its mean.

    Piecewise aggregate approximation (Keogh et al., 2001), per sequence: a sequence of T
    steps becomes ceil(T / window) steps, the last one the mean of the steps left over;
    padding is no step. Long sequences are where LSTMs struggle (README: "Long
    sequences"); fewer, smoother steps make them shorter to learn and faster to train.
    Stateless: ``fit`` checks X only. Output has the format of the input (3-D, 2-D
    univariate or a list), in float64; an array of T steps gives ceil(T / window), NaN
    after a sequence's end.

    Parameters
    ----------
    window : int, default=4
        Steps averaged into one.
    padding_value : float or None, default=None
        The value that pads sequences to a common length in an array, as in
        ``SequenceScaler``.

    Attributes
    ----------
    n_features_in_ : int
        Features per time step seen in fit.
    feature_names_in_ : ndarray
        String column names of X in fit, as the estimators record them; checked by
        ``transform``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.preprocessing import PiecewiseAggregate
    >>> PiecewiseAggregate(window=2).fit_transform([np.array([1.0, 3.0, 5.0]), np.array([2.0])])
    [array([2., 5.]), array([2.])]
    """

    _parameter_constraints: dict = {
        "window": [Interval(Integral, 1, None, closed="left")],
        "padding_value": [None, Real],
    }

    def __init__(self, window=4, padding_value=None):
        self.window = window
        self.padding_value = padding_value

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check X.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Sequences.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The transformer.
        """
        if isinstance(self.window, bool):
            raise ValueError(f"window must be a positive int, got {self.window!r}.")
        self._validate(X, reset=True, padding_value=self.padding_value)
        return self

    def transform(self, X):
        """Average each run of ``window`` steps of each sequence.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Sequences.

        Returns
        -------
        X_short : array or list of arrays
            Sequences of ceil(n_timesteps_i / window) steps, in X's format.
        """
        check_is_fitted(self)
        seqs = self._validate(X, reset=False, padding_value=self.padding_value)
        w = self.window
        n_segments = -(-seqs.lengths // w)
        sequence = np.repeat(np.arange(seqs.n_samples), n_segments)
        # Each segment's position in its sequence, and its first row in the data (the
        # sequences lie one after another, so a segment's sum runs to the next's start).
        position = np.arange(n_segments.sum()) - np.repeat(
            np.cumsum(n_segments) - n_segments, n_segments
        )
        sums = np.add.reduceat(seqs.data, seqs.starts[sequence] + position * w, axis=0)
        counts = np.minimum(w, seqs.lengths[sequence] - position * w)
        n_steps = None if seqs.array_steps is None else -(-seqs.array_steps // w)
        return _in_format_of(X, seqs, sums / counts[:, None], n_segments, n_steps)


class FromChannelsFirst(_StatelessSequenceTransformer):
    """Read sequences held channels first, as aeon and sktime hold them.

    aeon and sktime (its ``numpy3D`` type) hold a collection of sequences as an array
    ``(n_samples, n_channels, n_timesteps)``, and sequences of different lengths as a list
    of arrays ``(n_channels, n_timesteps_i)``; sklstm reads time first, ``(n_timesteps,
    n_features)``. This transformer turns the one into the other, first in a Pipeline:
    ``make_pipeline(FromChannelsFirst(), SequenceScaler(), LSTMClassifier())``. A 2-D array
    or a list of 1-D arrays (univariate) is the same in both layouts. Stateless: ``fit``
    checks X only. Output has the format of the input (3-D, 2-D univariate or a list), in
    float64; in an array, NaN after a sequence's end (trailing NaN steps are padding in
    either layout).

    Attributes
    ----------
    n_features_in_ : int
        Channels per time step seen in fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.preprocessing import FromChannelsFirst
    >>> X = [np.zeros((2, 5)), np.zeros((2, 3))]  # 2 channels, 5 and 3 steps
    >>> [x.shape for x in FromChannelsFirst().fit_transform(X)]
    [(5, 2), (3, 2)]
    """

    _parameter_constraints: dict = {}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check X.

        Parameters
        ----------
        X : array of shape (n_samples, n_channels, n_timesteps) or (n_samples, \
                n_timesteps), or list of arrays of shape (n_channels, n_timesteps_i)
            Sequences, channels first.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The transformer.
        """
        self._validate(_time_first(X), reset=True, padding_value=None)
        return self

    def transform(self, X):
        """Put time first.

        Parameters
        ----------
        X : array of shape (n_samples, n_channels, n_timesteps) or (n_samples, \
                n_timesteps), or list of arrays of shape (n_channels, n_timesteps_i)
            Sequences, channels first.

        Returns
        -------
        X_time_first : array of shape (n_samples, n_timesteps, n_channels) or \
                (n_samples, n_timesteps), or list of arrays of shape (n_timesteps_i, \
                n_channels)
            The same sequences, time first.
        """
        check_is_fitted(self)
        X = _time_first(X)
        seqs = self._validate(X, reset=False, padding_value=None)
        return _in_format_of(X, seqs, seqs.data, seqs.lengths, seqs.array_steps)


def _time_first(X):
    """Channels-first sequences X as time-first ones, transposed without copying."""
    if isinstance(X, (list, tuple)):
        return [np.asarray(x).T for x in X]
    X = np.asarray(X)
    return X.transpose(0, 2, 1) if X.ndim == 3 else X


def _in_format_of(X, seqs, data, lengths, n_steps):
    """``data``, rows of sequences of ``lengths`` one after another, in the format of the
    input X that ``seqs`` was read from: a list (of 1-D arrays where X had them) or, from
    an array, a 3-D or a 2-D array of ``n_steps`` steps, NaN after each sequence's end."""
    listed = isinstance(X, (list, tuple))
    if seqs.array_steps is None:  # a ragged list: each sequence in its own number of dims
        steps = np.split(data, np.cumsum(lengths)[:-1])
        return [d.ravel() if np.ndim(x) == 1 else d for d, x in zip(steps, X, strict=True)]
    n, D = len(lengths), data.shape[1]
    if (lengths == n_steps).all():
        out = data.reshape(n, n_steps, D)
    else:
        out = np.full((n, n_steps, D), np.nan)
        out[np.arange(n_steps) < lengths[:, np.newaxis]] = data
    univariate = np.ndim(X[0]) == 1 if listed else np.asarray(X).ndim == 2
    return out[:, :, 0] if univariate else out


def make_windows(series, window, horizon=1):
    """Cut a time series into (X, y) for forecasting ``horizon`` steps ahead.

    Each sample is ``window`` consecutive steps; its target is the value ``horizon`` steps
    after the window's last step.

    Parameters
    ----------
    series : array-like of shape (n_steps,) or (n_steps, n_features)
        The time series, oldest first. Trailing steps of NaN on every feature end it
        (padding); NaN anywhere else is refused.
    window : int
        Steps per input sequence.
    horizon : int, default=1
        How far ahead of the window the target lies.

    Returns
    -------
    X : ndarray of shape (n_windows, window) or (n_windows, window, n_features)
        Input sequences: univariate (2-D) for a 1-D series.
    y : ndarray of shape (n_windows,) or (n_windows, n_features)
        Targets.

    Examples
    --------
    >>> from sklstm.preprocessing import make_windows
    >>> X, y = make_windows([1, 2, 3, 4, 5], window=3)
    >>> X.tolist(), y.tolist()
    ([[1, 2, 3], [2, 3, 4]], [4, 5])
    """
    series = np.asarray(series)
    if series.ndim not in (1, 2):
        raise ValueError(f"series must be 1-D or 2-D (n_steps, n_features); got {series.ndim}-D.")
    for name, value in (("window", window), ("horizon", horizon)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    if series.dtype.kind == "f" and len(series):
        steps = series.reshape(len(series), -1)
        whole = Sequences(steps, np.zeros(1, np.intp), np.array([len(steps)]), True, None)
        series = series[: without_padding(whole, name="series").lengths[0]]
    n_windows = len(series) - window - horizon + 1
    if n_windows < 1:
        raise ValueError(
            f"A series of {len(series)} steps is too short for window={window} and "
            f"horizon={horizon}."
        )
    X = np.lib.stride_tricks.sliding_window_view(series, window, axis=0)[:n_windows]
    if series.ndim == 2:
        X = X.transpose(0, 2, 1)  # (n_windows, n_features, window) -> time before features
    return np.ascontiguousarray(X), series[window + horizon - 1 :].copy()
