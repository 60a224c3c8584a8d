"""Bad input, case by case: what sklstm is given and the error it answers with.

Run ``python tests/bad_inputs.py`` to print the table of ``tests/README.md``; the tests
check that the table is current and that no rejected call changes a fitted estimator.
"""

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse
from sklearn.exceptions import NotFittedError

from sklstm import LSTMClassifier, LSTMRegressor, LSTMStepClassifier, LSTMStepRegressor

RNG = np.random.default_rng(0)
X = RNG.normal(size=(12, 5, 2))
Y_CLASS = np.arange(12) % 3
Y_REG = RNG.normal(size=12)
MULTILABEL = np.column_stack([Y_CLASS % 2, Y_CLASS < 2])
Y_STEPS = (np.arange(60) % 3).reshape(12, 5)  # per-step labels
Y_STEPS_REG = RNG.normal(size=(12, 5))  # per-step values
ESTIMATORS = {  # the estimator of each case, and the targets of its first fit
    "classifier": (LSTMClassifier, Y_CLASS),
    "regressor": (LSTMRegressor, Y_REG),
    "step classifier": (LSTMStepClassifier, Y_STEPS),
    "step regressor": (LSTMStepRegressor, Y_STEPS_REG),
}


def with_value(array, index, value):
    array = array.copy()
    array[index] = value
    return array


@dataclass
class Case:
    name: str
    method: str  # the estimator method called, with args
    args: tuple
    error: type
    estimator: str = "classifier"  # a key of ESTIMATORS
    params: dict = None  # set after the first fit, before the call
    fitted_first: bool = True  # whether the call is made on a fitted estimator
    y_first: np.ndarray = None  # the first fit's targets, when not the default ones
    X_first: object = None  # the first fit's sequences, when not the default ones

    def prepare(self):
        """The estimator the call is made on: fitted on good data first, unless the case is
        about an unfitted one."""
        cls, y = ESTIMATORS[self.estimator]
        est = cls(hidden_layer_sizes=3, max_iter=2, random_state=0)
        if self.fitted_first:
            X_first = X if self.X_first is None else self.X_first
            est.fit(X_first, y if self.y_first is None else self.y_first)
        return est.set_params(**(self.params or {}))


