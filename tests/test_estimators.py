"""LSTMClassifier and LSTMRegressor: losses by task, learning, sklearn tooling, training
controls, prediction."""

import ast
import inspect
import pickle
import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from sklstm import LSTMClassifier, LSTMRegressor, _network
from sklstm.datasets import load_japanese_vowels
from sklstm.preprocessing import SequenceScaler, make_windows


@pytest.fixture(scope="module")
def vowels():
    return (
        *load_japanese_vowels(subset="train", return_X_y=True),
        *load_japanese_vowels(subset="test", return_X_y=True),
    )


@pytest.fixture(scope="module")
def sine():
    """Noisy sine, windows of 24 steps -> the next value (noise caps R^2 near 0.98)."""
    rng = np.random.RandomState(0)
    t = np.arange(1500)
    return make_windows(np.sin(2 * np.pi * t / 40) + 0.1 * rng.normal(size=t.size), 24)


def small_problem(rng, n=60, T=6, D=2):
    X = rng.normal(size=(n, T, D))
    return X, X[:, :, 0].sum(axis=1)


# --- Learning, inside scikit-learn's tooling -------------------------------------------


def vowel_model(**params):
    return make_pipeline(SequenceScaler(), LSTMClassifier(random_state=0, **params))


def sine_model(**params):
    return make_pipeline(SequenceScaler(), LSTMRegressor(16, max_iter=20, random_state=0, **params))


def test_classifier_learns_japanese_vowels_in_a_pipeline(vowels):
    X_train, y_train, X_test, y_test = vowels
    model = vowel_model().fit(X_train, y_train)
    assert model.score(X_test, y_test) >= 0.95


def test_classifier_in_grid_search_with_two_jobs(vowels):
    X_train, y_train, X_test, y_test = vowels
    search = GridSearchCV(
        vowel_model(max_iter=60),
        {"lstmclassifier__hidden_layer_sizes": [(32,), (64,)]},
        cv=3,
        n_jobs=2,
    ).fit(X_train, y_train)
    # Each fold trains on 180 sequences only; the refit model on all 270.
    assert search.cv_results_["mean_test_score"].min() > 0.85
    assert search.score(X_test, y_test) >= 0.95


def test_classifier_cross_val_score(vowels):
    X = vowels[0] + vowels[2]
    y = np.concatenate([vowels[1], vowels[3]])
    scores = cross_val_score(
        vowel_model(max_iter=60), X, y, cv=KFold(3, shuffle=True, random_state=0), n_jobs=2
    )
    assert scores.mean() >= 0.95


def test_classifier_after_train_test_split(vowels):
    X = vowels[0] + vowels[2]
    y = np.concatenate([vowels[1], vowels[3]])
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    assert vowel_model(max_iter=60).fit(X_train, y_train).score(X_test, y_test) >= 0.95


def test_regressor_learns_noisy_sine_after_train_test_split(sine):
    X_train, X_test, y_train, y_test = train_test_split(*sine, shuffle=False)
    assert sine_model().fit(X_train, y_train).score(X_test, y_test) >= 0.9


def test_regressor_in_grid_search_with_two_jobs(sine):
    X_train, X_test, y_train, y_test = train_test_split(*sine, shuffle=False)
    search = GridSearchCV(
        sine_model(), {"lstmregressor__learning_rate_init": [1e-3, 3e-3]}, cv=3, n_jobs=2
    ).fit(X_train, y_train)
    assert search.cv_results_["mean_test_score"].min() > 0.9
    assert search.score(X_test, y_test) >= 0.9


def test_regressor_cross_val_score(sine):
    scores = cross_val_score(sine_model(), *sine, cv=3, n_jobs=2)
    assert scores.min() >= 0.9


# --- The loss follows the task ---------------------------------------------------------


