"""The scikit-learn estimators: parameters, validation, the epoch loop, prediction."""

import copy
import inspect
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from scipy.special import log_expit
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    _fit_context,
    is_classifier,
    is_regressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    _check_feature_names,
    _check_sample_weight,
    _get_feature_names,
    _num_samples,
    check_array,
    check_is_fitted,
    column_or_1d,
)

from . import _aligned as aligned
from . import _scaling as scaling
from ._cells import CELLS
from ._losses import (
    OUTPUT_ACTIVATIONS,
    SigmoidCrossEntropy,
    SoftmaxCrossEntropy,
    SquaredError,
)
from ._network import LSTMNetwork, Workspace
from ._optimizers import _Optimizer, make_optimizer
from ._progress import Progress
from ._readouts import READOUTS
from ._sequences import check_sequences, names_of, pack_batch, warn_if_channels_first
from ._streaming import check_streamable, stream_class
from ._threading import ThreadCount, effective_n_threads, single_threaded_blas
from ._training import Checkpoint, History, StoppingRule, underfit
from .exceptions import DivergenceWarning

# Predictions on at most this many sequences run in one thread.
SERIAL_PREDICT_SAMPLES = 16

_READOUT_PARAMETER = """\
    readout : {{"last", "mean", "max", "attention"}}, default="{default}"
        What the output layer reads of the top layer's hidden states h_t: "last", each
        direction's final state (the reverse direction's at the first step); "mean" or
        "max", their mean or elementwise maximum over each sequence's own steps;
        "attention", ``sum_t a_t h_t`` with ``a = softmax_t(w . h_t)`` over the sequence's
        steps, w learned (starting at 0, the mean). Padding never enters. The default, by
        measurement (README, "Cells and readouts"): "max" for classifiers, the most even
        on real data and far ahead of "last" on long sequences; "last" for regressors,
        ahead of "max" in forecasters, where the newest step matters most.
"""

_SHARED_PARAMETERS = (
    """\
    hidden_layer_sizes : int or tuple of int, default=(64,)
        Units of each stacked recurrent layer, first to last.
    cell : {"lstm", "gru"}, default="lstm"
        The recurrent cell of every layer: an LSTM, or a GRU (PyTorch's equations and gate
        order r, z, n, the reset gate applied to ``W_hn h + b_hn``; Keras's
        ``reset_after=True``; 3/4 of an LSTM's weights and work).
"""
    + "{readout}"
    + """\
    solver : {"adam", "sgd", "rmsprop", "adagrad"}, default="adam"
        Optimizer of the flat parameter vector.
    alpha : float, default=0.0001
        Strength of the L2 penalty on the weights (not the biases); as in scikit-learn's
        MLP, it is divided by the batch's total sample weight when added to the loss.
    batch_size : int, default=32
        Sequences per mini-batch (clipped to the number of samples).
    learning_rate : {"constant", "adaptive"}, default="constant"
        "adaptive" divides the step size by 5 at each stall (see ``tol``) and goes on,
        stopping training at a stall once the step would fall below 1e-6; "constant"
        stops at the first stall.
    learning_rate_init : float, default=0.003
        Initial step size of the optimizer (measured: benchmarks/README.md, "Defaults").
    max_iter : int, default=500
        Maximum number of epochs of ``fit``; ``partial_fit`` runs one.
    shuffle : bool, default=True
        Whether to shuffle the samples before each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the shuffling, the dropout masks and the
        validation split of early stopping.
    tol : float, default=0.01
        An epoch improves when its training loss beats the best so far by ``tol`` times
        the first epoch's loss (under early stopping: when its validation score beats the
        best by ``tol``); a stall is more than ``n_iter_no_change`` epochs in a row without
        an improvement. However training ends, ``fit`` keeps the weights of its best epoch
        (lowest training loss, or best validation score), and says so when it ends on a
        stall with the loss still above half its first epoch's, or runs out of epochs
        while still improving.
    verbose : bool, default=False
        Show a progress bar over the epochs with the loss (and validation score): tqdm's
        when installed, else a bar of its own on a terminal and a line per epoch
        elsewhere.
    warm_start : bool, default=False
        Whether ``fit`` continues from the weights of the previous fit (with a fresh
        optimizer, as scikit-learn's MLP does) instead of initialising them anew.
    momentum : float, default=0.9
        Momentum of SGD.
    nesterovs_momentum : bool, default=True
        Whether SGD uses Nesterov's momentum.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified for single-output
        classification), stop when its score stalls and keep the weights of its best
        epoch. Not available to ``partial_fit``.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    beta_1, beta_2 : float, default=0.9, 0.999
        Decay rates of Adam's first and second moment estimates.
    epsilon : float, default=1e-8
        Numerical stability term of Adam, RMSprop and Adagrad.
    n_iter_no_change : int, default=75
        Epochs without improvement allowed before a stall (see ``tol``): LSTM training
        crosses plateaus longer than scikit-learn's MLP's 10 epochs.
    rho : float, default=0.9
        Decay rate of RMSprop's mean square.
    bidirectional : bool, default=False
        Add a reverse-direction layer beside each layer; their outputs are concatenated.
        The reverse direction reads each sequence from its own last step.
    dropout : float, default=0.0
        Fraction of each layer's input units dropped in training, with one mask per
        sequence for all of its steps (Keras's semantics); off at prediction.
    recurrent_dropout : float, default=0.0
        Fraction of the recurrent state's units dropped in training, one mask per sequence
        for all of its steps (Keras's semantics); off at prediction.
    clip_norm : float or None, default=None
        Scale the gradient of each batch down to this global L2 norm when it is larger.
    dtype : {"float32", "float64"}, default="float32"
        Floating point type of the weights and computations; losses are summed and
        predictions returned in float64.
    standardize_X : bool, default=True
        Standardise each input feature over all samples and steps of the first fit (as
        ``SequenceScaler`` does) before the network reads it: inputs of any scale then train
        as well as standardised ones. ``partial_fit`` and ``warm_start`` keep the first
        fit's statistics; exports fold them into the first layer's weights.
    padding_value : float or None, default=None
        The value that pads sequences to a common length in an array: a sequence ends at
        its last step that is not equal to it on every feature, in fit and prediction
        alike. Trailing steps of NaN on every feature always end a sequence (tslearn's and
        aeon's convention), whatever this is. A sequence whose own last steps equal
        ``padding_value`` on every feature loses them: pick a value the data never takes
        on all features at once, or pad with NaN."""
)


