"""Bad input, faults during training, load, concurrency and persistence."""

import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
import numpy as np
import pytest
from bad_inputs import CASES, INVALID_PARAMETERS, message, table
from sklearn.pipeline import make_pipeline

from sklstm import (
    SKOPS_TRUSTED_TYPES,
    DivergenceWarning,
    LSTMClassifier,
    LSTMRegressor,
    LSTMStepClassifier,
    LSTMStepRegressor,
    _network,
)
from sklstm._estimators import _BaseLSTM
from sklstm._losses import SquaredError
from sklstm.preprocessing import FromChannelsFirst, PiecewiseAggregate, SequenceScaler

# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_bad_input_is_refused_before_anything_changes(case):
    est = case.prepare()
    state = pickle.dumps(est.__dict__)
    with pytest.raises(case.error):
        getattr(est, case.method)(*case.args)
    assert pickle.dumps(est.__dict__) == state


def test_every_hyperparameter_has_a_bad_value_case():
    constraints = {
        *_BaseLSTM._parameter_constraints,
        *LSTMClassifier._parameter_constraints,
        *LSTMRegressor._parameter_constraints,
    }
    assert constraints == set(INVALID_PARAMETERS)


def test_the_table_of_bad_inputs_is_current():
    readme = (Path(__file__).parent / "README.md").read_text()
    assert table() in readme, "tests/README.md is stale: python tests/bad_inputs.py prints it"


def test_error_messages_name_the_problem():
    named = {
        "NaN in X": "NaN",
        "zero-length sequence in a ragged list": "Sequence 1",
        "X and y of different lengths": "12 sequences but y has 11",
        "ragged sequences with different feature counts": "4 features per time step",
    }
    for case in CASES:
        if case.name in named:
            assert named[case.name] in message(case)


# --- faults during training ------------------------------------------------------------


def data(rng, n=40):
    X = rng.normal(size=(n, 5, 2))
    return X, X[:, -1, 0]


def test_divergence_keeps_the_last_completed_epoch(rng):
    X, y = data(rng)
    reg = LSTMRegressor(4, max_iter=3, solver="sgd", random_state=0, warm_start=True)
    reg.fit(X, y)
    before = reg.network_.params.copy()
    with pytest.warns(DivergenceWarning, match="keeps the weights of epoch 3"):
        reg.set_params(learning_rate_init=1e30).fit(X, y * 1e10)
    np.testing.assert_array_equal(reg.network_.params, before)
    assert reg.n_iter_ == 0 and len(reg.loss_curve_) == 3
    assert np.isfinite(reg.predict(X)).all()


def test_divergence_in_the_first_epoch_leaves_the_estimator_unfitted(rng):
    X, y = data(rng)
    reg = LSTMRegressor(4, solver="sgd", learning_rate_init=1e30, random_state=0)
    with pytest.raises(FloatingPointError, match="diverged in its first epoch"):
        reg.fit(X, y * 1e10)
    assert not hasattr(reg, "network_")