def test_binary_labels_of_any_type(rng):
    X = rng.normal(size=(40, 5, 2))
    y = np.where(X[:, :, 0].sum(axis=1) > 0, "yes", "no")
    clf = LSTMClassifier(8, max_iter=40, random_state=0).fit(X, y)
    assert clf.out_activation_ == "sigmoid" and clf.n_outputs_ == 1
    np.testing.assert_array_equal(clf.classes_, ["no", "yes"])
    proba = clf.predict_proba(X)
    assert proba.shape == (40, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-5, atol=1e-6)
    assert clf.score(X, y) > 0.8

    for labels in ([False, True], [-1, 1], [1.0, 2.0]):
        y_other = np.where(y == "yes", labels[1], labels[0])
        fitted = LSTMClassifier(4, max_iter=2, random_state=0).fit(X, y_other)
        assert set(fitted.predict(X)) <= set(labels)
        assert fitted.predict(X).dtype == np.asarray(labels).dtype


def test_multiclass_uses_softmax(rng):
    X = rng.normal(size=(60, 5, 2))
    y = np.digitize(X[:, :, 0].sum(axis=1), [-1, 1])
    clf = LSTMClassifier(8, max_iter=40, random_state=0).fit(X, y)
    assert clf.out_activation_ == "softmax" and clf.n_outputs_ == 3
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), proba.argmax(axis=1))
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-5, atol=1e-6)


def test_multilabel_uses_a_sigmoid_per_label(rng):
    X = rng.normal(size=(200, 5, 3))
    Y = (X.sum(axis=1) > 0).astype(int)  # label j: does feature j sum to more than 0?
    # A sum over time: the last state carries it.
    clf = LSTMClassifier(8, readout="last", max_iter=40, learning_rate_init=0.01, random_state=0)
    clf.fit(X, Y)
    assert clf.out_activation_ == "sigmoid" and clf.n_outputs_ == 3
    proba = clf.predict_proba(X)
    assert proba.shape == (200, 3) and ((proba > 0) & (proba < 1)).all()
    np.testing.assert_array_equal(clf.predict(X), (proba > 0.5).astype(int))
    assert clf.score(X, Y) > 0.9  # subset accuracy


def test_classifier_rejects_bad_targets(rng):
    X = rng.normal(size=(10, 3, 1))
    with pytest.raises(ValueError, match="at least 2 classes"):
        LSTMClassifier().fit(X, np.zeros(10))
    with pytest.raises(ValueError, match="Unknown label type"):
        LSTMClassifier().fit(X, rng.normal(size=10))
    with pytest.raises(ValueError, match="X has 10 sequences but y has 9"):
        LSTMClassifier().fit(X, np.arange(9) % 2)


@pytest.mark.parametrize("activation, low, high", [("tanh", -1, 1), ("sigmoid", 0, 1)])
def test_regressor_output_activations(rng, activation, low, high):
    X, y = small_problem(rng)
    reg = LSTMRegressor(4, output_activation=activation, max_iter=3, random_state=0)
    pred = reg.fit(X, 10 * y).predict(X)
    assert reg.out_activation_ == activation
    assert ((pred > low) & (pred < high)).all()


def test_regressor_identity_learns_and_multi_output(rng):
    X, y = small_problem(rng, n=200)
    Y = np.column_stack([y, -2 * y])
    reg = LSTMRegressor(16, max_iter=100, learning_rate_init=0.01, random_state=0).fit(X, Y)
    assert reg.out_activation_ == "identity" and reg.n_outputs_ == 2
    assert reg.predict(X).shape == (200, 2)
    assert reg.score(X, Y) > 0.9
    single = LSTMRegressor(4, max_iter=2, random_state=0).fit(X, y[:, None])
    assert single.predict(X).shape == (200,)


# --- Training controls -----------------------------------------------------------------


