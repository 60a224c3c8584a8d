"""Streaming inference (issue 17): the cost of one step of one stream at M's shape.

One ``LSTMRegressor`` of M's shape (8 features, one layer of 64 units, float32; issue 17's
target: an update under 10 us including Python's overhead), fitted for one epoch on random
data (the weights do not change the cost). For one stream, after 50 steps:

- ``stream.update(x)``, x a float32 (8,) array: the fast path;
- ``stream.update(x)`` then ``stream.predict()``: a service's answer at each step;
- ``est.predict`` of the 50 steps so far, (1, 50, 8): what a service without a stream
  pays at each step;
- onnxruntime on the exported model (``sklstm.onnx.to_onnx``), when installed. The
  exported graph takes no initial states, so a step cannot continue a sequence: it runs
  the 50 steps so far (the equivalent of ``est.predict``) and, for orientation, a
  sequence of one step (what one call of a one-step graph costs at least, state aside).

Each figure is the median over ``--rounds`` rounds of the mean of ``--calls`` calls, in
microseconds, the methods alternating within a round.

Run from the repository root, after ``pip install .``::

    python benchmarks/bench_streaming.py [--rounds 15] [--calls 2000] [--cell lstm]
                                         [--readout last]
"""

import argparse
import statistics
import time
import warnings

import numpy as np

import sklstm
from sklstm import LSTMRegressor

N_FEATURES, HIDDEN, STEPS = 8, 64, 50


def model(cell, readout):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, STEPS, N_FEATURES)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LSTMRegressor(HIDDEN, cell=cell, readout=readout, max_iter=1, random_state=0).fit(
            X, X[:, -1, 0]
        )


def onnx_session(est):
    """An onnxruntime session of the exported model, single-threaded, or None."""
    try:
        import onnxruntime
    except ImportError:
        return None
    from sklstm.onnx import to_onnx

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(to_onnx(est).SerializeToString(), options)


def per_call(f, calls):
    """Microseconds per call of f, over ``calls`` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        f()
    return (time.perf_counter() - start) / calls * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--readout", default="last")
    args = parser.parse_args()

    est = model(args.cell, args.readout)
    sequence = np.random.default_rng(1).normal(size=(1, STEPS, N_FEATURES)).astype(np.float32)
    stream = est.stream()
    for x in sequence[0]:
        stream.update(x)
    x = sequence[0, -1]

    def update_predict():
        stream.update(x)
        stream.predict()

    methods = {
        "update": lambda: stream.update(x),
        "update + predict": update_predict,
        f"est.predict, T={STEPS}": lambda: est.predict(sequence),
    }
    session = onnx_session(est)
    if session is not None:
        one_step = sequence[:, -1:]
        methods[f"onnxruntime, T={STEPS}"] = lambda: session.run(None, {"X": sequence})
        methods["onnxruntime, T=1 (no state)"] = lambda: session.run(None, {"X": one_step})

    times = {name: [] for name in methods}
    for _ in range(args.rounds):
        for name, f in methods.items():
            times[name].append(per_call(f, args.calls))
    print(
        f"sklstm {sklstm.__version__}, one stream, {args.cell.upper()} of {N_FEATURES} "
        f"features, {HIDDEN} units, readout {args.readout!r}, float32; median of "
        f"{args.rounds} rounds of {args.calls} calls"
    )
    if session is None:
        print("onnxruntime is not installed: no ONNX figures.")
    for name, values in times.items():
        print(f"{name:>30}: {statistics.median(values):8.2f} us")


if __name__ == "__main__":
    main()
