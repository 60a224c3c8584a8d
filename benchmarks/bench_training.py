"""Training and prediction speed of sklstm against PyTorch, and Keras when it is installed.

What is measured, each as the median of ``--repeats`` runs after one warm-up run:

- seconds per training epoch on the workloads S, M, L, K and V (``WORKLOADS`` below), with
  the rate sklstm achieves in GFLOP/s and as a share of the machine's sgemm peak;
- ``predict`` on all samples of M (seconds), and the latency of ``predict`` on one sequence
  of M's shape (milliseconds; each run is the median of ``ONE_SEQUENCE_CALLS`` calls);
- the speed-up of training on L from 1 thread to ``--threads`` threads;
- the peak memory of one epoch on L above the process baseline (MB).

How. Every workload is float32 random normal data (X and y) from ``np.random.default_rng(0)``,
trained with Adam (learning rate 1e-3) on the mean squared error of a linear head over the
last hidden state, one epoch being one pass in shuffled mini-batches.

- sklstm: an epoch is a whole ``LSTMRegressor(max_iter=1).fit(X, y)``, validation and
  initialisation included, as a user pays it. Threads are set with threadpoolctl on OpenMP.
- torch: ``nn.LSTM`` + ``nn.Linear`` + ``torch.optim.Adam`` in a plain loop, on
  ``torch.set_num_threads`` threads; V's batches are ``pack_sequence``-d.
- keras (Keras 3 on TensorFlow): ``model.fit`` for one epoch, the first call (tracing) being
  the warm-up. It runs in a child process, because TensorFlow's thread counts can only be
  set before it initialises. It takes no ragged batches, so V is "n/a" for it.

sklstm and torch runs alternate, so that drift on a shared machine affects both alike, and
each ratio is the median of the per-round ratios (``paired_ratio``). Peak
memory is the growth of the peak resident set (VmHWM) in a child process per library, over a
baseline taken after imports, data and a warm-up fit on a few samples. The machine's limit is
numpy's float32 2048x2048 ``a @ b`` on the same number of threads, timed in every round of
the training rows, so that the share of it is a paired ratio too; training does
``6 * 4H * (D_in + H)`` flops per sample-step per layer in its gemms (forward 2x, backward 4x;
``3H`` for a GRU).

``--cell gru`` runs every workload with GRUs instead: sklstm's ``cell="gru"``, torch's
``nn.GRU``, Keras's ``GRU`` (``reset_after=True``, its default: PyTorch's equations).

Run from the repository root, after ``pip install . torch==2.13.0``::

    python benchmarks/bench_training.py [--threads 2] [--repeats 3] [--only S,M,predict1]
                                        [--cell lstm|gru] [--quick] [--markdown FILE]

``--quick`` divides every number of samples by 10: a smoke run, not for publishing.
"""

import argparse
import importlib.metadata
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import NamedTuple

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits
from torch import nn
from torch.nn.utils.rnn import pack_sequence

import sklstm
from sklstm import LSTMRegressor


class Workload(NamedTuple):
    n_samples: int
    n_timesteps: int | tuple  # (shortest, longest) for sequences of uniform random lengths
    n_features: int
    hidden: tuple
    batch_size: int


WORKLOADS = {
    "S": Workload(4000, 30, 8, (32,), 32),
    "M": Workload(10000, 50, 8, (64,), 64),
    "L": Workload(2000, 100, 32, (256,), 64),
    "K": Workload(5000, 40, 16, (64, 64), 64),
    "V": Workload(5000, (10, 80), 12, (64,), 64),
}
# Targets on sklstm time / torch time, at the same thread count (issues 3 and 18; a GRU's:
# at most GRU_TARGET, issue 18).
TRAINING_TARGETS = {"S": 0.5, "M": 0.6, "L": 0.75, "K": 0.6, "V": 0.25}
GRU_TARGET = 0.6
L_PEAK_TARGET = 85  # percent of the sgemm peak that L must reach
PREDICT_TARGETS = {"predictM": 0.75, "predict1": 0.1}
SPEEDUP_TARGET = 1.7
ROW_KEYS = [*WORKLOADS, "predictM", "predict1", "L_threads", "memory"]

QUICK_SCALE = 10  # --quick divides every n_samples by this
ONE_SEQUENCE_CALLS = 200
PREDICT_CHUNK = 1024  # samples per forward pass of the peers' batched predict
MEMORY_WARMUP_SAMPLES = 4  # fewer than a batch: the baseline holds no full-batch buffers
SGEMM_SIZE = 2048
SGEMM_FLOPS = 2 * SGEMM_SIZE**3
SETTLE_SECONDS = 0.3  # pause after every timed run (see time_interleaved)