@pytest.mark.parametrize(
    "solver, lr", [("adam", 0.01), ("sgd", 0.1), ("rmsprop", 0.01), ("adagrad", 0.1)]
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_solver_and_dtype_learns(rng, solver, lr, dtype):
    X, y = small_problem(rng, n=100)
    reg = LSTMRegressor(
        8, solver=solver, learning_rate_init=lr, max_iter=30, dtype=dtype, random_state=0
    ).fit(X, y)
    assert reg.network_.params.dtype == np.dtype(dtype)
    assert reg.predict(X).dtype == np.float64  # computed in dtype, returned as scikit-learn does
    assert reg.loss_curve_[-1] < 0.5 * reg.loss_curve_[0]


def test_sgd_without_nesterov_differs(rng):
    X, y = small_problem(rng)
    params = dict(solver="sgd", max_iter=3, random_state=0)
    a = LSTMRegressor(4, **params).fit(X, y).network_.params
    b = LSTMRegressor(4, nesterovs_momentum=False, **params).fit(X, y).network_.params
    assert not np.array_equal(a, b)


def test_fitted_attributes(rng):
    X, y = small_problem(rng, n=50)
    with pytest.warns(ConvergenceWarning, match="maximum iterations \\(4\\)"):
        reg = LSTMRegressor(4, max_iter=4, batch_size=16, random_state=0).fit(X, y)
    assert reg.n_iter_ == len(reg.loss_curve_) == 4
    assert reg.loss_ == reg.loss_curve_[-1]
    assert reg.best_loss_ == min(reg.loss_curve_)
    assert reg.t_ == 50 * 4
    assert reg.n_features_in_ == 2


def test_l2_penalty_shrinks_weights(rng):
    X, y = small_problem(rng)
    norms = [
        np.linalg.norm(
            LSTMRegressor(8, alpha=alpha, max_iter=20, random_state=0)
            .fit(X, y)
            .network_.views.head_W
        )
        for alpha in (0.0, 10.0)
    ]
    assert norms[1] < norms[0]


def test_batch_size_larger_than_n_samples(rng):
    X, y = small_problem(rng, n=10)
    reg = LSTMRegressor(4, batch_size=100, max_iter=2, random_state=0).fit(X, y)
    assert reg.t_ == 20


def test_random_state_gives_identical_fits_and_threads_do_not_matter(vowels):
    X, y = vowels[0][:150], vowels[1][:150]
    params = dict(hidden_layer_sizes=(24, 16), batch_size=64, max_iter=3, random_state=7)
    with threadpool_limits(limits=1, user_api="openmp"):
        one_thread = LSTMClassifier(**params).fit(X, y).network_.params
    default = LSTMClassifier(**params).fit(X, y).network_.params
    assert np.array_equal(one_thread, default)
    other_seed = LSTMClassifier(**{**params, "random_state": 8}).fit(X, y).network_.params
    assert not np.array_equal(default, other_seed)


def test_unshuffled_training_visits_the_batches_in_the_given_order(rng):
    # One unshuffled epoch in batches of 20 is the same three steps as partial_fit on the
    # three slices in turn; shuffled, it is not.
    X, y = small_problem(rng)
    params = dict(hidden_layer_sizes=4, batch_size=20, max_iter=1, random_state=0)
    params.update(standardize_X=False, standardize_y=False)  # fixed by the first call
    stepped = LSTMRegressor(shuffle=False, **params)
    for start in range(0, 60, 20):
        stepped.partial_fit(X[start : start + 20], y[start : start + 20])
    unshuffled = LSTMRegressor(shuffle=False, **params).fit(X, y)
    shuffled = LSTMRegressor(shuffle=True, **params).fit(X, y)
    np.testing.assert_array_equal(unshuffled.network_.params, stepped.network_.params)
    assert not np.array_equal(shuffled.network_.params, stepped.network_.params)


def test_float32_and_float64_agree_after_short_training(rng):
    X, y = small_problem(rng)
    preds = [
        LSTMRegressor(8, max_iter=2, random_state=0, dtype=dtype).fit(X, y).predict(X)
        for dtype in ("float32", np.float64)
    ]
    np.testing.assert_allclose(preds[0], preds[1], rtol=1e-3, atol=1e-4)


# --- Parameters and their validation ---------------------------------------------------


@pytest.mark.parametrize("sizes", [0, (), (4, 0), (4, -1), (2.5,)])
def test_invalid_hidden_layer_sizes(rng, sizes):
    X, y = small_problem(rng, n=5)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        LSTMRegressor(sizes).fit(X, y)


@pytest.mark.parametrize(
    "param, value",
    [
        ("solver", "lbfgs"),
        ("batch_size", 0),
        ("learning_rate_init", 0.0),
        ("beta_1", 1.0),
        ("dtype", "float16"),
        ("max_iter", 0),
        ("output_activation", "relu"),
    ],
)
def test_invalid_hyperparameters(rng, param, value):
    X, y = small_problem(rng, n=5)
    with pytest.raises(ValueError, match=param):
        LSTMRegressor(**{param: value}).fit(X, y)


def test_hidden_layer_sizes_as_int_or_tuple(rng):
    X, y = small_problem(rng, n=8)
    assert LSTMRegressor(5, max_iter=1).fit(X, y).network_.hidden_sizes == (5,)
    assert LSTMRegressor([5, 3], max_iter=1).fit(X, y).network_.hidden_sizes == (5, 3)


# --- Prediction ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-5), ("float64", 1e-12)])
def test_each_sequence_predicts_the_same_alone_as_in_a_batch(rng, dtype, rtol):
    X = [rng.normal(size=(T, 3)) for T in rng.integers(1, 40, size=50)]
    y = rng.integers(3, size=50)
    clf = LSTMClassifier((6, 5), max_iter=2, dtype=dtype, random_state=0).fit(X, y)
    in_batch = clf.predict_proba(X)
    alone = np.vstack([clf.predict_proba([x]) for x in X])
    np.testing.assert_allclose(alone, in_batch, rtol=rtol)
    # An equal-length 3-D batch too.
    X3 = rng.normal(size=(40, 7, 3))
    np.testing.assert_allclose(
        np.vstack([clf.predict_proba(X3[i : i + 1]) for i in range(40)]),
        clf.predict_proba(X3),
        rtol=rtol,
    )


def test_predict_any_length(rng):
    X, y = small_problem(rng, T=6)
    reg = LSTMRegressor(4, max_iter=2, random_state=0).fit(X, y)
    assert reg.predict(rng.normal(size=(3, 50, 2))).shape == (3,)
    assert reg.predict([rng.normal(size=(1, 2)), rng.normal(size=(30, 2))]).shape == (2,)


def test_prediction_in_bounded_chunks_is_unchanged(rng, monkeypatch):
    X = [rng.normal(size=(T, 2)) for T in rng.integers(1, 30, size=300)]
    reg = LSTMRegressor(4, max_iter=1, random_state=0).fit(X, rng.normal(size=300))
    whole = reg.predict(X)
    monkeypatch.setattr(_network, "PREDICT_SEQUENCES", 7)
    # 20 rows of 4 float32 hidden states: shorter than the longest sequence.
    monkeypatch.setattr(_network, "PREDICT_BYTES", 20 * 4 * 4)
    # Chunks change the shapes of the BLAS calls, which may change the last bits.
    np.testing.assert_allclose(reg.predict(X), whole, rtol=1e-5, atol=1e-7)


def test_predict_before_fit_and_wrong_features(rng):
    X, y = small_problem(rng)
    with pytest.raises(NotFittedError):
        LSTMRegressor().predict(X)
    reg = LSTMRegressor(4, max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features per time step"):
        reg.predict(rng.normal(size=(2, 6, 3)))


def test_failed_fit_keeps_previous_model(rng):
    X, y = small_problem(rng)
    reg = LSTMRegressor(4, max_iter=2, random_state=0).fit(X, y)
    before = reg.predict(X)
    with pytest.raises(ValueError):
        reg.fit(X[:10], y[:9])
    with pytest.raises(ValueError):
        reg.fit(np.full_like(X, np.nan), y)
    np.testing.assert_array_equal(reg.predict(X), before)


def test_a_fitted_model_predicts_in_its_own_dtype_until_refitted(rng):
    X, y = small_problem(rng, n=20)
    reg = LSTMRegressor(4, max_iter=1, random_state=0).fit(X, y)
    before = reg.predict(X)
    reg.set_params(dtype="float64")
    np.testing.assert_array_equal(reg.predict(X), before)
    assert reg.fit(X, y).network_.dtype == np.float64


def test_the_parameter_vector_cannot_be_detached_from_its_views(rng):
    X, y = small_problem(rng, n=20)
    reg = LSTMRegressor(4, max_iter=1, random_state=0, standardize_y=False).fit(X, y)
    net = reg.network_
    with pytest.raises(AttributeError, match=r"network_.params\[:\] = values"):
        net.params = np.zeros_like(net.params)
    net.params[:] = 0  # written in place, it is what predicts and what is pickled
    np.testing.assert_array_equal(reg.predict(X), np.zeros(20))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), np.zeros(20))


