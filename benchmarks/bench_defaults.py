"""Are sklstm's defaults good on data it was never tuned on? The default classifier against
the best of a small grid of fixed-epoch trainings, and the default regressor on raw
forecasting windows against the same model on windows the user standardised.

Classification (JapaneseVowels, GunPoint, ItalyPowerDemand, OSULeaf; benchmarks/data/):

- the grid: ``LSTMClassifier`` with every default but the learning rate (1e-3, 3e-3, 1e-2)
  and the number of epochs (25, 50, 100, 200, 300, 400, 500 = max_iter, no stopping rule),
  on data standardised by a SequenceScaler, three seeds: the test accuracy of each cell,
  mean over seeds;
- the default: ``make_pipeline(SequenceScaler(), LSTMClassifier())``, its stopping rule
  deciding when to stop and which epoch's weights to keep, the same three seeds;
- stopping rules replayed on the grid's recorded trainings at the default learning rate:
  the rule that the defaults implement among its alternatives and scikit-learn's MLP's.

Regression (Airline, ``load_airline(return_X_y=True)``: 12 months, then the next; the last
24 forecast): ``LSTMRegressor()`` on the raw windows against ``LSTMRegressor(
standardize_X=False, standardize_y=False)`` on windows and targets standardised by hand,
MAE in thousands of passengers, three seeds; and Ridge on the raw windows for orientation.

Run from the repository root, after ``pip install .``::

    python benchmarks/bench_defaults.py [--seeds 3] [--only GunPoint,...] [--readout max]
                                        [--markdown FILE]

``--readout`` runs every model above with that readout instead of the default one: the
measurement behind the default's choice (issue 15).
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
from bench_accuracy import raw_classification_data
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline

import sklstm
from sklstm import LSTMClassifier, LSTMRegressor
from sklstm.datasets import load_airline
from sklstm.preprocessing import SequenceScaler

DATA_SETS = ("JapaneseVowels", "GunPoint", "ItalyPowerDemand", "OSULeaf")
LEARNING_RATES = (1e-3, 3e-3, 1e-2)
EPOCHS = (25, 50, 100, 200, 300, 400, 500)
AIRLINE_TEST = 24
DEFAULT_LR = LSTMClassifier().learning_rate_init
DEFAULT_MAX_ITER = LSTMClassifier().max_iter


def curves(name, seeds, **params):
    """Per learning rate, per seed: the training loss and the test accuracy after each of
    max(EPOCHS) epochs (partial_fit: n calls train as fit with max_iter=n); ``params`` as
    in ``default``."""
    X, y, X_test, y_test = raw_classification_data(name)
    scaler = SequenceScaler().fit(X)
    X, X_test = scaler.transform(X), scaler.transform(X_test)
    classes = np.unique(y)
    runs = {lr: [] for lr in LEARNING_RATES}
    for lr in LEARNING_RATES:
        for seed in seeds:
            clf = LSTMClassifier(learning_rate_init=lr, random_state=seed, **params)
            losses, accuracies = [], []
            for _ in range(max(EPOCHS)):
                clf.partial_fit(X, y, classes=classes)
                losses.append(clf.loss_)
                accuracies.append(clf.score(X_test, y_test))
            runs[lr].append((losses, accuracies))
    return runs


def replay(losses, rule):
    """The epoch a stopping rule stops at and the epoch whose weights it keeps (0-based),
    replayed on a recorded training (a fit with the rule trains exactly as the recorded
    epochs did). ``rule``: (patience, tol, tol times the first loss or absolute, keeps the
    best epoch or the last, max_iter, the reference is the running best as in scikit-learn's
    MLP or the loss of the last improvement as in sklstm). Improvement means beating the
    reference by the margin; a stall, more than ``patience`` epochs without one."""
    patience, tol, relative_to_first, keep_best, max_iter, running_best = rule
    margin = tol * (losses[0] if relative_to_first else 1.0)
    reference, stalled = np.inf, 0
    for epoch, loss in enumerate(losses[:max_iter]):
        improved = loss < reference - margin
        stalled = 0 if improved else stalled + 1
        if improved or (running_best and loss < reference):
            reference = loss
        if stalled > patience or epoch == max_iter - 1:
            return epoch, int(np.argmin(losses[: epoch + 1])) if keep_best else epoch
    return len(losses) - 1, len(losses) - 1


# Rules replayed on the recorded trainings: scikit-learn's MLP's, and this package's
# candidates (its choice: patience 75, tol 0.01 of the first epoch's loss, best weights).
RULES = {
    "MLP: patience 10, tol 1e-4 absolute, last weights, 200 epochs": (
        10,
        1e-4,
        False,
        False,
        200,
        True,
    ),
    **{
        f"patience {p}, tol {t} x first loss, best weights": (
            p,
            t,
            True,
            True,
            DEFAULT_MAX_ITER,
            False,
        )
        for p in (30, 50, 75, 100)
        for t in (1e-3, 1e-2)
    },
}


def default(name, seeds, **params):
    """Test accuracy, epochs run and fit seconds of the default pipeline, per seed;
    ``params``: the classifier's parameters that differ from the defaults."""
    X, y, X_test, y_test = raw_classification_data(name)
    runs = []
    for seed in seeds:
        model = make_pipeline(SequenceScaler(), LSTMClassifier(random_state=seed, **params))
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
        runs.append((model.score(X_test, y_test), model[-1].n_iter_, seconds))
    return runs


