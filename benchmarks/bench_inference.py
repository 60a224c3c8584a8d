"""Inference against onnxruntime, and threads on a busy machine: issue 18's rows that
``bench_training.py`` does not print.

- predict all of M (10,000 x 50 x 8, H=64) and of L's shape (2,000 x 100 x 32, H=256),
  and one sequence of M's shape: ``est.predict`` against onnxruntime on the model that
  ``sklstm.onnx.to_onnx`` exports (the same weights), both on ``--threads`` threads;
  onnxruntime at its best batch size of 256, 1024, 4096 and all samples (a batch size per
  call: its time is the median of the run's calls), and for one sequence at its best of
  1 and ``--threads`` threads (sklstm predicts fewer than 17 sequences on one thread);
- the bundled demo (JapaneseVowels, ``LSTMClassifier(64, batch_size=32)``, 20 epochs,
  every other parameter at its default): fit on 2 threads against 1 thread, on an idle
  machine and with one core kept busy by a spinning process (as another job, or an
  ``n_jobs`` search, would).

Ratios are medians over rounds of the ratio within a round (``bench_training.
paired_ratio``). Targets: issue 18's. Run from the repository root, after
``pip install . onnxruntime``, on an otherwise idle machine::

    python benchmarks/bench_inference.py [--repeats 5] [--threads 2]
"""

import argparse
import multiprocessing
import shlex
import statistics
import sys
import warnings
from datetime import datetime

import onnxruntime
from bench_training import make_data, paired_ratio, time_interleaved
from threadpoolctl import threadpool_limits

import sklstm
from sklstm import LSTMClassifier, LSTMRegressor
from sklstm.datasets import load_japanese_vowels
from sklstm.onnx import to_onnx

ORT_BATCHES = (256, 1024, 4096, None)  # None: all samples in one call
DEMO_EPOCHS = 20
TARGETS = {
    "predict all of M": 0.8,
    "predict all of L's shape": 0.8,
    "predict 1 sequence of M's shape": 0.8,
    "demo fit, 2 / 1 threads, one core busy": 1.0,
    "demo fit, 2 / 1 threads, idle": 1.0,
}


def fitted(name):
    """A regressor of workload ``name``'s shape, one epoch (the weights do not change the
    cost of a prediction)."""
    X, y = make_data(name, 1)
    hidden = {"M": (64,), "L": (256,)}[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LSTMRegressor(hidden, max_iter=1, random_state=0).fit(X[:256], y[:256]), X


def session(est, n_threads):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = n_threads, 1
    return onnxruntime.InferenceSession(to_onnx(est).SerializeToString(), options)


def ort_predict(sess, X, batch):
    def predict():
        step = len(X) if batch is None else batch
        for start in range(0, len(X), step):
            sess.run(None, {"X": X[start : start + step]})

    return predict


# Each prediction row: the workload whose shape it takes, and whether one sequence only.
PREDICT_ROWS = {
    "predict all of M": ("M", False),
    "predict all of L's shape": ("L", False),
    "predict 1 sequence of M's shape": ("M", True),
}


def predict_row(name, n_threads, repeats, rows):
    """est.predict on all of X (or its first sequence) against onnxruntime's best batch."""
    workload, one = PREDICT_ROWS[name]
    est, X = fitted(workload)
    X = X[:1] if one else X
    functions = {"sklstm": lambda: est.predict(X)}
    if one:  # a latency: onnxruntime on one thread as well, which is its best here
        for n in sorted({1, n_threads}):
            sess = session(est, n)
            functions[f"onnxruntime, {n} thread{'s' * (n > 1)}"] = ort_predict(sess, X, None)
    else:
        sess = session(est, n_threads)
        functions.update(
            {f"onnxruntime, batch {b or len(X)}": ort_predict(sess, X, b) for b in ORT_BATCHES}
        )
    with threadpool_limits(limits=n_threads, user_api="openmp"):
        runs = time_interleaved(functions, repeats, calls=200 if one else 1)
    best = min(list(functions)[1:], key=lambda k: statistics.median(runs[k]))
    rows.append(
        (
            name,
            statistics.median(runs["sklstm"]),
            statistics.median(runs[best]),
            best,
            paired_ratio(runs, "sklstm", best),
        )
    )


def demo_fit(n_threads):
    X, y = load_japanese_vowels(return_X_y=True)

    def fit():
        with threadpool_limits(limits=n_threads, user_api="openmp"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            LSTMClassifier(64, batch_size=32, max_iter=DEMO_EPOCHS, random_state=0).fit(X, y)

    return fit


def _spin(spinning):
    spinning.set()
    while True:
        pass


def threads_row(name, repeats, busy, rows):
    spinner = None
    if busy:
        context = multiprocessing.get_context("spawn")
        spinning = context.Event()
        spinner = context.Process(target=_spin, args=(spinning,), daemon=True)
        spinner.start()
        spinning.wait()  # the fits are timed on a busy machine from the first one
    try:
        runs = time_interleaved({"2": demo_fit(2), "1": demo_fit(1)}, repeats)
    finally:
        if spinner is not None:
            spinner.terminate()
            spinner.join()
    rows.append(
        (
            name,
            statistics.median(runs["2"]),
            statistics.median(runs["1"]),
            "sklstm, 1 thread",
            paired_ratio(runs, "2", "1"),
        )
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    options = parser.parse_args(argv)
    rows = []
    for name in PREDICT_ROWS:
        print(f"{name} ...", file=sys.stderr, flush=True)
        predict_row(name, options.threads, options.repeats, rows)
    for name, busy in (
        ("demo fit, 2 / 1 threads, idle", False),
        ("demo fit, 2 / 1 threads, one core busy", True),
    ):
        print(f"{name} ...", file=sys.stderr, flush=True)
        threads_row(name, options.repeats, busy, rows)
    header = [
        f"date: {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"sklstm {sklstm.__version__}, onnxruntime {onnxruntime.__version__}, "
        f"{options.threads} threads, repeats: {options.repeats} (medians)",
        f"command: {shlex.join(['python', *sys.argv])}",
    ]
    lines = [
        "| row | sklstm (s) | against (s) | against | ratio | target | met? |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, ours, theirs, against, ratio in rows:
        target = TARGETS[name]
        lines.append(
            f"| {name} | {ours:.4g} | {theirs:.4g} | {against} | {ratio:.2f} | <= {target} "
            f"| {'yes' if ratio <= target else 'no'} |"
        )
    print("\n".join(f"- {line}" for line in header) + "\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