def data_cases():
    ragged = [RNG.normal(size=(n, 2)) for n in (4, 2, 6)]
    ragged_objects = np.empty(3, dtype=object)
    ragged_objects[:] = ragged
    frames = [pd.DataFrame(x, columns=["pitch", "energy"]) for x in X]
    return [
        Case("NaN in X", "fit", (with_value(X, (3, 1, 0), np.nan), Y_CLASS), ValueError),
        Case(
            "NaN on some features of a sequence's last step",
            "fit",
            (with_value(X, (3, -1, 0), np.nan), Y_CLASS),
            ValueError,
        ),
        Case(
            "a sequence of NaN padding only",
            "fit",
            (with_value(X, 2, np.nan), Y_CLASS),
            ValueError,
        ),
        Case(
            "a sequence of padding_value only",
            "fit",
            (with_value(X, 2, 0.0), Y_CLASS),
            ValueError,
            params={"padding_value": 0.0},
            fitted_first=False,
        ),
        Case("one (T, D) sequence at predict", "predict", (X[0],), ValueError),
        Case(
            "a list of (n_channels, n_timesteps) arrays (aeon's unequal lengths)",
            "fit",
            ([x.T for x in ragged], [0, 1, 0]),
            ValueError,
        ),
        Case(
            "a list of DataFrames with different columns",
            "fit",
            ([frames[0], frames[1][["energy", "pitch"]], *frames[2:]], Y_CLASS),
            ValueError,
        ),
        Case(
            "a list of DataFrames with columns reordered at predict",
            "predict",
            ([f[["energy", "pitch"]] for f in frames],),
            ValueError,
            X_first=frames,
        ),
        Case("inf in X", "fit", (with_value(X, (0, 0, 1), np.inf), Y_CLASS), ValueError),
        Case(
            "NaN in a ragged sequence",
            "fit",
            ([*ragged[:2], with_value(ragged[2], (5, 0), np.nan)], [0, 1, 0]),
            ValueError,
        ),
        Case("NaN in y", "fit", (X, with_value(Y_REG, 2, np.nan)), ValueError, "regressor"),
        Case("inf in y", "fit", (X, with_value(Y_REG, 2, np.inf)), ValueError, "regressor"),
        Case("inf in class labels", "fit", (X, with_value(Y_CLASS * 1.0, 0, np.inf)), ValueError),
        Case(
            "NaN in sample_weight",
            "fit",
            (X, Y_CLASS, with_value(np.ones(12), 4, np.nan)),
            ValueError,
        ),
        Case("negative sample_weight", "fit", (X, Y_CLASS, -np.ones(12)), ValueError),
        Case("sample_weight of the wrong length", "fit", (X, Y_CLASS, np.ones(5)), ValueError),
        Case("empty X (no samples)", "fit", (np.empty((0, 5, 2)), []), ValueError),
        Case("empty list X", "fit", ([], []), ValueError),
        Case("zero-length sequences (array)", "fit", (np.empty((12, 0, 2)), Y_CLASS), ValueError),
        Case(
            "zero-length sequence in a ragged list",
            "fit",
            ([ragged[0], np.empty((0, 2)), ragged[2]], [0, 1, 0]),
            ValueError,
        ),
        Case("a single class", "fit", (X, np.zeros(12)), ValueError),
        Case("continuous y for a classifier", "fit", (X, Y_REG), ValueError),
        Case("y is None", "fit", (X, None), ValueError),
        Case("X and y of different lengths", "fit", (X, Y_CLASS[:-1]), ValueError),
        Case("1-D X", "fit", (X[:, 0, 0], Y_CLASS), ValueError),
        Case("4-D X", "fit", (X[..., None], Y_CLASS), ValueError),
        Case("X of strings", "fit", (np.full((12, 5), "a"), Y_CLASS), ValueError),
        Case("X of objects", "fit", (np.array([[object()] * 5] * 12), Y_CLASS), TypeError),
        Case("complex X", "fit", (X + 1j, Y_CLASS), ValueError),
        Case("sparse X", "fit", (scipy.sparse.csr_matrix(X[:, :, 0]), Y_CLASS), TypeError),
        Case(
            "ragged sequences with different feature counts",
            "fit",
            ([ragged[0], RNG.normal(size=(3, 4))], [0, 1]),
            ValueError,
        ),
        Case(
            "a sequence of 3 dimensions in a list",
            "fit",
            ([ragged[0], RNG.normal(size=(3, 2, 1))], [0, 1]),
            ValueError,
        ),
        Case("another number of features at predict", "predict", (X[:, :, :1],), ValueError),
        Case(
            "another number of features at partial_fit",
            "partial_fit",
            (X[:, :, :1], Y_CLASS),
            ValueError,
        ),
        Case("labels outside classes at partial_fit", "partial_fit", (X, Y_CLASS + 7), ValueError),
        Case(
            "classes missing at the first partial_fit",
            "partial_fit",
            (X, Y_CLASS),
            ValueError,
            fitted_first=False,
        ),
        Case(
            "partial_fit with early_stopping",
            "partial_fit",
            (X, Y_CLASS),
            ValueError,
            params={"early_stopping": True},
        ),
        Case(
            "class_weight='balanced' at partial_fit",
            "partial_fit",
            (X, Y_CLASS),
            ValueError,
            params={"class_weight": "balanced"},
        ),
        Case(
            "hidden layers changed under warm_start",
            "fit",
            (X, Y_CLASS),
            ValueError,
            params={"warm_start": True, "hidden_layer_sizes": (3, 3)},
        ),
        Case(
            "cell changed under warm_start",
            "fit",
            (X, Y_CLASS),
            ValueError,
            params={"warm_start": True, "cell": "gru"},
        ),
        Case(
            "readout changed at partial_fit",
            "partial_fit",
            (X, Y_CLASS),
            ValueError,
            params={"readout": "attention"},
        ),
        Case(
            "the step estimators' readout for a sequence estimator",
            "fit",
            (X, Y_CLASS),
            ValueError,
            params={"readout": "steps"},
        ),
        Case(
            "class_weight with multilabel y",
            "fit",
            (X, np.eye(2, dtype=int)[Y_CLASS % 2]),
            ValueError,
            params={"class_weight": "balanced"},
        ),
        Case("predict before fit", "predict", (X,), NotFittedError, fitted_first=False),
        Case("stream before fit", "stream", (), NotFittedError, fitted_first=False),
        Case("n_streams=0", "stream", (0,), ValueError),
        Case("n_streams=True", "stream", (True,), ValueError),
        Case(
            "per-step y shorter than its sequence",
            "fit",
            (X, [*Y_STEPS[:4], Y_STEPS[4, :3], *Y_STEPS[5:]]),
            ValueError,
            "step classifier",
        ),
        Case(
            "one label per sequence to a step estimator",
            "fit",
            (X, Y_CLASS),
            ValueError,
            "step classifier",
        ),
        Case(
            "per-step y of different shapes per step",
            "fit",
            (X, [Y_STEPS_REG[0][:, None], *Y_STEPS_REG[1:]]),
            ValueError,
            "step regressor",
        ),
        Case(
            "NaN in per-step y (not at a padding step)",
            "fit",
            (X, with_value(Y_STEPS_REG, (3, 2), np.nan)),
            ValueError,
            "step regressor",
        ),
        Case(
            "per-step sample_weight shorter than its sequence",
            "fit",
            (X, Y_STEPS, np.ones((12, 4))),
            ValueError,
            "step classifier",
        ),
        Case(
            "per-step labels outside classes at partial_fit",
            "partial_fit",
            (X, Y_STEPS + 5),
            ValueError,
            "step classifier",
        ),
        Case("dates in X", "fit", (np.zeros((12, 5), "datetime64[s]"), Y_CLASS), TypeError),
        Case(
            "durations in a ragged sequence",
            "fit",
            ([*ragged[:2], np.zeros((6, 2), "timedelta64[ms]")], [0, 1, 0]),
            TypeError,
        ),
        Case(
            "sparse matrices in a list",
            "fit",
            ([scipy.sparse.csr_matrix(x) for x in X], Y_CLASS),
            TypeError,
        ),
        Case("object array of ragged sequences", "fit", (ragged_objects, [0, 1, 0]), ValueError),
        Case(
            "NaN in class_weight",
            "fit",
            (X, Y_CLASS),
            ValueError,
            params={"class_weight": {0: np.nan, 1: 1.0, 2: 1.0}},
        ),
        Case(
            "negative class_weight",
            "fit",
            (X, Y_CLASS),
            ValueError,
            params={"class_weight": {0: -1.0, 1: 1.0, 2: 1.0}},
        ),
        Case(
            "class_weight all zero",
            "fit",
            (X, Y_CLASS),
            ValueError,
            params={"class_weight": {0: 0, 1: 0, 2: 0}},
        ),
        Case("sample_weight all zero", "fit", (X, Y_CLASS, np.zeros(12)), ValueError),
        Case(
            "sample_weight summing to infinity",
            "fit",
            (X, Y_CLASS, np.full(12, 1e308)),
            ValueError,
        ),
        Case(
            "y beyond float32's range, unstandardised",
            "fit",
            (X, Y_REG * 1e100),
            ValueError,
            "regressor",
            params={"standardize_y": False},
        ),
        Case("alpha=1e300", "fit", (X, Y_CLASS), ValueError, params={"alpha": 1e300}),
        Case("batch_size=True", "fit", (X, Y_CLASS), ValueError, params={"batch_size": True}),
        Case(
            "validation_fraction leaving no training samples",
            "fit",
            (X, Y_CLASS),
            ValueError,
            params={"early_stopping": True, "validation_fraction": 0.999},
        ),
        Case(
            "another number of labels at partial_fit",
            "partial_fit",
            (X, MULTILABEL[:, [0, 1, 0]]),
            ValueError,
            y_first=MULTILABEL,
        ),
        Case(
            "warm_start from class labels to multilabel y",
            "fit",
            (X, MULTILABEL),
            ValueError,
            params={"warm_start": True},
        ),
        Case(
            "warm_start from multilabel y to class labels",
            "fit",
            (X, Y_CLASS % 2),
            ValueError,
            params={"warm_start": True},
            y_first=MULTILABEL,
        ),
    ]


