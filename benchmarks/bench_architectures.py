"""Which cell and readout out of the box? The default pipeline with each cell (LSTM, GRU)
and each readout (last, mean, max, attention), on the data sets of ``bench_defaults.py``.

Each configuration is ``make_pipeline(SequenceScaler(), LSTMClassifier(cell=...,
readout=...))`` with every other parameter at its default (stopping rule included), on the
archive's train/test split, three seeds: the mean test accuracy and the mean fit seconds.
For Airline, ``LSTMRegressor(cell=..., readout=...)`` on the raw 12-month windows, the MAE
of the last 24 months (thousands of passengers).

Run from the repository root, after ``pip install .``::

    python benchmarks/bench_architectures.py [--seeds 3] [--only GunPoint,...] [--markdown FILE]
"""

import argparse
import shlex
import statistics
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
from bench_defaults import AIRLINE_TEST, DATA_SETS, default
from sklearn.exceptions import ConvergenceWarning

import sklstm
from sklstm import LSTMRegressor
from sklstm.datasets import load_airline

CELLS = ("lstm", "gru")
READOUTS = ("last", "mean", "max", "attention")


def classification(name, cell, readout, seeds):
    """(test accuracies, fit seconds) per seed of the default pipeline with this cell and
    readout."""
    runs = default(name, seeds, cell=cell, readout=readout)
    return [score for score, _, _ in runs], [seconds for _, _, seconds in runs]


def airline(cell, readout, seeds):
    """(MAE of the last 24 months, fit seconds) per seed of the default regressor."""
    X, y = load_airline(return_X_y=True)
    scores, seconds = [], []
    for seed in seeds:
        model = LSTMRegressor(cell=cell, readout=readout, random_state=seed)
        start = time.perf_counter()
        model.fit(X[:-AIRLINE_TEST], y[:-AIRLINE_TEST])
        seconds.append(time.perf_counter() - start)
        scores.append(float(np.abs(model.predict(X[-AIRLINE_TEST:]) - y[-AIRLINE_TEST:]).mean()))
    return scores, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per configuration")
    parser.add_argument("--only", metavar="NAMES", help="comma-separated data sets")
    parser.add_argument("--markdown", metavar="FILE", help="also write the output to FILE")
    options = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    names = options.only.split(",") if options.only else [*DATA_SETS, "Airline"]
    seeds = range(options.seeds)
    configs = [(cell, readout) for cell in CELLS for readout in READOUTS]
    columns = [f"{cell} {readout}" for cell, readout in configs]
    rows = [
        "| data set | metric | " + " | ".join(columns) + " |",
        "|---|---" + "|---" * len(columns) + "|",
    ]
    times = []
    for name in names:
        print(f"{name} ...", file=sys.stderr, flush=True)
        results = [
            airline(*config, seeds) if name == "Airline" else classification(name, *config, seeds)
            for config in configs
        ]
        metric = "MAE (thousands)" if name == "Airline" else "accuracy"
        digits = 1 if name == "Airline" else 3
        means = [statistics.mean(scores) for scores, _ in results]
        rows.append(f"| {name} | {metric} | " + " | ".join(f"{m:.{digits}f}" for m in means) + " |")
        times.append(
            f"| {name} | fit s | "
            + " | ".join(f"{statistics.mean(s):.2g}" for _, s in results)
            + " |"
        )
    header = [
        f"date: {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"sklstm {sklstm.__version__}, seeds: {options.seeds} (means)",
        f"command: {shlex.join(['python', *sys.argv])}",
    ]
    text = (
        "\n".join(f"- {line}" for line in header)
        + "\n\n"
        + "\n".join(rows)
        + "\n\nFit seconds (mean of seeds):\n\n"
        + "\n".join(rows[:2] + times)
        + "\n"
    )
    print(text)
    if options.markdown:
        Path(options.markdown).write_text(text)


if __name__ == "__main__":
    main()
