"""The LSTM inside the forecasters users already have: skforecast's ForecasterRecursive,
sktime's make_reduction and darts's SKLearnModel, against Ridge in the same forecaster.

Airline (``sklstm.datasets.load_airline``): trained on 1949-1958, the 24 months of
1959-1960 forecast recursively from the end of 1958; MAE in thousands of passengers.
The forecasters model the same thing, the monthly change of the log of the series (a
log transform, then a first difference) from its last 12 values, and transform back:
skforecast with ``transformer_y`` and ``differentiation=1``, sktime with a
``TransformedTargetForecaster`` of ``LogTransformer`` and ``Differencer``, darts on the
differenced logs, summed back. skforecast's lag columns come most recent first: the LSTM
reads them reversed, oldest first (``FunctionTransformer(np.fliplr)``); sktime's windows
and darts's lags come oldest first. A forecaster that is not installed is left out (darts
caps scikit-learn below 1.8: it may need a venv of its own).

Run from the repository root, after ``pip install . skforecast sktime darts``::

    python benchmarks/bench_forecasters.py [--seeds 3]
"""

import argparse
import importlib.util
import statistics
import warnings

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklstm import LSTMRegressor
from sklstm.datasets import load_airline

WINDOW, TEST_MONTHS = 12, 24

MODELS = {
    "`LSTMRegressor()`": lambda seed: LSTMRegressor(random_state=seed),
    "`LSTMRegressor((8,), max_iter=15, learning_rate_init=0.005, batch_size=16)`": (
        lambda seed: LSTMRegressor(
            (8,), max_iter=15, learning_rate_init=0.005, batch_size=16, random_state=seed
        )
    ),
    "`Ridge(alpha=1e-3)`": lambda seed: Ridge(alpha=1e-3),
}


def skforecast_forecast(estimator, train):
    from skforecast.recursive import ForecasterRecursive

    if isinstance(estimator, LSTMRegressor):  # lags most recent first: reversed
        estimator = make_pipeline(FunctionTransformer(np.fliplr), estimator)
    forecaster = ForecasterRecursive(
        estimator=estimator,
        lags=WINDOW,
        transformer_y=FunctionTransformer(np.log, np.exp),
        differentiation=1,
    )
    forecaster.fit(train)  # returns None
    return forecaster.predict(steps=TEST_MONTHS).to_numpy()


def sktime_forecast(estimator, train):
    from sktime.forecasting.compose import TransformedTargetForecaster, make_reduction
    from sktime.transformations.series.boxcox import LogTransformer
    from sktime.transformations.series.difference import Differencer

    with warnings.catch_warnings():  # sktime's notice of a change of its defaults
        warnings.simplefilter("ignore", FutureWarning)
        forecaster = TransformedTargetForecaster(
            [
                ("log", LogTransformer()),
                ("change", Differencer(lags=1)),
                ("model", make_reduction(estimator, window_length=WINDOW, strategy="recursive")),
            ]
        )
        return forecaster.fit(train).predict(fh=np.arange(1, TEST_MONTHS + 1)).to_numpy()


def darts_forecast(estimator, train):
    from darts import TimeSeries
    from darts.models import SKLearnModel

    logs = np.log(train.to_numpy())
    forecaster = SKLearnModel(lags=WINDOW, model=estimator)
    forecaster.fit(TimeSeries.from_values(np.diff(logs)))
    return np.exp(logs[-1] + np.cumsum(forecaster.predict(TEST_MONTHS).values()[:, 0]))


FORECASTERS = {
    "skforecast `ForecasterRecursive`": ("skforecast", skforecast_forecast),
    "sktime `make_reduction`": ("sktime", sktime_forecast),
    "darts `SKLearnModel`": ("darts", darts_forecast),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # convergence notices, sktime's and skforecast's own
    series = pd.Series(load_airline().data)
    train, actual = series[:-TEST_MONTHS], series[-TEST_MONTHS:].to_numpy()
    print(f"MAE of the {TEST_MONTHS} months, thousands of passengers, seeds 0-{args.seeds - 1}")
    forecasters = {
        name: forecast
        for name, (module, forecast) in FORECASTERS.items()
        if importlib.util.find_spec(module) is not None
    }
    print(f"| model | {' | '.join(forecasters)} |")
    print("|---" * (len(forecasters) + 1) + "|")
    for name, make in MODELS.items():
        seeds = range(args.seeds) if "LSTM" in name else [0]  # Ridge: deterministic
        cells = []
        for forecast in forecasters.values():
            maes = [np.abs(forecast(make(seed), train) - actual).mean() for seed in seeds]
            spread = f" ± {statistics.stdev(maes):.1f}" if len(maes) > 1 else ""
            cells.append(f"{statistics.mean(maes):.1f}{spread}")
        print(f"| {name} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