def test_divergence_mid_training_keeps_earlier_epochs(rng, monkeypatch):
    X, y = data(rng)
    batches_per_epoch = 2  # 40 samples, batches of 20
    real_backward = _network.LSTMNetwork.backward
    calls = []

    def poisoned_backward(self, batch, ws, d_out, g, n_threads):
        real_backward(self, batch, ws, d_out, g, n_threads)
        calls.append(1)
        if len(calls) == 2 * batches_per_epoch + 1:  # the first batch of epoch 3
            g.head_b[:] = np.nan

    monkeypatch.setattr(_network.LSTMNetwork, "backward", poisoned_backward)
    with pytest.warns(DivergenceWarning, match="the gradient stopped being finite"):
        reg = LSTMRegressor(4, batch_size=20, max_iter=10, random_state=0).fit(X, y)
    monkeypatch.undo()
    two_epochs = LSTMRegressor(4, batch_size=20, max_iter=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(reg.network_.params, two_epochs.network_.params)
    assert reg.loss_curve_ == two_epochs.loss_curve_


@pytest.mark.parametrize("interrupted_batch, kept_epochs", [(5, 2), (1, 0)])
def test_keyboard_interrupt_keeps_the_last_completed_epoch(
    rng, monkeypatch, interrupted_batch, kept_epochs
):
    X, y = data(rng)
    real_forward = _network.LSTMNetwork.forward
    calls = []

    def interrupted_forward(self, *args):
        calls.append(1)
        if len(calls) == interrupted_batch:
            raise KeyboardInterrupt
        return real_forward(self, *args)

    monkeypatch.setattr(_network.LSTMNetwork, "forward", interrupted_forward)
    reg = LSTMRegressor(4, batch_size=20, max_iter=10, random_state=0)
    expected = "keeps the weights of epoch 2" if kept_epochs else "nothing changed"
    with pytest.warns(UserWarning, match=expected), pytest.raises(KeyboardInterrupt):
        reg.fit(X, y)
    monkeypatch.undo()
    if not kept_epochs:
        assert not hasattr(reg, "network_")
        return
    assert reg.n_iter_ == kept_epochs
    reference = LSTMRegressor(4, batch_size=20, max_iter=kept_epochs, random_state=0)
    np.testing.assert_array_equal(reg.network_.params, reference.fit(X, y).network_.params)
    reg.predict(X)  # usable


@pytest.mark.parametrize("fault", ["interrupt", "divergence"])
def test_a_stopped_training_keeps_the_best_epoch_under_early_stopping(rng, monkeypatch, fault):
    # 30 training samples in batches of 15: the first batch of epoch 21 is the 41st call.
    X, _ = data(rng)
    y = rng.normal(size=len(X))  # noise: the validation score peaks before the end
    params = dict(
        hidden_layer_sizes=4,
        batch_size=15,
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=1000,
        learning_rate_init=0.05,
        random_state=0,
    )
    method = "forward" if fault == "interrupt" else "backward"
    real = getattr(_network.LSTMNetwork, method)
    calls = []

    def faulty(self, *args):
        calls.append(1)
        if len(calls) == 41 and fault == "interrupt":
            raise KeyboardInterrupt
        out = real(self, *args)
        if len(calls) == 41:
            args[3].head_b[:] = np.nan  # the gradient
        return out

    monkeypatch.setattr(_network.LSTMNetwork, method, faulty)
    reg = LSTMRegressor(max_iter=50, **params)
    kept = "keeps the weights of epoch [0-9]+, the best on validation of the 20 completed"
    if fault == "interrupt":
        with pytest.warns(UserWarning, match=kept), pytest.raises(KeyboardInterrupt):
            reg.fit(X, y)
    else:
        with pytest.warns(DivergenceWarning, match=kept):
            reg.fit(X, y)
    monkeypatch.undo()
    completed = LSTMRegressor(max_iter=20, **params).fit(X, y)  # ends on its best epoch
    assert np.argmax(completed.validation_scores_) < 19  # the best is not the last
    np.testing.assert_array_equal(reg.network_.params, completed.network_.params)
    assert reg.best_validation_score_ == completed.best_validation_score_
    assert reg.validation_scores_ == completed.validation_scores_


def test_partial_fit_keeps_its_own_random_stream(rng):
    # Draws the caller makes from the RandomState they passed do not change later calls.
    X, y = data(rng)
    fits = []
    for outside_draws in (0, 100):
        random_state = np.random.RandomState(0)
        reg = LSTMRegressor(4, batch_size=4, dropout=0.5, random_state=random_state)
        reg.partial_fit(X, y)
        random_state.uniform(size=outside_draws)
        fits.append(reg.partial_fit(X, y).network_.params)
    np.testing.assert_array_equal(*fits)


# --- load and concurrency --------------------------------------------------------------


def test_predictions_from_eight_threads_at_once(rng):
    X = [rng.normal(size=(n, 3)) for n in rng.integers(1, 30, size=200)]
    clf = LSTMClassifier(8, max_iter=2, random_state=0).fit(X, rng.integers(3, size=200))
    serial = [clf.predict_proba(X[i::8]) for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            parallel = list(pool.map(lambda i: clf.predict_proba(X[i::8]), range(8)))
            for a, b in zip(serial, parallel, strict=True):
                np.testing.assert_array_equal(a, b)


def peak_rss_mb(setup, measured):
    """How much running ``measured`` raises the peak RSS, in MB, of a fresh Python process
    that ran ``setup`` first (both code, sharing names; ``rng``, ``X`` and ``y`` as
    ``data`` makes them, and sklstm's estimators, are there to use).

    The kernel's count, read in /proc/self/status, sees every allocation (tracemalloc does
    not see the kernels' malloc), and a fresh process has no earlier test's high-water mark
    to hide a growth under. One OpenMP thread: memory does not depend on it, and time on a
    shared machine does.
    """
    script = textwrap.dedent(
        """
        import warnings

        import numpy as np

        from sklstm import LSTMClassifier, LSTMRegressor

        warnings.simplefilter("ignore")  # max_iter=1 fits do not converge

        def peak_mb():
            with open("/proc/self/status") as status:
                line = next(line for line in status if line.startswith("VmHWM:"))
            return int(line.split()[1]) / 1024

        rng = np.random.default_rng(0)
        X = rng.normal(size=(40, 5, 2))
        y = X[:, -1, 0]
        """
    )
    script += textwrap.dedent(setup)
    script += textwrap.dedent(
        """
        try:  # the high-water mark back to the current RSS (Linux 4.0 on)
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")
        except OSError:  # then the setup's peak stands, and hides what stays under it
            pass
        before = peak_mb()
        """
    )
    script += textwrap.dedent(measured) + "\nprint(peak_mb() - before)\n"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env
    )
    assert run.returncode == 0, run.stderr
    return float(run.stdout.split()[-1])


linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/self/status"
)


