"""Training controls: partial_fit, warm_start, early stopping, learning rate schedule,
sample and class weights, gradient clipping, dropout, bidirectional layers, progress."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils.class_weight import compute_sample_weight

from sklstm import LSTMClassifier, LSTMRegressor, _progress
from sklstm.preprocessing import SequenceScaler


def regression(rng, n=60, T=6, D=2):
    X = rng.normal(size=(n, T, D))
    return X, X[:, -2:, 0].sum(axis=1)


def classification(rng, n=60, T=6, D=2):
    X = rng.normal(size=(n, T, D))
    return X, np.digitize(X[:, :, 0].sum(axis=1), [-1, 1])


def params_of(est):
    return est.network_.params.copy()


# --- partial_fit and warm_start --------------------------------------------------------


def test_partial_fit_calls_train_as_fit_epochs(rng):
    X, y = regression(rng)
    kwargs = dict(
        hidden_layer_sizes=5,
        batch_size=16,
        random_state=0,
        tol=0.0,
        dropout=0.2,
        recurrent_dropout=0.2,
    )
    fitted = LSTMRegressor(max_iter=3, **kwargs).fit(X, y)
    partial = LSTMRegressor(**kwargs)
    for _ in range(3):
        partial.partial_fit(X, y)
        assert partial.n_iter_ == 1  # one epoch per call
    # The optimizer's state and the random stream carry over between calls.
    np.testing.assert_array_equal(params_of(partial), params_of(fitted))
    assert partial.loss_curve_ == fitted.loss_curve_
    assert partial.t_ == fitted.t_ == 3 * len(X)


def test_classifier_partial_fit_classes(rng):
    X, y = classification(rng)
    clf = LSTMClassifier(4, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "network_")
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])  # not every class in this call
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.predict_proba(X).shape == (len(X), 3)
    clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="not the same as on the first call"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X, y + 5)


def test_partial_fit_refuses_early_stopping_and_other_features(rng):
    X, y = regression(rng)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        LSTMRegressor(early_stopping=True).partial_fit(X, y)
    reg = LSTMRegressor(4).partial_fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features per time step"):
        reg.partial_fit(rng.normal(size=(10, 6, 3)), y[:10])


def test_warm_start_continues_from_the_last_fit(rng):
    X, y = regression(rng)
    reg = LSTMRegressor(4, max_iter=3, warm_start=True, random_state=0).fit(X, y)
    reg.set_params(max_iter=2).fit(X, y)
    assert len(reg.loss_curve_) == 5 and reg.n_iter_ == 2 and reg.t_ == 5 * len(X)
    # A warm fit with a negligible step ends where the last one did; a cold one does not.
    before = params_of(reg)
    reg.set_params(max_iter=1, learning_rate_init=1e-12).fit(X, y)
    np.testing.assert_allclose(params_of(reg), before, rtol=1e-6, atol=1e-9)
    reg.set_params(warm_start=False).fit(X, y)
    assert not np.allclose(params_of(reg), before)
    reg.set_params(warm_start=True)
    with pytest.raises(ValueError, match="Cannot continue training"):
        reg.set_params(hidden_layer_sizes=5).fit(X, y)


# --- early stopping and the learning rate ----------------------------------------------


def test_early_stopping_keeps_the_best_epoch(rng):
    X, y = regression(rng, n=120)
    kwargs = dict(
        hidden_layer_sizes=6,
        learning_rate_init=0.05,
        random_state=1,
        early_stopping=True,
        validation_fraction=0.25,
    )
    stopped = LSTMRegressor(max_iter=200, n_iter_no_change=3, **kwargs).fit(X, y)
    scores = stopped.validation_scores_
    assert stopped.n_iter_ == len(scores) < 200
    assert stopped.best_validation_score_ == max(scores)
    assert stopped.best_loss_ is None
    # Trained again up to the best epoch, with the same split and shuffles, the weights are
    # those the early-stopped model kept.
    best_epoch = int(np.argmax(scores)) + 1
    again = LSTMRegressor(max_iter=best_epoch, n_iter_no_change=1000, **kwargs).fit(X, y)
    np.testing.assert_array_equal(params_of(again), params_of(stopped))


def test_early_stopping_split_is_stratified(rng):
    X = rng.normal(size=(100, 4, 1))
    y = np.array([0] * 80 + [1] * 20)
    clf = LSTMClassifier(early_stopping=True, validation_fraction=0.2)
    train, held_out = clf._validation_split(len(y), clf._stratify(y), np.random.RandomState(0))
    assert np.bincount(y[held_out]).tolist() == [16, 4]
    assert len(train) == 80
    with pytest.raises(ValueError, match="validation set is too small"):
        LSTMClassifier(early_stopping=True, validation_fraction=0.01, max_iter=1).fit(
            X[:50], y[:50] * 0 + np.arange(50) % 2
        )


def test_adaptive_learning_rate_divides_by_five_on_stalls(rng):
    X, y = regression(rng)
    # tol=1e9: every epoch after the first stalls; with n_iter_no_change=1, every second one
    # divides the step size by 5, until it would fall below 1e-6.
    kwargs = dict(
        hidden_layer_sizes=3, tol=1e9, n_iter_no_change=1, max_iter=100, learning_rate_init=1e-3
    )
    adaptive = LSTMRegressor(learning_rate="adaptive", **kwargs).fit(X, y)
    assert adaptive._optimizer.learning_rate == pytest.approx(1e-3 / 5**4)
    assert adaptive.n_iter_ == 11
    constant = LSTMRegressor(**kwargs).fit(X, y)
    assert constant.n_iter_ == 3 and constant._optimizer.learning_rate == 1e-3


# --- the stopping rule ------------------------------------------------------------------


def test_fit_keeps_the_weights_of_its_best_epoch(rng):
    X, y = regression(rng, n=30)
    # A large step makes the epoch losses go up and down: the best is not the last.
    params = dict(hidden_layer_sizes=4, learning_rate_init=0.05, batch_size=5, random_state=0)
    full = LSTMRegressor(max_iter=40, n_iter_no_change=1000, **params).fit(X, y)
    best = int(np.argmin(full.loss_curve_)) + 1
    assert best < 40
    up_to_best = LSTMRegressor(max_iter=best, n_iter_no_change=1000, **params).fit(X, y)
    np.testing.assert_array_equal(params_of(full), params_of(up_to_best))
    assert full.best_loss_ == min(full.loss_curve_)
    # partial_fit keeps its own epoch's weights, to go on from them.
    stepped = LSTMRegressor(**params)
    for _ in range(best + 1):
        stepped.partial_fit(X, y)
    assert not np.array_equal(params_of(stepped), params_of(up_to_best))


def test_the_stall_is_measured_against_the_first_epochs_loss(rng):
    X, y = regression(rng)
    # tol=1e9 times the first loss: no epoch improves; the 4th after the first stalls.
    reg = LSTMRegressor(3, tol=1e9, n_iter_no_change=3, random_state=0).fit(X, y)
    assert reg.n_iter_ == 5
    # tol=0: every new best is an improvement.
    reg = LSTMRegressor(3, tol=0.0, n_iter_no_change=3, max_iter=20, random_state=0)
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        reg.fit(X, y)  # still improving at epoch 20
    assert reg.n_iter_ == 20


def test_it_says_why_training_stopped_and_warns_only_when_it_matters(rng, capsys, monkeypatch):
    X = rng.normal(size=(40, 5, 2))
    noise = rng.normal(size=40)  # nothing to learn: the loss stays near its start
    stalled = LSTMRegressor(2, tol=0.5, n_iter_no_change=2, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"Training stopped at epoch 4: .* keeps the"):
        stalled.fit(X, noise)
    # A model that learned and then stops on a stall, or runs out of epochs on a plateau,
    # does not warn.
    X, y = regression(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        LSTMRegressor(8, learning_rate_init=0.01, n_iter_no_change=5, random_state=0).fit(X, y)
        LSTMRegressor(3, tol=1e9, n_iter_no_change=100, max_iter=5, random_state=0).fit(X, y)
    monkeypatch.setattr(_progress, "tqdm", None)
    LSTMRegressor(3, tol=1e9, n_iter_no_change=2, verbose=True, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "Training stopped at epoch 4: the training loss did not improve" in out
    assert "It keeps the weights of epoch 4, the best in training loss of the 4 completed" in out
    LSTMRegressor(3, max_iter=2, verbose=True, n_iter_no_change=100, tol=1e9).fit(X, y)
    assert (
        "Training ran max_iter=2 epochs. It keeps the weights of epoch" in capsys.readouterr().out
    )


# --- standardisation of inputs and targets ---------------------------------------------


def test_standardisation_makes_the_scale_of_inputs_and_targets_irrelevant(rng):
    # An affine change of units of X and y changes the fit by rounding only.
    X, y = regression(rng)
    params = dict(hidden_layer_sizes=4, max_iter=3, random_state=0, dtype="float64")
    unit = LSTMRegressor(**params).fit(X, y)
    scaled = LSTMRegressor(**params).fit(X * [1e3, 1e-2] + [7.0, -5.0], y * 1e4 - 3e5)
    np.testing.assert_allclose(params_of(scaled), params_of(unit), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        scaled.predict(X * [1e3, 1e-2] + [7.0, -5.0]), unit.predict(X) * 1e4 - 3e5, rtol=1e-6
    )
    # Off, the network reads them as they are.
    raw = LSTMRegressor(standardize_X=False, standardize_y=False, **params).fit(X, y)
    assert raw._input_units is None and raw._target_units is None
    assert not np.allclose(params_of(raw), params_of(unit))


def test_a_feature_constant_to_rounding_is_not_blown_up(rng):
    X, y = regression(rng)
    X[:, :, 1] = 1e6 + rng.normal(size=X.shape[:2]) * 1e-9  # rounding jitter only
    reg = LSTMRegressor(3, max_iter=1).fit(X, y)
    shift, scale = reg._input_units
    assert scale[1] > 1.0  # not the jitter's 1e-9, which would make it noise of size 1
    assert abs((X[:, :, 1] - shift[1]) / scale[1]).max() < 1e-6


def test_the_first_fit_fixes_the_standardisation(rng):
    X, y = regression(rng)
    reg = LSTMRegressor(4, max_iter=1, random_state=0).partial_fit(X, y)
    units = reg._input_units, reg._target_units
    reg.partial_fit(X * 10 + 3, y * 10 + 3)  # other statistics: the first call's stay
    reg.set_params(warm_start=True).fit(X * 5, y * 5)
    for before, after in zip(units, (reg._input_units, reg._target_units), strict=True):
        np.testing.assert_array_equal(before[0], after[0])
        np.testing.assert_array_equal(before[1], after[1])
    restored = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(restored.predict(X), reg.predict(X))
    # tanh and sigmoid outputs are bounded: their targets are left as they are.
    bounded = LSTMRegressor(4, max_iter=1, output_activation="tanh").fit(X, np.tanh(y))
    assert bounded._target_units is None


def test_weighted_standardisation_is_repetition(rng):
    X, y = regression(rng, n=20)
    w = rng.integers(1, 4, size=20)
    weighted = LSTMRegressor(4, max_iter=1).fit(X, y, sample_weight=w)
    repeated = LSTMRegressor(4, max_iter=1).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    for a, b in zip(
        weighted._input_units + weighted._target_units,
        repeated._input_units + repeated._target_units,
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# --- sample and class weights ----------------------------------------------------------


def full_batch(**params):
    """Whole-data batches in a fixed order: weights and repetitions then train alike."""
    return LSTMRegressor(
        4,
        batch_size=1000,
        shuffle=False,
        alpha=0.0,
        max_iter=3,
        dtype="float64",
        random_state=0,
        **params,
    )


def test_sample_weight_is_repetition_and_zero_is_removal(rng):
    X, y = regression(rng, n=20)
    w = rng.integers(0, 3, size=20)
    weighted = full_batch().fit(X, y, sample_weight=w)
    repeated = full_batch().fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(params_of(weighted), params_of(repeated), rtol=1e-10)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-10)
    equal = full_batch().fit(X, y, sample_weight=np.full(20, 3.0))
    unweighted = full_batch().fit(X, y)
    np.testing.assert_allclose(params_of(equal), params_of(unweighted), rtol=1e-10)


def test_sample_weight_validation_and_score(rng):
    X, y = regression(rng, n=20)
    with pytest.raises(ValueError, match="Negative values"):
        LSTMRegressor(4).fit(X, y, sample_weight=-np.ones(20))
    with pytest.raises(ValueError, match="sample_weight"):
        LSTMRegressor(4).fit(X, y, sample_weight=np.ones(19))
    reg = LSTMRegressor(4, max_iter=2).fit(X, y, sample_weight=np.ones(20))
    reg.partial_fit(X, y, sample_weight=np.arange(20.0))
    w = (np.arange(20) < 10).astype(float)
    assert reg.score(X, y, sample_weight=w) == pytest.approx(reg.score(X[:10], y[:10]))


def test_a_batch_of_zero_weight_contributes_nothing(rng):
    # Batches of weight zero are skipped (a 0 / 0 loss was reported as divergence): the fit
    # equals, bit for bit, the fit on the weighted samples alone.
    X, y = regression(rng, n=20)
    params = dict(hidden_layer_sizes=4, batch_size=5, shuffle=False, max_iter=3, random_state=0)
    params.update(standardize_X=False, standardize_y=False)  # their statistics are weighted
    w = np.r_[np.zeros(10), np.ones(10)]
    weighted = LSTMRegressor(**params).fit(X, y, sample_weight=w)
    alone = LSTMRegressor(**params).fit(X[10:], y[10:])
    np.testing.assert_array_equal(params_of(weighted), params_of(alone))
    assert weighted.loss_curve_ == alone.loss_curve_
    # A class weighted zero, in small shuffled batches and in one of 400 samples with 5%
    # weighted, trains too.
    Xc, yc = classification(rng)
    LSTMClassifier(4, batch_size=2, max_iter=2, class_weight={0: 0, 1: 1, 2: 1}).fit(Xc, yc)
    X4 = rng.normal(size=(400, 3, 2))
    w4 = (np.arange(400) % 20 == 0).astype(float)
    LSTMRegressor(4, max_iter=2, random_state=0).fit(X4, X4[:, -1, 0], sample_weight=w4)


def test_class_weight(rng):
    X, y = classification(rng)
    kwargs = dict(hidden_layer_sizes=4, max_iter=2, random_state=0)
    balanced = LSTMClassifier(class_weight="balanced", **kwargs).fit(X, y)
    as_weights = LSTMClassifier(**kwargs).fit(
        X, y, sample_weight=compute_sample_weight("balanced", y)
    )
    np.testing.assert_array_equal(params_of(balanced), params_of(as_weights))
    heavy = LSTMClassifier(class_weight={0: 1.0, 1: 1.0, 2: 50.0}, **kwargs).fit(X, y)
    assert not np.array_equal(params_of(heavy), params_of(balanced))
    with pytest.raises(ValueError, match="class_weight is not supported for multilabel"):
        LSTMClassifier(class_weight="balanced").fit(X, np.eye(2, dtype=int)[y % 2])


# --- gradient clipping, dropout, bidirectional layers ----------------------------------


def test_clip_norm_scales_the_gradient_down_to_it(rng):
    X, y = regression(rng, n=20)

    def one_step(lr, clip_norm):
        """Weights after one full-batch SGD step without momentum: init - lr * gradient."""
        reg = LSTMRegressor(
            4,
            solver="sgd",
            momentum=0.0,
            learning_rate_init=lr,
            batch_size=20,
            max_iter=1,
            alpha=0.0,
            random_state=0,
            dtype="float64",
            clip_norm=clip_norm,
            standardize_y=False,  # the large gradient of large targets
        )
        return params_of(reg.fit(X, 100 * y))

    for clip_norm in (1e-3, None):
        gradient = (one_step(0.1, clip_norm) - one_step(0.2, clip_norm)) / 0.1
        if clip_norm:
            assert np.linalg.norm(gradient) == pytest.approx(clip_norm)
        else:
            assert np.linalg.norm(gradient) > 1.0


def test_dropout_trains_differently_and_is_off_at_predict(rng):
    X, y = regression(rng)
    kwargs = dict(hidden_layer_sizes=6, max_iter=3, random_state=0)
    plain = LSTMRegressor(**kwargs).fit(X, y)
    for params in ({"dropout": 0.3}, {"recurrent_dropout": 0.3}):
        dropped = LSTMRegressor(**kwargs, **params).fit(X, y)
        assert not np.array_equal(params_of(dropped), params_of(plain))
        np.testing.assert_array_equal(dropped.predict(X), dropped.predict(X))
        # At prediction the network is the plain one with these weights.
        plain.network_.params[:] = dropped.network_.params
        np.testing.assert_array_equal(plain.predict(X), dropped.predict(X))


def test_bidirectional_reads_each_sequence_from_its_end(rng):
    # The target is each sequence's first value: at the end of the reverse direction.
    X = [rng.normal(size=(n, 1)) for n in rng.integers(5, 30, size=300)]
    y = np.array([x[0, 0] for x in X])
    kwargs = dict(hidden_layer_sizes=8, max_iter=40, learning_rate_init=0.01, random_state=0)
    bi = LSTMRegressor(bidirectional=True, **kwargs).fit(X, y)
    assert bi.network_.n_directions == 2
    assert bi.network_.views.head_W.shape == (1, 16)
    assert bi.score(X, y) > 0.9


# --- progress, feature names, pipelines, display ---------------------------------------


def test_verbose_shows_progress(rng, capsys, monkeypatch):
    X, y = regression(rng, n=10)
    LSTMRegressor(3, max_iter=2, verbose=True).fit(X, y)
    assert "epoch" in capsys.readouterr().err  # tqdm's bar
    monkeypatch.setattr(_progress, "tqdm", None)
    LSTMRegressor(3, max_iter=2, verbose=True).fit(X, y)
    assert "Epoch 2, loss = " in capsys.readouterr().out
    LSTMRegressor(3, max_iter=2).fit(X, y)
    assert capsys.readouterr() == ("", "")


def test_feature_names_of_dataframes(rng):
    X = pd.DataFrame(rng.normal(size=(30, 5)), columns=[f"t{i}" for i in range(5)])
    y = rng.normal(size=30)
    reg = LSTMRegressor(3, max_iter=1).fit(X, y)
    np.testing.assert_array_equal(reg.feature_names_in_, X.columns)
    assert reg.n_features_in_ == 1  # univariate sequences
    reg.predict(X)
    with pytest.raises(ValueError, match="feature names should match"):
        reg.predict(X.rename(columns={"t0": "start"}))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        reg.predict(X.to_numpy())
    reg.fit(X.to_numpy(), y)
    assert not hasattr(reg, "feature_names_in_")


@pytest.mark.parametrize("ragged", [False, True])
def test_scaler_and_regressor_pipeline_in_grid_search(rng, ragged):
    X = rng.normal(loc=5.0, scale=3.0, size=(60, 8, 2))
    y = X[:, -1, 0]
    if ragged:
        X = [x[: rng.integers(3, 9)] for x in X]
        y = np.array([x[-1, 0] for x in X])
    search = GridSearchCV(
        make_pipeline(SequenceScaler(), LSTMRegressor(8, max_iter=30, random_state=0)),
        {"lstmregressor__learning_rate_init": [0.003, 0.01]},
        cv=2,
    ).fit(X, y)
    assert search.best_estimator_[0].n_features_in_ == 2
    assert search.predict(X).shape == (60,)


def test_tags_and_html_repr():
    clf, reg = LSTMClassifier(), LSTMRegressor()
    assert clf.__sklearn_tags__().input_tags.three_d_array
    assert clf.__sklearn_tags__().classifier_tags.multi_label
    assert reg.__sklearn_tags__().target_tags.multi_output
    assert "LSTMClassifier" in clf._repr_html_()