def airline(seeds, **params):
    """MAE of the default regressor on raw windows, of the same on windows standardised by
    hand, and of Ridge on the raw windows; ``params`` as in ``default``."""
    X, y = load_airline(return_X_y=True)
    X_train, y_train, X_test, y_test = (
        X[:-AIRLINE_TEST],
        y[:-AIRLINE_TEST],
        X[-AIRLINE_TEST:],
        y[-AIRLINE_TEST:],
    )
    mean, std = X_train.mean(), X_train.std()
    maes = {"default, raw windows": [], "standardised by hand": []}
    for seed in seeds:
        raw = LSTMRegressor(random_state=seed, **params).fit(X_train, y_train)
        maes["default, raw windows"].append(np.abs(raw.predict(X_test) - y_test).mean())
        by_hand = LSTMRegressor(
            random_state=seed, standardize_X=False, standardize_y=False, **params
        )
        by_hand.fit((X_train - mean) / std, (y_train - mean) / std)
        forecast = by_hand.predict((X_test - mean) / std) * std + mean
        maes["standardised by hand"].append(np.abs(forecast - y_test).mean())
    ridge = Ridge().fit(X_train, y_train)
    return maes, np.abs(ridge.predict(X_test) - y_test).mean()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per configuration")
    parser.add_argument("--only", metavar="NAMES", help="comma-separated data sets")
    parser.add_argument("--readout", help="every model's readout (default: the default's)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the output to FILE")
    options = parser.parse_args(argv)
    params = {} if options.readout is None else {"readout": options.readout}
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    seeds = range(options.seeds)
    names = options.only.split(",") if options.only else [*DATA_SETS, "Airline"]

    lines = [
        "| data set | default accuracy | epochs run | fit s | best grid cell | its accuracy "
        "| default - best | within 0.01? |",
        "|---" * 8 + "|",
    ]
    grids = []
    replayed = {rule: {} for rule in RULES}
    for name in (name for name in DATA_SETS if name in names):
        print(f"{name} ...", file=sys.stderr, flush=True)
        recorded = curves(name, seeds, **params)
        runs = default(name, seeds, **params)
        means = {
            (lr, e): statistics.mean(accuracies[e - 1] for _, accuracies in recorded[lr])
            for lr in LEARNING_RATES
            for e in EPOCHS
        }
        (lr, epochs), best = max(means.items(), key=lambda item: item[1])
        accuracy = statistics.mean(run[0] for run in runs)
        lines.append(
            f"| {name} | {accuracy:.3f} | {', '.join(str(run[1]) for run in runs)} | "
            f"{statistics.median(run[2] for run in runs):.3g} | lr {lr:g}, {epochs} epochs | "
            f"{best:.3f} | {accuracy - best:+.3f} | {'yes' if accuracy >= best - 0.01 else 'no'} |"
        )
        for rule, parameters in RULES.items():
            outcomes = [
                (accuracies[kept], stop + 1)
                for losses, accuracies in recorded[DEFAULT_LR]
                for stop, kept in [replay(losses, parameters)]
            ]
            replayed[rule][name] = (
                statistics.mean(a for a, _ in outcomes) - best,
                statistics.mean(e for _, e in outcomes),
            )
        grids.append(
            f"\n{name}, grid (test accuracy, mean of {options.seeds} seeds):\n\n"
            "| learning rate | "
            + " | ".join(f"{e} epochs" for e in EPOCHS)
            + " |\n"
            + "|---" * (len(EPOCHS) + 1)
            + "|\n"
            + "\n".join(
                f"| {lr:g} | " + " | ".join(f"{means[lr, e]:.3f}" for e in EPOCHS) + " |"
                for lr in LEARNING_RATES
            )
        )
    done = [name for name in DATA_SETS if name in names]
    grids.append(
        f"\nStopping rules replayed on the recorded trainings at learning rate {DEFAULT_LR}: "
        "accuracy of the kept epoch minus the best grid cell, and epochs run (mean of "
        "seeds):\n\n| rule | "
        + " | ".join(done)
        + " | worst |\n"
        + "|---" * (len(done) + 2)
        + "|\n"
        + "\n".join(
            f"| {rule} | "
            + " | ".join(f"{gap:+.3f} ({epochs:.0f})" for gap, epochs in results.values())
            + f" | {min(gap for gap, _ in results.values()):+.3f} |"
            for rule, results in replayed.items()
        )
    )
    if "Airline" in names:
        print("Airline ...", file=sys.stderr, flush=True)
        maes, ridge = airline(seeds, **params)
        ratio = statistics.mean(maes["default, raw windows"]) / statistics.mean(
            maes["standardised by hand"]
        )
        grids.append(
            "\nAirline, MAE of the last 24 months (thousands of passengers): "
            + "; ".join(
                f"{what} {statistics.mean(values):.1f} ({', '.join(f'{v:.1f}' for v in values)})"
                for what, values in maes.items()
            )
            + f"; ratio {ratio:.2f} (target <= 1.1); Ridge on the raw windows {ridge:.1f}"
        )
    header = [
        f"date: {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"sklstm {sklstm.__version__}, seeds: {options.seeds}, readout: "
        f"{options.readout or LSTMClassifier().readout}",
        f"command: {shlex.join(['python', *sys.argv])}",
    ]
    text = "\n".join(f"- {line}" for line in header) + "\n\n" + "\n".join(lines) + "\n"
    text += "\n".join(grids) + "\n"
    print(text)
    if options.markdown:
        Path(options.markdown).write_text(text)


if __name__ == "__main__":
    main()
