"""The LSTM inside the forecasters users already have: skforecast's ForecasterRecursive
and sktime's make_reduction, against Ridge in the same forecaster.

Airline (``sklstm.datasets.load_airline``): trained on 1949-1958, the 24 months of
1959-1960 forecast recursively from the end of 1958; MAE in thousands of passengers.
Both forecasters model the same thing, the monthly change of the log of the series (a
log transform, then a first difference) from its last 12 values, and transform back:
skforecast with ``transformer_y`` and ``differentiation=1``, sktime with a
``TransformedTargetForecaster`` of ``LogTransformer`` and ``Differencer``. skforecast's
lag columns come most recent first: the LSTM reads them reversed, oldest first
(``FunctionTransformer(np.fliplr)``); sktime's windows come oldest first.

Run from the repository root, after ``pip install . skforecast sktime``::

    python benchmarks/bench_forecasters.py [--seeds 3]
"""

import argparse
import statistics
import warnings

import numpy as np
import pandas as pd
from skforecast.recursive import ForecasterRecursive
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sktime.forecasting.compose import TransformedTargetForecaster, make_reduction
from sktime.transformations.series.boxcox import LogTransformer
from sktime.transformations.series.difference import Differencer

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # convergence notices, sktime's and skforecast's own
    series = pd.Series(load_airline().data)
    train, actual = series[:-TEST_MONTHS], series[-TEST_MONTHS:].to_numpy()
    print(f"MAE of the {TEST_MONTHS} months, thousands of passengers, seeds 0-{args.seeds - 1}")
    print("| model | skforecast `ForecasterRecursive` | sktime `make_reduction` |")
    print("|---|---|---|")
    for name, make in MODELS.items():
        seeds = range(args.seeds) if "LSTM" in name else [0]  # Ridge: deterministic
        cells = []
        for forecast in (skforecast_forecast, sktime_forecast):
            maes = [np.abs(forecast(make(seed), train) - actual).mean() for seed in seeds]
            spread = f" ± {statistics.stdev(maes):.1f}" if len(maes) > 1 else ""
            cells.append(f"{statistics.mean(maes):.1f}{spread}")
        print(f"| {name} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