def test_clone_and_pickle(rng):
    X, y = small_problem(rng)
    reg = LSTMRegressor((4, 3), max_iter=2, random_state=0, dtype="float64").fit(X, y)
    assert clone(reg).get_params() == reg.get_params()
    assert not hasattr(clone(reg), "network_")
    restored = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(restored.predict(X), reg.predict(X))
    # The kernels' vector loads want the weights on a cache line, unpickled ones too.
    for model in (reg, restored):
        assert model.network_.params.ctypes.data % 64 == 0
    # The restored views still alias the flat vector.
    restored.network_.params[:] = 0
    assert not restored.network_.views.head_W.any()


@pytest.mark.parametrize("Estimator", [LSTMClassifier, LSTMRegressor])
def test_documented_defaults_are_the_signature_s(Estimator):
    # The defaults are written once (_DEFAULTS); the class docstring states each one.
    documented = {}
    for line in Estimator.__doc__.splitlines():
        match = re.fullmatch(r"    ([\w, ]+) : .*, default=(.+)", line)
        if match:
            names = match[1].split(", ")
            values = match[2].split(", ") if len(names) > 1 else [match[2]]
            documented.update(zip(names, map(ast.literal_eval, values), strict=True))
    signature = inspect.signature(Estimator).parameters
    assert documented == {name: p.default for name, p in signature.items()}
    assert list(signature)[0] == "hidden_layer_sizes"
    assert all(p.kind == p.KEYWORD_ONLY for p in list(signature.values())[1:])


