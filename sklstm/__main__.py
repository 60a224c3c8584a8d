"""``python -m sklstm``: train on the bundled Japanese Vowels data and report test accuracy."""

import argparse
import shlex
import sys
import time

from sklearn.pipeline import make_pipeline

from . import LSTMClassifier, __version__
from ._threading import effective_n_threads
from .datasets import load_japanese_vowels
from .preprocessing import SequenceScaler


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m sklstm",
        description="Train an LSTM classifier on the bundled Japanese Vowels data set and "
        "report its test accuracy and fit time.",
    )
    parser.add_argument("--random-state", type=int, default=0, help="seed (default: 0)")
    parser.add_argument("--plot", metavar="FILE.png", help="save the loss curve to this file")
    args = parser.parse_args(argv)
    if args.plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            parser.error("--plot needs matplotlib: pip install matplotlib")

    X_train, y_train = load_japanese_vowels(subset="train", return_X_y=True)
    X_test, y_test = load_japanese_vowels(subset="test", return_X_y=True)
    clf = LSTMClassifier(random_state=args.random_state, verbose=True)
    model = make_pipeline(SequenceScaler(), clf)
    print(
        f"sklstm {__version__}: Japanese Vowels, {len(X_train)} training and "
        f"{len(X_test)} test sequences of 7-29 steps x 12 features, 9 speakers"
    )
    n_threads = effective_n_threads()
    print(f"model: {clf!r}, {n_threads} thread{'s' if n_threads > 1 else ''}")

    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_time = time.perf_counter() - start

    print(f"epochs: {clf.n_iter_}, final training loss: {clf.loss_:.4f}")
    print(f"fit time: {fit_time:.2f} s")
    print(f"test accuracy: {model.score(X_test, y_test):.4f}")
    if args.plot:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(range(1, clf.n_iter_ + 1), clf.loss_curve_)
        ax.set(
            xlabel="epoch",
            ylabel="training loss (cross-entropy)",
            yscale="log",
            title="sklstm on Japanese Vowels",
        )
        fig.tight_layout()
        fig.savefig(args.plot)
        print(f"loss curve: {args.plot}")
    given = sys.argv[1:] if argv is None else argv
    print(f"reproduce: {shlex.join(['python', '-m', 'sklstm', *given])}")


if __name__ == "__main__":
    main()