def _parameters(readout):
    """The shared parameters' documentation, the readout's with its default ``readout``;
    without it for None (the step estimators have none)."""
    paragraph = "" if readout is None else _READOUT_PARAMETER.format(default=readout)
    return _SHARED_PARAMETERS.replace("{readout}", paragraph)


_ATTRIBUTES = """\
    network_ : LSTMNetwork
        The fitted network: ``network_.params`` is the flat parameter vector and
        ``network_.views`` shows its matrices per layer and direction in PyTorch's shapes
        (gates i, f, g, o).
    n_features_in_ : int
        Features per time step seen in fit (1 for 2-D X: univariate sequences).
    feature_names_in_ : ndarray of shape (n_timesteps,) or (n_features_in_,)
        String column names of X: of a 2-D DataFrame, the time steps of univariate
        sequences; of a list of DataFrames (each with the same columns), the features. X
        passed to predict is then checked as scikit-learn checks a DataFrame: other names
        or another order is an error, arrays without names warn.
    n_outputs_ : int
        Number of network outputs.
    out_activation_ : str
        Output activation.
    loss_ : float
        Training loss of the last epoch.
    best_loss_ : float or None
        Lowest training loss of an epoch; None under early stopping.
    loss_curve_ : list of float
        Training loss of each epoch, over all calls to fit with warm_start and partial_fit
        (the mean over the epoch's batches, as the weights changed: the stopping rule
        watches it).
    validation_scores_ : list of float or None
        Score on the held-out data of each epoch under early stopping, else None.
    best_validation_score_ : float or None
        Best of ``validation_scores_``, whose epoch's weights the model keeps.
    n_iter_ : int
        Epochs run by the last call to fit or partial_fit.
    t_ : int
        Number of training samples seen."""


# Every parameter the estimators share and its default, in signature order: the one place
# they are written (the classes' signatures derive from it, see _parameters_init).
_DEFAULTS = {
    "hidden_layer_sizes": (64,),
    "cell": "lstm",
    "readout": "last",  # the regressors'; the classifiers' is "max" (see _READOUT_PARAMETER)
    "solver": "adam",
    "alpha": 0.0001,
    "batch_size": 32,
    "learning_rate": "constant",
    "learning_rate_init": 0.003,
    "max_iter": 500,
    "shuffle": True,
    "random_state": None,
    "tol": 0.01,
    "verbose": False,
    "warm_start": False,
    "momentum": 0.9,
    "nesterovs_momentum": True,
    "early_stopping": False,
    "validation_fraction": 0.1,
    "beta_1": 0.9,
    "beta_2": 0.999,
    "epsilon": 1e-8,
    "n_iter_no_change": 75,
    "rho": 0.9,
    "bidirectional": False,
    "dropout": 0.0,
    "recurrent_dropout": 0.0,
    "clip_norm": None,
    "dtype": "float32",
    "standardize_X": True,
    "padding_value": None,
}