def test_unknown_or_extra_positional_parameters_are_type_errors():
    with pytest.raises(TypeError, match=r"LSTMClassifier.__init__\(\) got an unexpected .*'hiden'"):
        LSTMClassifier(hiden=3)
    with pytest.raises(TypeError, match=r"LSTMRegressor.__init__\(\) too many positional"):
        LSTMRegressor(8, "adam")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("readout", ["last", "mean", "max", "attention"])
def test_every_cell_and_readout_trains_with_every_feature(rng, cell, readout):
    # The README's promise: stacked, bidirectional, dropout and recurrent dropout, variable
    # lengths, float64, early stopping, sample and class weights, partial_fit and the same
    # bits on any number of threads, for both cells and every readout.
    X = [rng.normal(size=(T, 2)) for T in rng.integers(3, 12, size=120)]
    y = np.array([int(x[:, 0].mean() > 0) for x in X])
    weights = rng.uniform(0.5, 1.5, size=len(X))
    arch = dict(cell=cell, readout=readout, random_state=0)
    clf = LSTMClassifier(
        (8, 6),
        bidirectional=True,
        dropout=0.1,
        recurrent_dropout=0.1,
        early_stopping=True,
        class_weight="balanced",
        dtype="float64",
        learning_rate_init=0.01,
        max_iter=40,
        **arch,
    ).fit(X, y, sample_weight=weights)
    assert clf.network_.cell == cell and clf.network_.readout == readout
    assert clf.score(X, y) > 0.8
    # n partial_fit calls train as fit with max_iter=n.
    fitted = LSTMClassifier(6, max_iter=3, **arch).fit(X, y)
    partial = LSTMClassifier(6, **arch)
    for _ in range(3):
        partial.partial_fit(X, y, classes=[0, 1])
    assert partial.loss_curve_ == fitted.loss_curve_
    with threadpool_limits(1, user_api="openmp"):
        one = LSTMClassifier(6, max_iter=2, **arch).fit(X, y).predict_proba(X)
    with threadpool_limits(2, user_api="openmp"):
        two = LSTMClassifier(6, max_iter=2, **arch).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(one, two)


def test_default_readouts_are_max_for_classifiers_and_last_for_regressors():
    # The README's and the docstrings' defaults, chosen by measurement (bench_defaults).
    assert LSTMClassifier().readout == "max" and LSTMRegressor().readout == "last"
    assert 'readout : {"last", "mean", "max", "attention"}, default="max"' in (
        LSTMClassifier.__doc__
    )
    assert 'default="last"' in LSTMRegressor.__doc__.split("readout :")[1].splitlines()[0]