@linux_only
def test_repeated_fits_do_not_leak():
    # Sizes at which each fit's buffers take about a MB: keeping every fit's training
    # buffers alive raised the peak by 80 MB.
    setup = """
        X = rng.normal(size=(100, 20, 2))
        y = X[:, -1, 0]
        X_ragged = [x[: rng.integers(1, 21)] for x in X]

        def fits(n):
            for i in range(n):
                LSTMRegressor(
                    32, max_iter=1, bidirectional=i % 2 == 0, dropout=0.1, random_state=i
                ).fit(X_ragged if i % 3 else X, y).predict(X)

        fits(20)  # allocator pools and caches reach their size
        """
    assert peak_rss_mb(setup, "fits(100)") < 10


@linux_only
def test_prediction_memory_is_bounded_on_a_million_sequences():
    setup = """
        reg = LSTMRegressor(4, max_iter=1, random_state=0).fit(X, y)
        X = rng.normal(size=(1_000_000, 5, 2)).astype(np.float32)
        reg.predict(X[:1000])
        """
    measured = """
        y = reg.predict(X)
        assert y.shape == (1_000_000,) and np.isfinite(y).all()
        """
    # Per-sequence bookkeeping and outputs (~35 MB for a million sequences) and one chunk's
    # buffers: never the gates of all sequences at once (320 MB).
    assert peak_rss_mb(setup, measured) < 60


@linux_only
@pytest.mark.parametrize("bidirectional", [False, True])
def test_prediction_memory_is_bounded_on_a_sequence_of_a_million_steps(bidirectional):
    setup = f"""
        reg = LSTMRegressor(64, bidirectional={bidirectional}, max_iter=1, random_state=0)
        reg.fit(rng.normal(size=(20, 10)), rng.normal(size=20))
        X = rng.normal(size=(1, 1_000_000)).astype(np.float32)  # 4 MB, univariate
        reg.predict(X[:, :1000])
        """
    measured = """
        y = reg.predict(X)
        assert y.shape == (1,) and np.isfinite(y).all()
        """
    # One window of steps at a time: its hidden states (PREDICT_BYTES, 16 MB), one step's
    # gates, each layer's carried state, and, bidirectional, the reversal permutation (8
    # MB); never the hidden states of every step (256 MB), as when the sequence ran in one
    # pass.
    assert peak_rss_mb(setup, measured) < 160


# --- persistence -----------------------------------------------------------------------


