"""Forecast the Airline passengers series one month ahead, and plot it.

The series grows, and its season with it: the test years lie above anything seen in
training, where a network bounded by its activations cannot follow. So the model forecasts
what stays alike from year to year, the growth over the same month a year before (the
seasonal difference of the logs), from the last 12 months of it; the forecast is last
year's value times that growth. It trains on 1949-1958, forecasts 1959-1960 one month at a
time, and is compared with a Ridge autoregression on the same windows and with the
seasonal-naive forecast (last year's value as it is).
Run: python examples/forecast_airline.py [FILE.png]
"""

import sys
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.metrics import root_mean_squared_error

from sklstm import LSTMRegressor
from sklstm.datasets import load_airline
from sklstm.preprocessing import make_windows

WINDOW, TEST_MONTHS = 12, 24

airline = load_airline()
logs = np.log(airline.data)
growth = logs[12:] - logs[:-12]  # growth[i]: month i + 12 over month i
mean, std = growth[:-TEST_MONTHS].mean(), growth[:-TEST_MONTHS].std()
X, y = make_windows((growth - mean) / std, WINDOW)  # univariate sequences of 12 months
X_train, y_train, X_test = X[:-TEST_MONTHS], y[:-TEST_MONTHS], X[-TEST_MONTHS:]

# 15 epochs: the best on the last training year held out (more overfit), so the fit stops
# before it converges on purpose.
model = LSTMRegressor(
    hidden_layer_sizes=(8,), max_iter=15, learning_rate_init=0.005, batch_size=16, random_state=0
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    model.fit(X_train, y_train)

actual = airline.data[-TEST_MONTHS:]
naive = airline.data[-TEST_MONTHS - 12 : -12]  # the same months a year before
forecast = naive * np.exp(model.predict(X_test) * std + mean)
ridge = Ridge(alpha=1e-3).fit(X_train, y_train)
ridge_forecast = naive * np.exp(ridge.predict(X_test) * std + mean)
print(
    f"RMSE, {TEST_MONTHS} months one at a time: LSTM "
    f"{root_mean_squared_error(actual, forecast):.1f}, Ridge "
    f"{root_mean_squared_error(actual, ridge_forecast):.1f}, seasonal naive "
    f"{root_mean_squared_error(actual, naive):.1f} (thousands of passengers)"
)

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("The plot needs matplotlib: pip install matplotlib")
path = sys.argv[1] if len(sys.argv) > 1 else "airline_forecast.png"
months = np.arange(len(airline.data))
fig, ax = plt.subplots(figsize=(8, 4))
ax.plot(months, airline.data, label="actual")
ax.plot(months[-TEST_MONTHS:], forecast, label="LSTM, one month ahead")
ax.plot(months[-TEST_MONTHS:], naive, ":", label="seasonal naive")
ticks = months[::24]
ax.set_xticks(ticks, airline.months[ticks])
ax.set(ylabel="passengers (thousands)", title="Airline passengers")
ax.legend()
fig.tight_layout()
fig.savefig(path)
print(f"plot: {path}")