# An invalid value of every hyperparameter; the tests check that none is missing.
INVALID_PARAMETERS = {
    "hidden_layer_sizes": (4, 0),
    "cell": "rnn",
    "readout": "first",
    "solver": "lbfgs",
    "alpha": -1.0,
    "batch_size": 0,
    "learning_rate": "invscaling",
    "learning_rate_init": 0.0,
    "max_iter": 0,
    "shuffle": "yes",
    "random_state": "seed",
    "tol": -1.0,
    "verbose": "loud",
    "warm_start": 2,
    "momentum": 1.5,
    "nesterovs_momentum": "no",
    "early_stopping": "no",
    "validation_fraction": 1.0,
    "beta_1": 1.0,
    "beta_2": -0.1,
    "epsilon": 0.0,
    "n_iter_no_change": 0,
    "rho": 1.0,
    "bidirectional": "both",
    "dropout": 1.0,
    "recurrent_dropout": -0.5,
    "clip_norm": 0.0,
    "dtype": "float16",
    "class_weight": "auto",
    "output_activation": "relu",
    "standardize_X": "yes",
    "standardize_y": 1,
    "padding_value": "zero",
}


def parameter_cases():
    cases = []
    for name, value in INVALID_PARAMETERS.items():
        estimator = "regressor" if name in ("output_activation", "standardize_y") else "classifier"
        y = Y_REG if estimator == "regressor" else Y_CLASS
        cases.append(Case(f"{name}={value!r}", "fit", (X, y), ValueError, estimator, {name: value}))
    return cases


CASES = data_cases() + parameter_cases()


def message(case):
    """The first line of the error message the case gets; sets of allowed values, which
    Python lists in no fixed order, sorted."""
    est = case.prepare()
    try:
        getattr(est, case.method)(*case.args)
    except case.error as exc:
        first_line = str(exc).splitlines()[0]
        return re.sub(
            r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m[1].split(", "))) + "}", first_line
        )
    raise AssertionError(f"{case.name}: no {case.error.__name__}")


def table():
    rows = ["| input | call | error | message |", "|---|---|---|---|"]
    for case in CASES:
        text = message(case).replace("|", "\\|")
        rows.append(f"| {case.name} | {case.method} | {case.error.__name__} | {text} |")
    return "\n".join(rows)


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")
    print(table())
