"""scikit-learn's estimator checks, on fast settings."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklstm import LSTMClassifier, LSTMRegressor, LSTMStepClassifier, LSTMStepRegressor
from sklstm.preprocessing import SequenceScaler

FAST = dict(hidden_layer_sizes=16, max_iter=30, learning_rate_init=0.01, random_state=0)

# The checks that cannot pass, and why. A 2-D X holds univariate sequences, one per row,
# its columns the time steps; an LSTM reads sequences of any length, so n_features_in_
# counts features per step (1 here) and X with fewer or more columns is valid input: the
# same sequences, shorter or longer. Each check below requires such X to be refused.
SEQUENCE_LENGTH = (
    "2-D X holds univariate sequences and any length is valid input; the check requires "
    "X with another number of columns to be refused"
)
EXPECTED_FAILURES = {
    "check_n_features_in": "n_features_in_ counts features per time step: 1 for 2-D X, "
    "not X.shape[1]",
    "check_n_features_in_after_fitting": SEQUENCE_LENGTH,
    "check_estimators_partial_fit_n_features": SEQUENCE_LENGTH,
    "check_classifiers_train": f"predict(X.T): {SEQUENCE_LENGTH}",
    "check_transformer_general": f"transform(X[:, :-1]): {SEQUENCE_LENGTH}",
    # As scikit-learn marks its MLP: in mini-batches, a repeated sample changes the batches
    # and the number of steps, a weight does not. (With this check's few samples, in one
    # batch, the two fits agree to float32 rounding, about 2e-7, at the edge of its
    # tolerance: depending on the estimator and the CPU's kernel copy, it may pass.)
    "check_sample_weight_equivalence_on_dense_data": "mini-batch training: a weight is not "
    "a repetition",
}


def expected_failures(estimator):
    return EXPECTED_FAILURES


@parametrize_with_checks(
    [LSTMClassifier(**FAST), LSTMRegressor(**FAST), SequenceScaler()],
    expected_failed_checks=expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# The step estimators take one target per step: y of (n, T) or (n, T, k) for X of (n, T)
# or (n, T, d), or a list of per-sequence arrays. scikit-learn's checks fit y of one target
# per sample, (n,) or (n, k), with X (n, n_features): read as n univariate sequences of
# n_features steps, that y has one target per sequence, and fit refuses it (a ValueError
# naming the sequence). So every check that fits fails on its first fit, for that reason
# alone; the others (parameters, cloning, validation of hyperparameters, tags, repr, an
# unfitted estimator's errors) run. What the failing checks check is tested on per-step
# data in test_step_estimators.py: fit returns self, pickle, idempotence, sample weights,
# dtypes, NaN refused, subset and order invariance of prediction, partial_fit.
PER_STEP_TARGETS = (
    "fits y of one target per sample with X of n_features steps per sequence; a step "
    "estimator needs one target per step and refuses it"
)
STEP_EXPECTED_FAILURES = dict.fromkeys(
    [
        "check_all_zero_sample_weights_error",
        "check_dict_unchanged",
        "check_dont_overwrite_parameters",
        "check_dtype_object",
        "check_estimators_dtypes",
        "check_estimators_fit_returns_self",
        "check_estimators_nan_inf",
        "check_estimators_overwrite_params",
        "check_estimators_partial_fit_n_features",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_fit2d_1sample",
        "check_fit2d_predict1d",
        "check_fit_check_is_fitted",
        "check_fit_idempotent",
        "check_fit_score_takes_y",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_non_transformer_estimators_n_iter",
        "check_pipeline_consistency",
        "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input",
        "check_sample_weight_equivalence_on_dense_data",
        "check_sample_weights_list",
        "check_sample_weights_not_an_array",
        "check_sample_weights_not_overwritten",
        "check_sample_weights_pandas_series",
        "check_sample_weights_shape",
        # The classifier's
        "check_class_weight_classifiers",
        "check_classifier_data_not_an_array",
        "check_classifier_multioutput",
        "check_classifiers_classes",
        "check_classifiers_multilabel_output_format_decision_function",
        "check_classifiers_multilabel_output_format_predict",
        "check_classifiers_multilabel_output_format_predict_proba",
        "check_classifiers_multilabel_representation_invariance",
        "check_classifiers_one_label",
        "check_classifiers_one_label_sample_weights",
        "check_classifiers_regression_target",
        "check_classifiers_train",
        # The regressor's
        "check_regressor_data_not_an_array",
        "check_regressor_multioutput",
        "check_regressors_int",
        "check_regressors_no_decision_function",
        "check_regressors_train",
    ],
    PER_STEP_TARGETS,
)


@parametrize_with_checks(
    [LSTMStepClassifier(**FAST), LSTMStepRegressor(**FAST)],
    expected_failed_checks=lambda estimator: STEP_EXPECTED_FAILURES,
)
def test_step_estimators_sklearn_compatible(estimator, check):
    check(estimator)