def fitted_models(rng):
    X, y = data(rng)
    labels = (y > 0).astype(int)
    models = [
        LSTMRegressor(4, max_iter=2, random_state=0).fit(X, y),
        LSTMRegressor(4, max_iter=2, random_state=0, dtype="float64").fit(X, y),
        LSTMClassifier((4, 3), bidirectional=True, max_iter=2, random_state=0).fit(X, labels),
        LSTMClassifier(4, random_state=0).partial_fit(X, labels, classes=[0, 1]),
    ]
    return X, y, labels, models


@pytest.mark.parametrize(
    "dumps, loads",
    [
        (pickle.dumps, pickle.loads),
        (
            lambda m: (joblib.dump(m, f := io.BytesIO()), f.getvalue())[1],
            lambda b: joblib.load(io.BytesIO(b)),
        ),
    ],
)
def test_pickle_and_joblib_round_trips(rng, dumps, loads):
    X, y, labels, models = fitted_models(rng)
    for model in models:
        restored = loads(dumps(model))
        np.testing.assert_array_equal(restored.predict(X), model.predict(X))
        # Training continues exactly as it would have: optimizer state and random stream.
        target = y if isinstance(model, LSTMRegressor) else labels
        np.testing.assert_array_equal(
            restored.partial_fit(X, target).network_.params,
            model.partial_fit(X, target).network_.params,
        )


def test_skops_loads_every_model_with_exactly_the_published_trusted_types(rng, tmp_path):
    sio = pytest.importorskip("skops.io")
    X, y, labels, models = fitted_models(rng)
    models += [
        LSTMRegressor(3, solver=solver, max_iter=1).fit(X, y)
        for solver in ("rmsprop", "sgd", "adagrad")
    ]
    models.append(LSTMClassifier(3, max_iter=1).fit(X, np.arange(len(X)) % 3))  # softmax
    steps = np.arange(X.shape[0] * X.shape[1]).reshape(X.shape[:2])
    models += [
        LSTMStepClassifier(3, max_iter=1).fit(X, steps % 2),
        LSTMStepRegressor(3, max_iter=1).fit(X, steps / 10),
    ]
    channels_first = X.transpose(0, 2, 1)
    pipeline = make_pipeline(
        FromChannelsFirst(), SequenceScaler(), PiecewiseAggregate(2), LSTMClassifier(3, max_iter=1)
    ).fit(channels_first, labels)
    seen = set()
    for i, model in enumerate([*models, pipeline]):
        inputs = channels_first if model is pipeline else X
        path = tmp_path / f"model{i}.skops"
        sio.dump(model, path)
        seen |= set(sio.get_untrusted_types(file=path))
        restored = sio.load(path, trusted=SKOPS_TRUSTED_TYPES)  # the README's recipe
        np.testing.assert_array_equal(restored.predict(inputs), model.predict(inputs))
    assert seen == set(SKOPS_TRUSTED_TYPES)  # no type missing, none listed in vain


def _set(name, value):
    def edit(est):
        target = est
        *path, last = name.split(".")
        for attr in path:
            target = getattr(target, attr)
        vars(target)[last] = value

    return edit


# What a tampered file may change, and the words of the error it gets on load.
TAMPERINGS = {
    "Adam state of another length": (
        _set("_optimizer.m", np.zeros(4, np.float32)),
        "Adam optimizer is damaged",
    ),
    "both Adam arrays of another length": (
        lambda est: vars(est._optimizer).update(m=np.zeros(4), v=np.zeros(4)),
        "optimizer's state is for 4 float64 parameters",
    ),
    "optimizer state of another dtype": (
        lambda est: vars(est._optimizer).update(
            m=est._optimizer.m.astype(np.float64), v=est._optimizer.v.astype(np.float64)
        ),
        "optimizer's state is for",
    ),
    "a negative learning rate": (
        _set("_optimizer.learning_rate", -1.0),
        "learning_rate=-1.0 is not a finite, non-negative number",
    ),
    "Adam's step count not a number": (_set("_optimizer.steps", "1"), "not a finite"),
    "no optimizer": (lambda est: vars(est).pop("_optimizer"), "lacks the fitted attribute"),
    "network replaced": (_set("network_", object()), "not an LSTMNetwork"),
    "n_features_in_ changed": (_set("n_features_in_", 7), "n_features_in_=7"),
    "more classes than outputs": (_set("classes_", np.arange(5)), "label encoding"),
    "loss of a regressor": (_set("_loss", SquaredError("identity")), "train a SoftmaxCrossEntropy"),
    "weights not finite": (
        lambda est: est.network_.params.__setitem__(0, np.nan),
        "not all finite",
    ),
    "random stream replaced": (_set("_random_state", 3), "not a RandomState"),
}


