"""Preprocessing for sequences: standardisation and forecasting windows."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from ._sequences import check_sequences

__all__ = ["SequenceScaler", "make_windows"]


class SequenceScaler(TransformerMixin, BaseEstimator):
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

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
        data = function(seqs.data)
        if not seqs.equal_lengths:  # a ragged list: each sequence in its own shape
            steps = np.split(data, seqs.starts[1:])
            return [d.reshape(np.shape(x)) for d, x in zip(steps, X, strict=True)]
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
