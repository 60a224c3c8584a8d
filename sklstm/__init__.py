"""sklstm: LSTM networks as scikit-learn estimators, with a Cython + OpenMP core."""

from . import _losses, _network, _optimizers
from ._estimators import LSTMClassifier, LSTMRegressor
from ._steps import LSTMStepClassifier, LSTMStepRegressor
from .exceptions import DivergenceWarning
from .preprocessing import FromChannelsFirst, PiecewiseAggregate, SequenceScaler

__version__ = "0.1.0"
__all__ = [
    "SKOPS_TRUSTED_TYPES",
    "DivergenceWarning",
    "LSTMClassifier",
    "LSTMRegressor",
    "LSTMStepClassifier",
    "LSTMStepRegressor",
    "__version__",
]

#: Every type of sklstm's that a saved model may hold, by the names skops gives them: pass
#: it as ``skops.io.load(file, trusted=SKOPS_TRUSTED_TYPES)`` (or MLflow's
#: ``skops_trusted_types``), and a file that holds any other type not trusted by skops
#: itself is refused.
SKOPS_TRUSTED_TYPES = tuple(
    sorted(
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in (
            LSTMClassifier,
            LSTMRegressor,
            LSTMStepClassifier,
            LSTMStepRegressor,
            SequenceScaler,
            PiecewiseAggregate,
            FromChannelsFirst,
            _network.LSTMNetwork,
            _losses.SigmoidCrossEntropy,
            _losses.SoftmaxCrossEntropy,
            _losses.SquaredError,
            _optimizers.Adam,
            _optimizers.SGD,
            _optimizers.RMSprop,
            _optimizers.Adagrad,
        )
    )
)
