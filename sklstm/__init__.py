"""sklstm: LSTM networks as scikit-learn estimators, with a Cython + OpenMP core."""

from ._estimators import LSTMClassifier, LSTMRegressor
from .exceptions import DivergenceWarning

__version__ = "0.1.0"
__all__ = ["DivergenceWarning", "LSTMClassifier", "LSTMRegressor", "__version__"]
