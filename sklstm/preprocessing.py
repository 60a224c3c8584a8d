"""Preprocessing for sequences: standardisation, downsampling and forecasting windows."""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ._sequences import check_sequences

__all__ = ["PiecewiseAggregate", "SequenceScaler", "make_windows"]


class _SequenceTransformer(TransformerMixin, BaseEstimator):
    """A transformer of sequences: 3-D arrays are its input, as 2-D and lists."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


class SequenceScaler(_SequenceTransformer):
    """Standardise each feature over all samples and all time steps.

    The mean and standard deviation of each feature are taken over every time step of every
    sequence, so sequences of different lengths weigh by their length. Output has the
    format of the input: a 3-D array, a 2-D array of univariate sequences, or, for
    sequences of different lengths, a list of them.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Mean of each feature.
    scale_ : ndarray of shape (n_features,)
        Standard deviation of each feature (1 where the feature is constant, as in
        ``StandardScaler``).
    n_features_in_ : int
        Features per time step seen in fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.preprocessing import SequenceScaler
    >>> X = [np.array([[0.0], [2.0]]), np.array([[4.0]])]
    >>> SequenceScaler().fit(X).mean_
    array([2.])
    """

    _parameter_constraints: dict = {}

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
        data = check_sequences(X, dtype=np.float64).data
        # The steps of all sequences as rows: StandardScaler's statistics, constant
        # features (to rounding) included.
        scaler = StandardScaler().fit(data)
        self.mean_, self.scale_ = scaler.mean_, scaler.scale_
        self.n_features_in_ = data.shape[1]
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
        return self._apply(X, lambda data: (data - self.mean_) / self.scale_)

    def inverse_transform(self, X):
        """Undo ``transform``.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Standardised sequences.

        Returns
        -------
        X_original : array or list of arrays
            X on its original scale, in X's format.
        """
        return self._apply(X, lambda data: data * self.scale_ + self.mean_)

    def _apply(self, X, function):
        check_is_fitted(self)
        seqs = check_sequences(X, dtype=np.float64, n_features=self.n_features_in_)
        return _in_format_of(X, seqs, function(seqs.data), seqs.lengths)


class PiecewiseAggregate(_SequenceTransformer):
    """Downsample sequences: each run of ``window`` steps becomes its mean.

    Piecewise aggregate approximation (Keogh et al., 2001), per sequence: a sequence of T
    steps becomes ceil(T / window) steps, the last one the mean of the steps left over.
    Long sequences are where LSTMs struggle (README: "Long sequences"); fewer, smoother
    steps make them shorter to learn and faster to train. Stateless: ``fit`` checks X
    only. Output has the format of the input (3-D, 2-D univariate or a list), in float64.

    Parameters
    ----------
    window : int, default=4
        Steps averaged into one.

    Attributes
    ----------
    n_features_in_ : int
        Features per time step seen in fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.preprocessing import PiecewiseAggregate
    >>> PiecewiseAggregate(window=2).fit_transform([np.array([1.0, 3.0, 5.0]), np.array([2.0])])
    [array([2., 5.]), array([2.])]
    """

    _parameter_constraints: dict = {"window": [Interval(Integral, 1, None, closed="left")]}

    def __init__(self, window=4):
        self.window = window

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags

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
        self.n_features_in_ = check_sequences(X, dtype=np.float64).n_features
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
        seqs = check_sequences(X, dtype=np.float64, n_features=self.n_features_in_)
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
        return _in_format_of(X, seqs, sums / counts[:, None], n_segments)


def _in_format_of(X, seqs, data, lengths):
    """``data``, rows of sequences of ``lengths`` one after another, in the format of the
    input X that ``seqs`` was read from: a 3-D or a 2-D array, or a list (of 1-D arrays
    where X had them)."""
    if not seqs.equal_lengths:  # a ragged list: each sequence in its own number of dims
        steps = np.split(data, np.cumsum(lengths)[:-1])
        return [d.ravel() if np.ndim(x) == 1 else d for d, x in zip(steps, X, strict=True)]
    univariate = np.asarray(X).ndim == 2
    return data.reshape((seqs.n_samples, -1) + (() if univariate else (data.shape[1],)))


def make_windows(series, window, horizon=1):
    """Cut a time series into (X, y) for forecasting ``horizon`` steps ahead.

    Each sample is ``window`` consecutive steps; its target is the value ``horizon`` steps
    after the window's last step.

    Parameters
    ----------
    series : array-like of shape (n_steps,) or (n_steps, n_features)
        The time series, oldest first.
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
