"""``python -m sklstm``: train on the bundled Japanese Vowels data and report test accuracy."""

import argparse
import time

from sklearn.pipeline import make_pipeline

from . import LSTMClassifier, __version__
from ._threading import effective_n_threads
from .datasets import load_japanese_vowels
from .preprocessing import SequenceScaler


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sklstm", description=__doc__)
    parser.add_argument("--random-state", type=int, default=0, help="seed (default: 0)")
    args = parser.parse_args(argv)

    X_train, y_train = load_japanese_vowels(subset="train", return_X_y=True)
    X_test, y_test = load_japanese_vowels(subset="test", return_X_y=True)
    model = make_pipeline(SequenceScaler(), LSTMClassifier(random_state=args.random_state))
    print(
        f"sklstm {__version__}: Japanese Vowels, {len(X_train)} training and "
        f"{len(X_test)} test sequences of 7-29 steps x 12 features, 9 speakers"
    )
    print(f"model: {model[-1]!r}, {effective_n_threads()} threads")

    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_time = time.perf_counter() - start

    print(f"epochs: {model[-1].n_iter_}, final training loss: {model[-1].loss_:.4f}")
    print(f"fit time: {fit_time:.2f} s")
    print(f"test accuracy: {model.score(X_test, y_test):.4f}")
    print(f"reproduce: python -m sklstm --random-state {args.random_state}")


if __name__ == "__main__":
    main()
