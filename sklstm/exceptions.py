"""Warnings of sklstm."""

__all__ = ["DivergenceWarning"]


class DivergenceWarning(UserWarning):
    """Training stopped because the loss, its gradient or the weights stopped being finite
    (a learning rate too large, most often). The estimator keeps the weights of the last
    epoch that completed (under early stopping, of the best epoch on validation).

    Examples
    --------
    Make divergence an error, so that a search reports the fit as failed:

    >>> import warnings
    >>> from sklstm import DivergenceWarning
    >>> warnings.simplefilter("error", DivergenceWarning)
    >>> warnings.resetwarnings()
    """