@pytest.mark.parametrize("tampering", TAMPERINGS, ids=str)
def test_tampered_pickles_fail_on_load_naming_the_problem(rng, tampering):
    X, y = data(rng)
    est = LSTMClassifier(4, max_iter=1, random_state=0).fit(X, np.arange(len(X)) % 3)
    edit, words = TAMPERINGS[tampering]
    edit(est)
    with pytest.raises(ValueError, match=words):
        pickle.loads(pickle.dumps(est))


def test_damaged_or_tampered_skops_files_fail_cleanly(rng, tmp_path):
    sio = pytest.importorskip("skops.io")
    X, y, _, models = fitted_models(rng)
    path = tmp_path / "model.skops"
    sio.dump(models[0], path)
    data_bytes = path.read_bytes()
    truncated = tmp_path / "truncated.skops"
    truncated.write_bytes(data_bytes[: len(data_bytes) // 2])
    with pytest.raises(Exception) as truncated_error:
        sio.load(truncated, trusted=SKOPS_TRUSTED_TYPES)
    assert isinstance(truncated_error.value, (zipfile.BadZipFile, ValueError, OSError, KeyError))

    def tampered(edit_schema=None, edit_files=None):
        with zipfile.ZipFile(path) as zin:
            files = {name: zin.read(name) for name in zin.namelist()}
        schema = json.loads(files["schema.json"])
        if edit_schema:
            edit_schema(schema)
        if edit_files:
            edit_files(schema, files)
        files["schema.json"] = json.dumps(schema).encode()
        out = tmp_path / "tampered.skops"
        with zipfile.ZipFile(out, "w") as zout:
            for name, content in files.items():
                zout.writestr(name, content)
        return out

    # A type that runs code on load is refused as untrusted, never imported and run.
    def smuggle(schema):
        schema["__class__"], schema["__module__"] = "system", "os"

    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.load(tampered(smuggle), trusted=SKOPS_TRUSTED_TYPES)

    # Deeper in the file, where a recipe that trusts what the file lists would run it.
    def smuggle_inside(schema):
        node = next(n for n in _nodes(schema) if n.get("__class__") == "Adam")
        node["__class__"], node["__module__"] = "system", "posix"

    smuggled = tampered(smuggle_inside)
    assert "posix.system" in sio.get_untrusted_types(file=smuggled)
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.load(smuggled, trusted=SKOPS_TRUSTED_TYPES)

    # Optimizer state that does not fit the parameters, which the kernels would index out
    # of bounds (this crashed the interpreter at the next partial_fit).
    def shorten_adam_state(schema, files):
        adam = next(n for n in _nodes(schema) if n.get("__class__") == "Adam")
        for name in ("m", "v"):
            buffer = io.BytesIO()
            np.save(buffer, np.zeros(4, dtype=np.float32))
            files[adam["content"]["content"][name]["file"]] = buffer.getvalue()

    with pytest.raises(ValueError, match="optimizer's state is for 4 float32 parameters"):
        sio.load(tampered(edit_files=shorten_adam_state), trusted=SKOPS_TRUSTED_TYPES)

    # Parameters that do not fit the network are refused when it rebuilds itself.
    def shorten_params(schema, files):
        node = next(n for n in _nodes(schema) if "params" in n)["params"]
        buffer = io.BytesIO()
        np.save(buffer, np.zeros(10, dtype=np.float32))
        files[node["file"]] = buffer.getvalue()

    with pytest.raises(ValueError, match="do not fit the saved network shape"):
        sio.load(tampered(edit_files=shorten_params), trusted=SKOPS_TRUSTED_TYPES)


def _nodes(node):
    """Every dict in a skops schema, depth first."""
    if isinstance(node, dict):
        yield node
        children = node.values()
    else:
        children = node if isinstance(node, list) else []
    for child in children:
        yield from _nodes(child)