def _parameters_init(defaults):
    """An estimator's ``__init__``: the first parameter positional or by keyword, the others
    by keyword only, each stored under its name and nothing else done (scikit-learn's rule).

    Its signature is built from ``defaults``, so that ``inspect.signature``, ``help`` and
    scikit-learn's ``get_params`` see every parameter and default, written once.
    """
    first = next(iter(defaults))
    kinds = {first: inspect.Parameter.POSITIONAL_OR_KEYWORD}
    signature = inspect.Signature(
        [
            inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            *(
                inspect.Parameter(
                    name, kinds.get(name, inspect.Parameter.KEYWORD_ONLY), default=default
                )
                for name, default in defaults.items()
            ),
        ]
    )

    def __init__(self, *args, **kwargs):
        try:
            arguments = signature.bind(self, *args, **kwargs)
        except TypeError as exc:  # as Python words it for a written-out signature
            raise TypeError(f"{type(self).__name__}.__init__() {exc}") from None
        arguments.apply_defaults()
        for name, value in list(arguments.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = signature
    return __init__


def _document(doc, parameters):
    """Class docstrings share the parameters (``_parameters``) and attributes they have in
    common."""

    def decorate(cls):
        cls.__doc__ = doc.format(parameters=parameters, attributes=_ATTRIBUTES)
        return cls

    return decorate


class _BaseLSTM(BaseEstimator):
    """Parameters, training and prediction shared by the classifier and the regressor."""

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "cell": [StrOptions(set(CELLS))],
        "readout": [StrOptions(set(READOUTS))],  # not "steps": the step estimators' own
        "solver": [StrOptions({"adam", "sgd", "rmsprop", "adagrad"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "rho": [Interval(Real, 0, 1, closed="left")],
        "bidirectional": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "recurrent_dropout": [Interval(Real, 0, 1, closed="left")],
        "clip_norm": [None, Interval(Real, 0, None, closed="neither")],
        "dtype": [StrOptions({"float32", "float64"}), Options(type, {np.float32, np.float64})],
        "standardize_X": ["boolean"],
        "padding_value": [None, Real],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def __setstate__(self, state):
        # Saved before standardize_X and padding_value existed, a model read its inputs as
        # they were; before cells and readouts, it was an LSTM read at its last states.
        defaults = {
            "standardize_X": False,
            "padding_value": None,
            "cell": "lstm",
            "readout": "last",
        }
        parameters = self._get_param_names()
        state = {**{k: v for k, v in defaults.items() if k in parameters}, **state}
        if "network_" in state:
            # Saved before the stopping rule of issue 9: its weights were the last epoch's.
            defaults = {"_input_units": None, "_stall_reference": None}
            defaults["_kept_epoch"] = len(state.get("loss_curve_", ()))
            state = {**defaults, **state}
        super().__setstate__(state)
        if "network_" in state:  # fitted: a damaged or hand-made file must fail here
            self._check_fitted_state()

    def _check_fitted_state(self):
        """Check that the fitted attributes fit together, as training left them: kernels
        index the optimizer's state as long as the parameter vector."""
        try:
            problem = self._fitted_state_problem()
        except AttributeError as exc:
            problem = f"it lacks the fitted attribute {exc.name}"
        if problem is not None:
            raise ValueError(f"The saved {type(self).__name__} is damaged: {problem}.")

    def _fitted_state_problem(self):
        """What is wrong with the fitted attributes, or None."""
        net, optimizer, loss = self.network_, self._optimizer, self._loss
        problem = None
        if not isinstance(net, LSTMNetwork):
            problem = f"network_ is a {type(net).__name__}, not an LSTMNetwork"
        elif not isinstance(optimizer, _Optimizer):
            problem = f"its optimizer is a {type(optimizer).__name__}"
        elif optimizer.n_params != net.params.size or optimizer.dtype != net.dtype:
            problem = (
                f"its optimizer's state is for {optimizer.n_params} {optimizer.dtype} "
                f"parameters, the network has {net.params.size} {net.dtype}"
            )
        elif (self.n_features_in_, self.n_outputs_) != (net.n_features, net.n_outputs):
            problem = (
                f"n_features_in_={self.n_features_in_!r} and n_outputs_={self.n_outputs_!r} "
                f"do not match the network's {net.n_features} and {net.n_outputs}"
            )
        elif net.readout_kind.per_step != (self.readout == "steps"):
            problem = f"its network's readout {net.readout!r} is not a {type(self).__name__}'s"
        elif not isinstance(self._random_state, np.random.RandomState):
            problem = "its random stream is not a RandomState"
        elif self._input_units is not None and not _are_units(self._input_units, net.n_features):
            problem = "its input standardisation is not a (shift, scale) per feature"
        else:
            problem = self._fitted_targets_problem(net, loss)
        return problem

    def _output_units(self):
        """The target standardisation (shift, scale) of the outputs, None for none."""
        return None

    def _fit_input_units(self, seqs, weights):
        """The input standardisation of a first fit: each feature's mean and standard
        deviation over all steps, each step weighing as its sample weight says; None
        without."""
        if not self.standardize_X:
            return None
        return scaling.standardisation(seqs.data, self._step_weights(weights, seqs))

    # --- Targets: one per sequence here, one per step in the step estimators (_steps) ---

    def _step_weights(self, weights, seqs):
        """The weight of each step of ``seqs`` (None for none), given the sample weights:
        each step weighs as its sequence."""
        return None if weights is None else np.repeat(weights, seqs.lengths)

    def _per_target(self, X, y, sample_weight, seqs):
        """y and sample_weight as one entry per target: per sequence here."""
        return y, sample_weight

    def _target_rows(self, seqs, idx):
        """The rows of the targets (y, Y, weights) of the sequences ``idx`` of ``seqs``."""
        return idx

    def _batch_rows(self, seqs):
        """A function of a packed batch of ``seqs``: the rows of the targets of its
        outputs, in the outputs' order."""
        return lambda batch: batch.order

    def _stratify(self, y):
        """What early stopping's split stratifies by: single-output class labels."""
        return y if is_classifier(self) and y.ndim == 1 else None

    # --- Validation ------------------------------------------------------------------------

    def _validate_sequences(self, X, *, reset):
        """X as ``Sequences``, and its feature names; checked against the fit unless reset.

        Every entry point validates X here. scikit-learn's ``validate_data`` cannot: its
        ``n_features_in_`` is X.shape[1], which for sequences is their length (3-D) or a
        first sequence's length (lists), not the features per step.
        """
        # A list of DataFrames names its features in each sequence.
        names = names_of(X)
        # An array has no feature names: against a fit without them, there is nothing to
        # check (sklearn's check costs more than predicting one sequence).
        if not reset and (hasattr(self, "feature_names_in_") or not isinstance(X, np.ndarray)):
            _check_feature_names(self, names, reset=False)
        # A fitted model computes in the dtype it was fitted in, whatever set_params says,
        # until it is refitted.
        dtype = np.dtype(self.dtype) if reset else self.network_.dtype
        seqs = check_sequences(
            X,
            dtype=dtype,
            n_features=None if reset else self.n_features_in_,
            padding_value=self.padding_value,
        )
        if reset:
            warn_if_channels_first(seqs)
        return seqs, _get_feature_names(names) if reset else None

    def _check_counts(self):
        """Refuse booleans where a count is expected: to Python, and so to scikit-learn's
        parameter checks, True is the integer 1, but as a count it is a mistake."""
        for name in ("batch_size", "max_iter", "n_iter_no_change"):
            value = getattr(self, name)
            if isinstance(value, bool):
                raise ValueError(f"{name} must be a positive int, got {value!r}.")

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if not sizes or not all(
            isinstance(h, Integral) and not isinstance(h, bool) and h > 0 for h in sizes
        ):
            raise ValueError(
                f"hidden_layer_sizes must be a positive integer or a non-empty sequence of "
                f"positive integers, got {self.hidden_layer_sizes!r}."
            )
        return tuple(int(h) for h in sizes)

    @staticmethod
    def _check_y(y, n_samples):
        if y is None:
            raise ValueError("This estimator requires y to be passed, but the target y is None.")
        n_targets = _num_samples(y)
        if n_targets != n_samples:
            raise ValueError(f"X has {n_samples} sequences but y has {n_targets} targets.")

    def _check_continuation(self, hidden_sizes, n_outputs):
        """Refuse to continue training a network of another architecture or output count."""
        if n_outputs != self.n_outputs_:
            raise ValueError(
                f"y has {n_outputs} outputs, the model was fitted with {self.n_outputs_}."
            )
        net = self.network_
        before = dict(
            hidden_layer_sizes=net.hidden_sizes,
            cell=net.cell,
            readout=net.readout,
            bidirectional=net.n_directions == 2,
            dtype=net.dtype.name,
        )
        now = dict(
            hidden_layer_sizes=hidden_sizes,
            cell=self.cell,
            readout=self.readout,
            bidirectional=bool(self.bidirectional),
            dtype=np.dtype(self.dtype).name,
        )
        changed = ", ".join(f"{k} {before[k]!r} -> {now[k]!r}" for k in now if now[k] != before[k])
        if changed:
            raise ValueError(
                f"Cannot continue training a network of another architecture ({changed}). "
                f"Set warm_start=False, or call fit instead of partial_fit, to train anew."
            )

    # --- Training --------------------------------------------------------------------------

    def _fit(self, X, y, sample_weight, *, incremental, classes=None):
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True.")
        self._check_counts()
        hidden_sizes = self._hidden_sizes()
        continuing = hasattr(self, "network_") and (incremental or self.warm_start)
        seqs, feature_names = self._validate_sequences(X, reset=not continuing)
        self._check_y(y, seqs.n_samples)
        y, sample_weight = self._per_target(X, y, sample_weight, seqs)
        targets = self._encode_targets(
            y, reset=not continuing, classes=classes, incremental=incremental
        )
        y, loss = targets.y, targets.loss
        weights = self._sample_weights(y, sample_weight)
        _check_total_weight(weights)
        if continuing:
            self._check_continuation(hidden_sizes, targets.Y.shape[1])
        # The standardisations of inputs and targets, fixed by the first fit.
        if continuing:
            input_units = self._input_units
        else:
            input_units = self._fit_input_units(seqs, weights)
        seqs = seqs.standardised(input_units)
        if is_regressor(self):
            targets.standardise(
                self._target_units if continuing else self._fit_target_units(targets.Y, weights)
            )
        Y = targets.Y
        fitted = {**targets.attributes, "_input_units": input_units}
        self._check_magnitudes(Y, weights, seqs.data.dtype)

        # Train copies: only a completed fit changes the estimator.
        if continuing:
            network = copy.deepcopy(self.network_)
            history = History.resume(self, self.early_stopping)
            rule = StoppingRule.resume(self)
        else:
            network = LSTMNetwork(
                seqs.n_features,
                hidden_sizes,
                Y.shape[1],
                np.dtype(self.dtype),
                self.bidirectional,
                cell=self.cell,
                readout=self.readout,
            )
            history = History(self.early_stopping)
            rule = StoppingRule(self)
        # partial_fit draws from one random stream across its calls, so that n calls train
        # as fit does with max_iter=n.
        rng = (
            copy.deepcopy(self._random_state)
            if continuing and incremental
            else check_random_state(self.random_state)
        )
        scorer = self._scorer(targets)
        optimizer = (
            copy.deepcopy(self._optimizer)
            if continuing and incremental
            else make_optimizer(self, network.params.size, network.dtype)
        )
        # One BLAS thread for the initialisation's QR too: a multi-threaded BLAS call leaves
        # OpenBLAS's threads spinning for a tenth of a second, taking cores from the kernels.
        epochs_before = len(history.loss_curve)
        interrupt = None
        # Values that stop being finite are caught in _train and reported as divergence:
        # numpy's floating point warnings about them would only repeat it.
        try:
            with single_threaded_blas(), np.errstate(over="ignore", invalid="ignore"):
                if not continuing:
                    network.initialize(rng)
                self._train(
                    network,
                    optimizer,
                    rng,
                    history,
                    rule,
                    seqs,
                    y,
                    Y,
                    weights,
                    loss,
                    scorer,
                    incremental,
                )
        except KeyboardInterrupt as exc:
            interrupt = exc  # _train went back to the last completed epoch
        if interrupt is not None and len(history.loss_curve) == epochs_before:
            warnings.warn("fit interrupted before an epoch completed: nothing changed.")
            raise interrupt
        self._commit(
            network,
            optimizer,
            rng,
            history,
            rule,
            loss,
            seqs,
            feature_names,
            fitted,
            continuing,
            incremental,
            epochs_before,
        )
        if interrupt is not None:  # keep what was trained, say so, stop anyway
            warnings.warn(f"fit interrupted: the estimator keeps {history.kept_weights()}.")
            raise interrupt
        return self

    def _commit(
        self,
        network,
        optimizer,
        rng,
        history,
        rule,
        loss,
        seqs,
        feature_names,
        fitted,
        continuing,
        incremental,
        epochs_before,
    ):
        """Make a training's outcome the estimator's fitted state."""
        for name, value in fitted.items():
            setattr(self, name, value)
        if not continuing:
            self.n_features_in_ = seqs.n_features
            if feature_names is None:
                self.__dict__.pop("feature_names_in_", None)
            else:
                self.feature_names_in_ = feature_names
        self.network_ = network
        self._optimizer = optimizer
        self._random_state = copy.deepcopy(rng)  # not the caller's RandomState itself
        self._loss = loss
        self.out_activation_ = loss.out_activation
        self.n_outputs_ = network.n_outputs
        self.n_iter_ = len(history.loss_curve) - epochs_before
        # fit keeps the weights of the best epoch, partial_fit those of its own.
        history.commit(self, len(history.loss_curve) if incremental else history.best_epoch)
        rule.commit(self)

    def _sample_weights(self, y, sample_weight):
        """Validated weights, one per target of y, or None when none were given."""
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, y, dtype=np.float64, ensure_non_negative=True
            )
        return sample_weight

    def _check_magnitudes(self, Y, weights, dtype):
        """Refuse, before training, values that training cannot represent.

        The optimizers square the gradients in the network's dtype, so what scales them
        must keep them below the square root of its largest number: the targets as the
        network sees them (a regression gradient grows with y) and alpha over a batch's
        total weight (the L2 gradient's factor).
        """
        limit = float(np.sqrt(np.finfo(dtype).max))
        largest = float(np.abs(Y).max())
        if largest >= limit:
            raise ValueError(
                f"y holds values as large as {largest:.3g}: training in {dtype} needs them "
                f"below {limit:.2g} (the optimizer squares gradients that grow with y). "
                f"Rescale y, e.g. with sklearn.compose.TransformedTargetRegressor"
                + (", or set dtype='float64'." if dtype == np.float32 else ".")
            )
        smallest = 1.0 if weights is None else float(weights[weights > 0].min())
        if self.alpha / smallest >= limit:
            by = "" if weights is None else f" / the smallest sample weight {smallest:.3g}"
            raise ValueError(
                f"alpha={self.alpha!r} is too large: the L2 gradient's factor, alpha{by}, must "
                f"stay below {limit:.2g} in {dtype} (the optimizer squares it)."
            )

    def _train(
        self, network, optimizer, rng, history, rule, seqs, y, Y, weights, loss, scorer, incremental
    ):
        """Run the epochs on ``network``, BLAS held to one thread, as ``rule`` decides.

        ``scorer(outputs, y, sample_weight)`` scores the held-out data of early stopping. If
        training diverges or is interrupted, the network, optimizer, history and rule go
        back to the end of the last completed epoch. ``fit`` ends with the weights of the
        best epoch, ``partial_fit`` with its own.
        """
        validation = None
        if self.early_stopping:
            train, held_out = self._validation_split(seqs.n_samples, self._stratify(y), rng)
            train_rows = self._target_rows(seqs, train)
            held_out_rows = self._target_rows(seqs, held_out)
            if weights is not None and not (
                weights[train_rows].any() and weights[held_out_rows].any()
            ):
                raise ValueError(
                    "Early stopping held out a validation set, or left a training set, whose "
                    "sample weights are all zero. Give more samples a positive weight or "
                    "change validation_fraction."
                )
            validation = (
                _subset(seqs, held_out),
                y[held_out_rows],
                None if weights is None else weights[held_out_rows],
            )
            seqs, Y = _subset(seqs, train), Y[train_rows]
            weights = None if weights is None else weights[train_rows]
        n = seqs.n_samples
        batch_size = min(self.batch_size, n)
        grad = aligned.zeros(network.params.size, network.dtype)
        grad_views = network.unpack(grad)
        longest_batch = int(np.sort(seqs.lengths)[-batch_size:].sum())
        ws = Workspace(network, longest_batch, batch_size, self.dropout, self.recurrent_dropout)
        threads = ThreadCount(effective_n_threads())
        total_weight = len(Y) if weights is None else weights.sum()
        batch_rows = self._batch_rows(seqs)

        n_epochs = 1 if incremental else self.max_iter
        checkpoint = Checkpoint(network, optimizer, history, rule)
        progress = Progress(self.verbose, n_epochs)
        stopped = None  # why training stopped before max_iter
        try:
            for _ in range(n_epochs):
                order = rng.permutation(n) if self.shuffle else np.arange(n)
                total = 0.0
                for start in range(0, n, batch_size):
                    idx = order[start : start + batch_size]
                    batch = pack_batch(seqs, idx, ws.X)
                    rows = batch_rows(batch)
                    w = None if weights is None else weights[rows]
                    if w is not None and not w.any():
                        continue  # it weighs nothing in the loss: no step, not a 0 / 0
                    masks = network.draw_masks(rng, len(idx), self.dropout, self.recurrent_dropout)
                    n_threads = threads.begin()
                    out = network.forward(batch, ws, n_threads, masks)
                    value, d_out = loss.loss_gradient(Y[rows], out, w)
                    network.backward(batch, ws, d_out, grad_views, n_threads)
                    batch_weight = len(rows) if w is None else w.sum()
                    if self.alpha:
                        value += network.add_l2(grad_views, self.alpha / batch_weight)
                    if not np.isfinite(value) or not np.isfinite(grad).all():
                        raise _Diverged("the loss" if not np.isfinite(value) else "the gradient")
                    if self.clip_norm is not None:
                        _clip(grad, self.clip_norm)
                    optimizer.step(network.params, grad, n_threads)
                    threads.end(batch.offsets[-1])
                    total += value * batch_weight
                if not np.isfinite(network.params).all():
                    raise _Diverged("the weights")
                score = None
                if validation is not None:
                    z = network.predict(validation[0], threads.n_threads).astype(np.float64)
                    score = scorer(z, *validation[1:])
                history.end_epoch(float(total / total_weight), n, score, network)
                stopped = rule.end_epoch(history, optimizer)
                progress.update(history, rule.events)
                checkpoint.save()
                if stopped and not incremental:
                    break
            if not incremental:
                self._report_end(history, rule, stopped, progress)
        except _Diverged as diverged:
            checkpoint.restore()
            advice = "lower learning_rate_init or set clip_norm"
            if not history.loss_curve:
                raise FloatingPointError(
                    f"Training diverged in its first epoch: {diverged} stopped being finite "
                    f"({advice}). The estimator is unchanged."
                ) from None
            warnings.warn(
                f"Training diverged: {diverged} stopped being finite. The estimator keeps "
                f"{history.kept_weights()}; {advice}.",
                DivergenceWarning,
            )
        except KeyboardInterrupt:
            checkpoint.restore()
            raise
        finally:
            progress.close()
            threads.close()
            # However fit ended, it keeps the best epoch's weights.
            if not incremental and history.best_params is not None:
                np.copyto(network.params, history.best_params)

    def _report_end(self, history, rule, stopped, progress):
        """Say why training ended and which weights it keeps: in the progress display, and
        in a ``ConvergenceWarning`` when it stopped on a stall having barely learned, or
        ran out of epochs while still improving."""
        epochs, kept = len(history.loss_curve), history.kept_weights()
        if stopped:
            summary = f"Training stopped at epoch {epochs}: {stopped}. It keeps {kept}."
            warn = underfit(history) and history.validation_scores is None
            if warn:
                summary += (
                    f" Its loss is still {history.best_loss / history.loss_curve[0]:.0%} of "
                    f"the first epoch's: a higher learning_rate_init or more units may help."
                )
        else:
            summary = f"Training ran max_iter={self.max_iter} epochs. It keeps {kept}."
            warn = rule.no_improvement == 0
            if warn:
                summary = (
                    f"Stochastic optimizer: maximum iterations ({self.max_iter}) reached and "
                    f"the optimization hasn't converged yet: its last epochs still improved. "
                    f"It keeps {kept}."
                )
        progress.summary(summary)
        if warn:
            warnings.warn(summary, ConvergenceWarning)

    def _validation_split(self, n, stratify, rng):
        """Indices of training and held-out samples (of n) for early stopping, stratified
        by ``stratify`` unless None."""
        n_held_out = int(np.ceil(self.validation_fraction * n))  # as train_test_split
        needed = 2 if stratify is None else max(2, len(np.unique(stratify)))  # each class
        if n_held_out < needed:
            raise ValueError(
                f"The validation set is too small: validation_fraction="
                f"{self.validation_fraction} of {n} samples holds {n_held_out}, and early "
                f"stopping needs {needed}. Increase validation_fraction or the data set."
            )
        needed = 1 if stratify is None else len(np.unique(stratify))
        if n - n_held_out < needed:
            raise ValueError(
                f"The training set is too small: validation_fraction="
                f"{self.validation_fraction} of {n} samples leaves {n - n_held_out} "
                f"to train on, and early stopping needs {needed}. Decrease validation_fraction."
            )
        return train_test_split(
            np.arange(n), test_size=n_held_out, random_state=rng, stratify=stratify
        )

    # --- Prediction ------------------------------------------------------------------------

    def _forward(self, X):
        """The network's outputs (logits) for X, in float64."""
        return self._forward_sequences(X)[0]

    def _forward_sequences(self, X):
        """The network's outputs (logits) for X, in float64, and X as ``Sequences``."""
        if not hasattr(self, "network_"):  # check_is_fitted alone costs microseconds
            check_is_fitted(self)
        seqs, _ = self._validate_sequences(X, reset=False)
        seqs = seqs.standardised(self._input_units)
        if seqs.n_samples <= SERIAL_PREDICT_SAMPLES:
            # Too few rows to share among threads; without OpenMP threads, BLAS may have its
            # own, and limiting it would cost more than this prediction.
            z = self.network_.predict(seqs, n_threads=1)
        else:
            with single_threaded_blas():
                z = self.network_.predict(seqs, effective_n_threads())
        return z.astype(np.float64), seqs

    def stream(self, n_streams=1):
        """Streaming inference: ``n_streams`` sequences fed one time step at a time.

        The stream holds each sequence's recurrent state and the readout's running
        aggregate: ``stream.update(x)`` consumes one step of each stream (``x`` of shape
        (n_streams, n_features), or (n_features,) for one stream), ``stream.predict()``
        (and a classifier's ``predict_proba()``, ``predict_log_proba()``) gives what
        ``predict`` gives on each stream's steps so far, ``stream.reset(i=None)``
        restarts stream i or all. A step estimator's stream gives the outputs of each
        stream's newest step, and ``update`` returns them. The stream keeps a copy of this
        fitted model: refitting it changes nothing in the stream. Thread-safe; picklable.
        Unidirectional models only.

        Parameters
        ----------
        n_streams : int, default=1
            Number of sequences advancing together.

        Returns
        -------
        stream : Stream
            A ``ClassifierStream`` for a classifier; ``StepStream`` or
            ``StepClassifierStream`` for a step estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from sklstm import LSTMRegressor
        >>> X = np.random.RandomState(0).normal(size=(20, 6, 2))
        >>> reg = LSTMRegressor(4, max_iter=2, random_state=0).fit(X, X[:, -1, 0])
        >>> stream = reg.stream()
        >>> for x in X[0]:
        ...     stream.update(x)
        >>> bool(stream.predict() == reg.predict(X[:1]))
        True
        """
        check_is_fitted(self)
        check_streamable(self, n_streams)
        return stream_class(self)(copy.deepcopy(self), n_streams)


@dataclass
class _Targets:
    """A fit's targets: ``y`` validated (what scores and stratification read), ``Y`` as the
    network trains on it (one column per output), the loss, and the fitted attributes
    that the encoding defines (``classes_``...)."""

    y: np.ndarray
    Y: np.ndarray
    loss: object
    attributes: dict

    def standardise(self, units):
        """Train on Y standardised by ``units``, (shift, scale) per output, or as it is if
        None; the units become the fitted ``_target_units``."""
        self.attributes["_target_units"] = units
        if units is not None:
            self.Y = (self.Y - units[0]) / units[1]


def _check_total_weight(weights):
    """Weights must leave something to train on, and have a finite total."""
    if weights is None:
        return
    with np.errstate(over="ignore"):  # an overflow is the error reported below
        total = weights.sum()
    if total == 0:
        raise ValueError(
            "The sample weights (sample_weight, times class_weight for a classifier) are all "
            "zero: there is nothing to train on."
        )
    if not np.isfinite(total):
        raise ValueError(
            f"sample_weight sums to {total}, more than float64 holds: divide it by a "
            f"constant, such as its maximum."
        )


class _Diverged(Exception):
    """Raised inside the epoch loop when a value stops being finite; names the value."""


def _subset(seqs, idx):
    """Some of the sequences, without copying their steps."""
    return seqs._replace(starts=seqs.starts[idx], lengths=seqs.lengths[idx])


def _clip(grad, clip_norm):
    """Scale ``grad`` in place down to a global L2 norm of ``clip_norm``."""
    norm = float(np.linalg.norm(grad))
    if norm > clip_norm:
        grad *= clip_norm / norm


@_document(
    """LSTM classifier for sequences.

    Binary targets get one sigmoid output and binary cross-entropy; multiclass targets a
    softmax and categorical cross-entropy; multilabel indicator targets a sigmoid per label
    and binary cross-entropy.

    Parameters
    ----------
{parameters}
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied into the sample weights: a dict from label to
        weight, or "balanced" for weights inversely proportional to class frequencies.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
{attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import LSTMClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 10, 2))
    >>> y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    >>> clf = LSTMClassifier(hidden_layer_sizes=8, max_iter=20, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """,
    parameters=_parameters("max"),
)
class LSTMClassifier(ClassifierMixin, _BaseLSTM):
    _parameter_constraints = {
        **_BaseLSTM._parameter_constraints,
        "class_weight": [None, dict, StrOptions({"balanced"})],
    }

    __init__ = _parameters_init({**_DEFAULTS, "readout": "max", "class_weight": None})

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to sequences X and labels y.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Training sequences: a 3-D array, a 2-D array of univariate sequences, or a list of
            sequences of any lengths.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the loss.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Train for one epoch on X and y, continuing from the previous call.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Training sequences.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the loss.
        classes : array-like of shape (n_classes,), default=None
            Every class that y may hold in any call: required on the first call (but for
            multilabel y), ignored or checked afterwards.

        Returns
        -------
        self : object
            The updated estimator.
        """
        if isinstance(self.class_weight, str):  # "balanced", the only string allowed
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: each call sees only "
                "its own samples. Compute the weights over all the data, e.g. with "
                "sklearn.utils.class_weight.compute_class_weight, and pass them as a dict."
            )
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _encode_targets(self, y, *, reset, classes, incremental):
        """y validated and encoded for the loss, as ``_Targets``."""
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")  # finite, not sparse
        multilabel = type_of_target(y) == "multilabel-indicator"
        if not multilabel:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not reset:
            binarizer = self._label_binarizer
            fitted_multilabel = binarizer.y_type_ == "multilabel-indicator"
            if multilabel != fitted_multilabel:
                kinds = ["class labels", "a multilabel indicator matrix"]
                raise ValueError(
                    f"y is {kinds[multilabel]}, but the model was fitted on "
                    f"{kinds[fitted_multilabel]}: to change the kind of target, train anew "
                    f"(warm_start=False, or fit instead of partial_fit)."
                )
            if multilabel and y.shape[1] != len(binarizer.classes_):
                raise ValueError(
                    f"y has {y.shape[1]} labels, the model was fitted with "
                    f"{len(binarizer.classes_)}."
                )
            if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(
                    f"classes={classes!r} is not the same as on the first call to "
                    f"partial_fit, {self.classes_!r}."
                )
        else:
            if incremental and classes is None and not multilabel:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            binarizer = LabelBinarizer().fit(y if classes is None else classes)
            if len(binarizer.classes_) < 2:
                raise ValueError(
                    f"The classifier needs samples of at least 2 classes; got only class "
                    f"{binarizer.classes_.tolist()[0]!r} in {len(y)} "
                    f"sample{'s' if len(y) > 1 else ''}."
                )
        unseen = [] if multilabel else np.setdiff1d(np.unique(y), binarizer.classes_)
        if len(unseen):
            raise ValueError(f"y holds labels {unseen.tolist()} that are not in classes.")
        loss = SoftmaxCrossEntropy() if binarizer.y_type_ == "multiclass" else SigmoidCrossEntropy()
        Y = binarizer.transform(y).astype(np.float64)
        return _Targets(y, Y, loss, {"classes_": binarizer.classes_, "_label_binarizer": binarizer})

    def _sample_weights(self, y, sample_weight):
        weights = super()._sample_weights(y, sample_weight)
        if self.class_weight is None:
            return weights
        if y.ndim > 1:
            raise ValueError("class_weight is not supported for multilabel targets.")
        if isinstance(self.class_weight, dict):
            bad = {
                label: weight
                for label, weight in self.class_weight.items()
                if not (isinstance(weight, Real) and np.isfinite(weight) and weight >= 0)
            }
            if bad:
                raise ValueError(
                    f"class_weight must map labels to finite, non-negative numbers; got {bad}."
                )
        class_weights = compute_sample_weight(self.class_weight, y)
        return class_weights if weights is None else weights * class_weights

    def _fitted_targets_problem(self, net, loss):
        """What is wrong with the fitted classes, label encoding and loss, or None."""
        binarizer, classes = self._label_binarizer, self.classes_
        n_classes = len(classes) if isinstance(classes, np.ndarray) else -1
        expected = {  # the loss and the outputs each kind of target trains
            "binary": (SigmoidCrossEntropy, 1),
            "multiclass": (SoftmaxCrossEntropy, n_classes),
            "multilabel-indicator": (SigmoidCrossEntropy, n_classes),
        }
        kind = getattr(binarizer, "y_type_", None)
        if (
            not isinstance(binarizer, LabelBinarizer)
            or kind not in expected
            or not np.array_equal(binarizer.classes_, classes)
            or (kind == "binary" and n_classes != 2)
        ):
            return "its label encoding does not match classes_"
        loss_type, n_outputs = expected[kind]
        if type(loss) is not loss_type or net.n_outputs != n_outputs:
            return (
                f"{kind} targets train a {loss_type.__name__} on {n_outputs} outputs, not a "
                f"{type(loss).__name__} on {net.n_outputs}"
            )
        return None

    @staticmethod
    def _scorer(targets):
        loss, binarizer = targets.loss, targets.attributes["_label_binarizer"]
        return lambda z, y, w: accuracy_score(y, _labels(loss, binarizer, z), sample_weight=w)

    def predict(self, X):
        """Predict class labels (label indicators for multilabel targets).

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Sequences; their lengths may differ from those seen in fit.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Predicted labels.
        """
        return self._predictions(self._forward(X))

    def predict_proba(self, X):
        """Probability of each class (of each label for multilabel targets).

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Sequences.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, in the order of ``classes_``.
        """
        return self._proba(self._forward(X))

    def predict_log_proba(self, X):
        """Logarithm of ``predict_proba``, computed stably from the network's outputs.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Sequences.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities, in the order of ``classes_``.
        """
        return self._log_proba(self._forward(X))

    def _predictions(self, z):
        """The labels (label indicators for multilabel targets) of the outputs z."""
        return _labels(self._loss, self._label_binarizer, z)

    def _proba(self, z):
        """The probability of each class (of each label: multilabel) from the outputs z."""
        p = self._loss.predict(z)
        return np.hstack([1 - p, p]) if self._label_binarizer.y_type_ == "binary" else p

    def _log_proba(self, z):
        """The logarithm of ``_proba``, computed stably from the outputs z."""
        if self._label_binarizer.y_type_ == "binary":
            return np.hstack([log_expit(-z), log_expit(z)])
        return self._loss.log_predict(z)


@_document(
    """LSTM regressor for sequences, trained on mean squared error.

    Parameters
    ----------
{parameters}
    output_activation : {{"identity", "tanh", "sigmoid"}}, default="identity"
        Activation of the outputs; the squared error is taken after it.
    standardize_y : bool, default=True
        Train on y standardised per output (mean 0, standard deviation 1, unweighted, as
        ``GaussianProcessRegressor`` does) and predict in y's own units: targets of any
        scale then train as well as standardised ones. Only with the identity output:
        tanh and sigmoid bound the outputs, so y must already lie in their range.
        ``partial_fit`` and ``warm_start`` keep the scale of the first fit.

    Attributes
    ----------
{attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import LSTMRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 10, 2))
    >>> y = X[:, -3:, 0].sum(axis=1)
    >>> reg = LSTMRegressor(hidden_layer_sizes=8, max_iter=20, random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    """,
    parameters=_parameters("last"),
)
class LSTMRegressor(RegressorMixin, _BaseLSTM):
    _parameter_constraints = {
        **_BaseLSTM._parameter_constraints,
        "output_activation": [StrOptions({"identity", "tanh", "sigmoid"})],
        "standardize_y": ["boolean"],
    }

    __init__ = _parameters_init(
        {**_DEFAULTS, "output_activation": "identity", "standardize_y": True}
    )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to sequences X and targets y.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Training sequences: a 3-D array, a 2-D array of univariate sequences, or a list of
            sequences of any lengths.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the loss.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch on X and y, continuing from the previous call.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Training sequences.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the loss.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _encode_targets(self, y, *, reset, classes, incremental):
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        if y.ndim > 2:
            raise ValueError(f"y must be 1-D or 2-D (n_samples, n_outputs); got {y.ndim}-D.")
        return _Targets(y, y.reshape(len(y), -1), SquaredError(self.output_activation), {})

    def _fit_target_units(self, Y, weights):
        """The target standardisation of a first fit, None for none."""
        if self.standardize_y and self.output_activation == "identity":
            return scaling.standardisation(Y, weights)
        return None

    def _output_units(self):
        return self._target_units

    def __setstate__(self, state):
        # Saved before standardize_y existed, a model trained on y as it was.
        state = {"standardize_y": False, **state}
        if "network_" in state:
            state.setdefault("_target_units", None)
        super().__setstate__(state)

    def _fitted_targets_problem(self, net, loss):
        """What is wrong with the fitted loss and target standardisation, or None."""
        activation = getattr(loss, "out_activation", None)
        if not isinstance(loss, SquaredError) or not (
            isinstance(activation, str) and activation in OUTPUT_ACTIVATIONS
        ):
            return "its loss is not a squared error after a known output activation"
        units = self._target_units
        if units is not None and not _are_units(units, net.n_outputs):
            return "its target standardisation is not a (shift, scale) per output"
        return None

    @staticmethod
    def _scorer(targets):
        loss, units = targets.loss, targets.attributes["_target_units"]
        return lambda z, y, w: r2_score(y, _values(loss, z, units), sample_weight=w)

    def predict(self, X):
        """Predict targets.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Sequences; their lengths may differ from those seen in fit.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions.
        """
        return self._predictions(self._forward(X))

    def _predictions(self, z):
        """The predicted targets, in y's units, of the outputs z."""
        return _values(self._loss, z, self._output_units())


def _labels(loss, binarizer, z):
    """Classifier outputs: the labels (label indicators for multilabel targets) of z."""
    return binarizer.inverse_transform(loss.predict(z))


def _values(loss, z, units):
    """Regression outputs: the output activation of z in the target's ``units`` (shift,
    scale, or None for z's own), 1-D for a single output."""
    y = loss.predict(z)
    if units is not None:
        y = y * units[1]
        y += units[0]
    return y.ravel() if y.shape[1] == 1 else y


def _are_units(units, n):
    """Whether ``units`` is a standardisation: finite shifts and positive scales, n each."""
    return (
        isinstance(units, tuple)
        and len(units) == 2
        and all(
            isinstance(u, np.ndarray) and u.shape == (n,) and u.dtype == np.float64 for u in units
        )
        and np.isfinite(units[0]).all()
        and (np.isfinite(units[1]) & (units[1] > 0)).all()
    )