# Data and flop counts ---------------------------------------------------------------------


@cache
def make_data(name, scale):
    """X (a 3-D array, or a list of 2-D arrays for V) and y of workload ``name``."""
    w = WORKLOADS[name]
    rng = np.random.default_rng(0)
    n = w.n_samples // scale
    if isinstance(w.n_timesteps, tuple):
        lengths = rng.integers(w.n_timesteps[0], w.n_timesteps[1], size=n, endpoint=True)
        X = [rng.standard_normal((t, w.n_features), dtype=np.float32) for t in lengths]
    else:
        X = rng.standard_normal((n, w.n_timesteps, w.n_features), dtype=np.float32)
    return X, rng.standard_normal(n, dtype=np.float32)


# The recurrent cell of every library's model (--cell): gate blocks per unit.
GATES = {"lstm": 4, "gru": 3}
CELL = "lstm"


def epoch_flops(w, X):
    """Flops of the gemms of one training epoch on X."""
    per_step, d_in = 0, w.n_features
    for H in w.hidden:
        per_step += 6 * GATES[CELL] * H * (d_in + H)
        d_in = H
    return per_step * sum(map(len, X))


def sgemm_product(n_threads):
    """The machine's limit: numpy's float32 matrix product on ``n_threads`` BLAS threads, a
    function timed in the same rounds as the workloads (the peak drifts with the host)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((SGEMM_SIZE,) * 2, dtype=np.float32) for _ in range(2))

    def product():
        with threadpool_limits(limits=n_threads, user_api="blas"):
            a @ b

    return product


# Timing -------------------------------------------------------------------------------------


def time_interleaved(functions, repeats, calls=1):
    """Seconds of each run of ``functions`` (name -> callable): ``repeats`` rounds, each
    function once per round in turn, after one warm-up call each; with ``calls`` > 1, one
    run is the median of that many calls. Returns name -> list of run times, in rounds.

    Each run is followed by a pause of ``SETTLE_SECONDS``: a library's idle threads keep
    spinning for a while after its work (OpenBLAS's for ~0.1 s), and would otherwise take
    the cores from the next run (measured: S's epoch ran 2.8x slower right after the sgemm).
    """
    for function in functions.values():
        function()
        time.sleep(SETTLE_SECONDS)
    runs = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            runs[name].append(statistics.median(_call_times(function, calls)))
            time.sleep(SETTLE_SECONDS)
    return runs


def paired_ratio(runs, a="sklstm", b="torch"):
    """Median over rounds of a's time / b's time in the same round. The machine's speed
    drifts by tens of percent over seconds; runs of one round are seconds apart, so their
    ratio is far steadier than the ratio of the two medians."""
    return statistics.median(x / y for x, y in zip(runs[a], runs[b], strict=True))


def _call_times(function, calls):
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


# The libraries: each sets its threads, makes a one-epoch function, predicts with a model -----


class Sklstm:
    name = "sklstm"

    def set_threads(self, n):
        # Not a context manager: the limit holds until the next call.
        threadpool_limits(limits=n, user_api="openmp")

    def trainer(self, w, X, y):
        def epoch():
            return LSTMRegressor(
                hidden_layer_sizes=w.hidden,
                cell=CELL,
                readout="last",  # torch's loop reads the final states: the same network
                batch_size=w.batch_size,
                max_iter=1,
                learning_rate_init=1e-3,
                alpha=0.0,
                random_state=0,
                # The workloads' data are standard normal already, as torch's loop takes
                # them: the same work in both.
                standardize_X=False,
                standardize_y=False,
            ).fit(X, y)

        return epoch

    def predictor(self, model):
        return model.predict


class TorchRNN(nn.Module):
    def __init__(self, n_features, hidden):
        super().__init__()
        if len(set(hidden)) > 1:
            raise ValueError("nn.LSTM and nn.GRU stack layers of one size only.")
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[CELL]
        self.rnn = rnn(n_features, hidden[0], num_layers=len(hidden), batch_first=True)
        self.head = nn.Linear(hidden[0], 1)

    def forward(self, x):
        _, h_n = self.rnn(x)
        if isinstance(h_n, tuple):  # an LSTM's (h_n, c_n)
            h_n = h_n[0]
        return self.head(h_n[-1]).squeeze(1)


class Torch:
    name = "torch"

    def set_threads(self, n):
        torch.set_num_threads(n)

    def trainer(self, w, X, y):
        torch.manual_seed(0)
        model = TorchRNN(w.n_features, w.hidden)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = nn.MSELoss()
        batch = _torch_batcher(X)
        targets = torch.from_numpy(y)

        def epoch():
            model.train()
            for idx in torch.randperm(len(targets)).split(w.batch_size):
                loss = loss_fn(model(batch(idx)), targets[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            return model

        return epoch

    def predictor(self, model):
        model.eval()

        @torch.no_grad()
        def predict(X):
            chunks = torch.from_numpy(X).split(PREDICT_CHUNK)
            return torch.cat([model(chunk) for chunk in chunks]).numpy()

        return predict


def _torch_batcher(X):
    """A function from sample indices to a batch: rows of a 3-D array, or packed sequences."""
    if isinstance(X, np.ndarray):
        data = torch.from_numpy(X)
        return lambda idx: data[idx]
    seqs = [torch.from_numpy(x) for x in X]
    return lambda idx: pack_sequence([seqs[i] for i in idx.tolist()], enforce_sorted=False)


class Keras:
    name = "keras"

    def set_threads(self, n):
        # Must run before TensorFlow initialises; setting the same counts again is a no-op.
        os.environ["KERAS_BACKEND"] = "tensorflow"
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)

    def trainer(self, w, X, y):
        import keras

        keras.utils.set_random_seed(0)
        last = len(w.hidden) - 1
        layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[CELL]  # GRU: reset_after
        model = keras.Sequential(
            [
                keras.Input(X.shape[1:]),
                *(layer(H, return_sequences=i < last) for i, H in enumerate(w.hidden)),
                keras.layers.Dense(1),
            ]
        )
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")

        def epoch():
            model.fit(X, y, batch_size=w.batch_size, epochs=1, verbose=0, shuffle=True)
            return model

        return epoch

    def predictor(self, model):
        def predict(X):
            # Keras's advice: call the model on an input this small, predict() on datasets.
            if len(X) == 1:
                return np.asarray(model(X, training=False))
            return model.predict(X, batch_size=PREDICT_CHUNK, verbose=0)

        return predict


LIBRARIES = {lib.name: lib for lib in (Sklstm(), Torch(), Keras())}


def keras_version():
    """'keras X (tensorflow Y)', or None unless both are installed."""
    versions = []
    for names in (["keras"], ["tensorflow", "tensorflow-cpu"]):
        for name in names:
            try:
                versions.append(importlib.metadata.version(name))
                break
            except importlib.metadata.PackageNotFoundError:
                pass
    return f"keras {versions[0]} (tensorflow {versions[1]})" if len(versions) == 2 else None


# Measurements, shared by this process (sklstm, torch) and the Keras child --------------------


@cache
def measure(key, libraries, n_threads, repeats, scale):
    """Each library's run times for a workload name, "predictM" or "predict1" (this one in
    ms), as ``time_interleaved`` returns them."""
    libs = [LIBRARIES[name] for name in libraries]
    for lib in libs:
        lib.set_threads(n_threads)
    if key in WORKLOADS:
        X, y = make_data(key, scale)
        functions = {lib.name: lib.trainer(WORKLOADS[key], X, y) for lib in libs}
        if "sklstm" in libraries:
            functions["sgemm"] = sgemm_product(n_threads)
        return time_interleaved(functions, repeats)
    X, y = make_data("M", scale)
    predictors = {lib.name: lib.predictor(lib.trainer(WORKLOADS["M"], X, y)()) for lib in libs}
    if key == "predictM":
        return time_interleaved({name: lambda p=p: p(X) for name, p in predictors.items()}, repeats)
    one = X[:1]
    seconds = time_interleaved(
        {name: lambda p=p: p(one) for name, p in predictors.items()}, repeats, ONE_SEQUENCE_CALLS
    )
    return {name: [1e3 * s for s in runs] for name, runs in seconds.items()}


def peak_memory_mb(library, n_threads, scale):
    """Growth of the peak resident memory over one training epoch on L, in MB."""
    lib = LIBRARIES[library]
    lib.set_threads(n_threads)
    w = WORKLOADS["L"]
    X, y = make_data("L", scale)
    # A tiny fit first, so that the library's own first-use allocations are in the baseline.
    lib.trainer(w, X[:MEMORY_WARMUP_SAMPLES], y[:MEMORY_WARMUP_SAMPLES])()
    baseline = peak_rss_mb()
    lib.trainer(w, X, y)()
    return peak_rss_mb() - baseline


def peak_rss_mb():
    """This process's peak resident memory (Linux). Not ``ru_maxrss``: Linux carries that over
    from the parent through fork and exec, so in a child of a big parent it starts high."""
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["VmHWM"].split()[0]) / 1024  # kB


def run_child(args, options):
    """Run this script with ``args`` in a fresh process and return the JSON it prints."""
    common = ["--threads", str(options.threads), "--repeats", str(options.repeats)]
    common += ["--cell", CELL]
    command = [sys.executable, __file__, *args, *common, *(["--quick"] if options.quick else [])]
    out = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


# Rows of the table --------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    values: dict  # library -> number, or a note such as "n/a"
    fmt: str  # format of the values
    target: str
    met: bool
    ratio: float | None = None  # sklstm / torch
    gflops: float | None = None
    peak_percent: float | None = None


class Bench:
    """The parent run: measures sklstm and torch here, Keras and memory in child processes."""

    def __init__(self, options):
        self.options = options
        self.threads = options.threads
        self.scale = options.scale
        self.keras = keras_version()
        self.libraries = ("sklstm", "torch", "keras") if self.keras else ("sklstm", "torch")
        self.sgemm_runs = {}  # thread count -> sgemm seconds from the training rows' rounds
        self.keras_results = self._run_keras() if self.keras else {}

    def _run_keras(self):
        """Keras's results per thread count, from one child process per thread count."""
        keys = {self.threads: [], 1: []}
        for key in self.options.only:
            if (key in WORKLOADS and key != "V") or key in PREDICT_TARGETS:
                keys[self.threads].append(key)
            elif key == "L_threads":
                keys[self.threads].append("L")
                keys[1].append("L")
        results = {}
        for n, wanted in keys.items():
            if wanted:
                wanted = ",".join(dict.fromkeys(wanted))  # L may be there twice
                log(f"keras on {n} thread(s): {wanted}")
                options = argparse.Namespace(**{**vars(self.options), "threads": n})
                results[n] = run_child(["--keras", wanted], options)
        return results

    def _measure(self, key, n_threads):
        """(median time of each library, sklstm / torch as the median of paired ratios)."""
        runs = measure(key, ("sklstm", "torch"), n_threads, self.options.repeats, self.scale)
        values = {name: statistics.median(runs[name]) for name in ("sklstm", "torch")}
        if "sgemm" in runs:
            self.sgemm_runs.setdefault(n_threads, []).extend(runs["sgemm"])
        if self.keras:
            keras_runs = self.keras_results.get(n_threads, {}).get(key)
            values["keras"] = statistics.median(keras_runs) if keras_runs else "n/a"
        return values, paired_ratio(runs)

    def row(self, key):
        log(f"measuring {key}")
        if key in WORKLOADS:
            return self._training_row(key)
        if key in PREDICT_TARGETS:
            return self._predict_row(key)
        return self._threads_row() if key == "L_threads" else self._memory_row()

    def _training_row(self, key):
        values, ratio = self._measure(key, self.threads)
        flops = epoch_flops(WORKLOADS[key], make_data(key, self.scale)[0])
        gflops = flops / values["sklstm"] / 1e9
        # Against the peak of the same rounds, as the ratio to torch is.
        runs = measure(key, ("sklstm", "torch"), self.threads, self.options.repeats, self.scale)
        percent = 100 * flops / SGEMM_FLOPS * paired_ratio(runs, "sgemm", "sklstm")
        bound = TRAINING_TARGETS[key] if CELL == "lstm" else min(TRAINING_TARGETS[key], GRU_TARGET)
        target, met = f"<= {bound}", ratio <= bound
        if key == "L":
            target += f", >= {L_PEAK_TARGET}% peak"
            met = met and percent >= L_PEAK_TARGET
        return Row(f"{key} (s/epoch)", values, "{:.3f}", target, met, ratio, gflops, percent)

    def _predict_row(self, key):
        values, ratio = self._measure(key, self.threads)
        label = "predict all of M (s)" if key == "predictM" else "predict 1 sequence (ms)"
        target = PREDICT_TARGETS[key]
        return Row(label, values, "{:.3f}", f"<= {target}", ratio <= target, ratio)

    def _threads_row(self):
        (many, _), (one, _) = self._measure("L", self.threads), self._measure("L", 1)
        speedups = {
            lib: one[lib] / many[lib] if isinstance(many[lib], float) else many[lib]
            for lib in self.libraries
        }
        met = speedups["sklstm"] >= SPEEDUP_TARGET
        label = f"L, {self.threads} vs 1 threads (x)"
        return Row(label, speedups, "{:.2f}x", f">= {SPEEDUP_TARGET}x", met)

    def _memory_row(self):
        values = {}
        for lib in self.libraries:
            log(f"peak memory of {lib}")
            values[lib] = run_child(["--memory", lib], self.options)["peak_mb"]
        ratio = values["sklstm"] / values["torch"]
        return Row("peak memory, fit L (MB)", values, "{:.1f}", "<= 1", ratio <= 1, ratio)


# Output -------------------------------------------------------------------------------------


def header(bench):
    options = bench.options
    versions = [
        f"sklstm {sklstm.__version__}",
        f"torch {torch.__version__}",
        f"numpy {np.__version__}",
        bench.keras or "keras not installed",
    ]
    peaks = ", ".join(
        f"{SGEMM_FLOPS / statistics.median(runs) / 1e9:.1f} GFLOP/s on {n} thread(s)"
        for n, runs in sorted(bench.sgemm_runs.items(), reverse=True)
    )
    lines = [
        f"date: {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)",
        f"cell: {CELL}; threads: {options.threads}, repeats: {options.repeats} (median reported)",
        f"versions: {', '.join(versions)}",
        f"sgemm peak (numpy float32 {SGEMM_SIZE}x{SGEMM_SIZE}, median over the training "
        f"rows' rounds): {peaks or 'not measured (no training row)'}",
        f"command: {shlex.join(['python', *sys.argv])}",
    ]
    if options.quick:
        lines.insert(0, f"QUICK run (n_samples / {QUICK_SCALE}): not for publishing")
    return "\n".join(f"- {line}" for line in lines)


def cpu_model():
    with open("/proc/cpuinfo") as f:
        models = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    return models[0] if models else platform.processor()


def table(rows, libraries):
    """A pipe table, padded so that it also reads as plain text."""
    head = ["workload", *libraries, "sklstm/torch", "target", "met?"]
    head += ["sklstm GFLOP/s", "% of sgemm peak"]
    cells = [head]
    for row in rows:
        values = [_cell(row.values[lib], row.fmt) for lib in libraries]
        cells.append(
            [
                row.label,
                *values,
                _cell(row.ratio, "{:.2f}"),
                row.target,
                "yes" if row.met else "no",
                _cell(row.gflops, "{:.1f}"),
                _cell(row.peak_percent, "{:.0f}%"),
            ]
        )
    widths = [max(len(line[i]) for line in cells) for i in range(len(head))]
    cells.insert(1, ["-" * width for width in widths])
    return "\n".join(
        "| "
        + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        + " |"
        for line in cells
    )


def _cell(value, fmt):
    if value is None:
        return ""
    return value if isinstance(value, str) else fmt.format(value)


def log(message):
    print(message, file=sys.stderr, flush=True)


# Entry point --------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="threads of every library")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement")
    parser.add_argument(
        "--only",
        type=lambda s: s.split(","),
        default=ROW_KEYS,
        help=f"comma-separated rows, of {','.join(ROW_KEYS)}",
    )
    parser.add_argument("--quick", action="store_true", help="n_samples / 10: a smoke run")
    parser.add_argument(
        "--cell", choices=list(GATES), default="lstm", help="every library's recurrent cell"
    )
    parser.add_argument("--markdown", metavar="FILE", help="also write the output to FILE")
    # Run by the script itself in a child process; each prints one JSON line.
    parser.add_argument("--memory", choices=list(LIBRARIES), help=argparse.SUPPRESS)
    parser.add_argument("--keras", type=lambda s: s.split(","), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    unknown = set(options.only) - set(ROW_KEYS)
    if unknown:
        parser.error(f"unknown rows {sorted(unknown)}; choose among {','.join(ROW_KEYS)}")
    options.only = [key for key in ROW_KEYS if key in options.only]
    options.scale = QUICK_SCALE if options.quick else 1
    return options


def main(argv=None):
    global CELL
    options = parse_args(argv)
    CELL = options.cell
    # max_iter=1 is one epoch on purpose.
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    if options.memory:
        peak = peak_memory_mb(options.memory, options.threads, options.scale)
        print(json.dumps({"peak_mb": peak}))
    elif options.keras:
        args = ("keras",), options.threads, options.repeats, options.scale
        print(json.dumps({key: measure(key, *args)["keras"] for key in options.keras}))
    else:
        bench = Bench(options)
        rows = [bench.row(key) for key in options.only]
        text = f"{header(bench)}\n\n{table(rows, bench.libraries)}\n"
        print(text)
        if options.markdown:
            with open(options.markdown, "w") as f:
                f.write(text)


if __name__ == "__main__":
    main()
