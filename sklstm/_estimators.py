"""The scikit-learn estimators: parameters, validation, the epoch loop, prediction."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.special import log_expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from ._losses import SigmoidCrossEntropy, SoftmaxCrossEntropy, SquaredError
from ._network import LSTMNetwork, Workspace
from ._optimizers import make_optimizer
from ._sequences import check_sequences, pack_batch
from ._threading import effective_n_threads, single_threaded_blas

# Predictions on at most this many sequences run in one thread.
SERIAL_PREDICT_SAMPLES = 16


class _BaseLSTM(BaseEstimator):
    """Parameters, training loop and prediction shared by the classifier and the regressor."""

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions({"adam", "sgd", "rmsprop", "adagrad"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "rho": [Interval(Real, 0, 1, closed="left")],
        "dtype": [StrOptions({"float32", "float64"}), Options(type, {np.float32, np.float64})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(64,),
        *,
        solver="adam",
        alpha=0.0001,
        batch_size=32,
        learning_rate_init=0.001,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        n_iter_no_change=10,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        momentum=0.9,
        nesterovs_momentum=True,
        rho=0.9,
        dtype="float32",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.rho = rho
        self.dtype = dtype

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the model to sequences X and targets y.

        Parameters
        ----------
        X : array of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), \
                or list of arrays of shape (n_timesteps_i, n_features)
            Training sequences: a 3-D array, a 2-D array of univariate sequences, or a list of
            sequences of any lengths.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        hidden_sizes = self._hidden_sizes()
        dtype = np.dtype(self.dtype)
        seqs = check_sequences(X, dtype=dtype)
        n = seqs.n_samples
        if _num_samples(y) != n:
            raise ValueError(f"X has {n} sequences but y has {_num_samples(y)} targets.")
        Y, loss, target_attributes = self._encode_targets(y)

        rng = check_random_state(self.random_state)
        network = LSTMNetwork(seqs.n_features, hidden_sizes, Y.shape[1], dtype)
        # One BLAS thread for the initialisation's QR too: a multi-threaded BLAS call leaves
        # OpenBLAS's threads spinning for a tenth of a second, taking cores from the kernels.
        with single_threaded_blas():
            network.initialize(rng)
            curve = self._train(network, seqs, Y, loss, rng)

        # Only a completed fit changes the estimator.
        for name, value in target_attributes.items():
            setattr(self, name, value)
        self.network_ = network
        self._loss = loss
        self.out_activation_ = loss.out_activation
        self.n_features_in_ = seqs.n_features
        self.n_outputs_ = Y.shape[1]
        self.loss_curve_ = curve
        self.loss_ = curve[-1]
        self.best_loss_ = min(curve)
        self.n_iter_ = len(curve)
        self.t_ = n * len(curve)
        return self

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if not sizes or not all(isinstance(h, Integral) and h > 0 for h in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be a positive integer or a non-empty sequence of "
                f"positive integers, got {self.hidden_layer_sizes!r}."
            )
        return [int(h) for h in sizes]

    def _train(self, network, seqs, Y, loss, rng):
        """Run the epochs, BLAS held to one thread; return the training loss of each."""
        n = seqs.n_samples
        batch_size = min(self.batch_size, n)
        optimizer = make_optimizer(self, network.params.size, network.dtype)
        grad = np.zeros_like(network.params)
        grad_views = network.unpack(grad)
        ws = Workspace(network)
        ws.ensure(int(np.sort(seqs.lengths)[-batch_size:].sum()), batch_size)
        n_threads = effective_n_threads()

        curve, best, stalled = [], np.inf, 0
        for _ in range(self.max_iter):
            order = rng.permutation(n) if self.shuffle else np.arange(n)
            total = 0.0
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                batch = pack_batch(seqs, idx, ws.X)
                out = network.forward(batch, ws, n_threads)
                value, d_out = loss.loss_gradient(Y[batch.order], out)
                network.backward(batch, ws, d_out, grad_views, n_threads)
                if self.alpha:
                    value += network.add_l2(grad_views, self.alpha / len(idx))
                optimizer.step(network.params, grad, n_threads)
                total += value * len(idx)
            curve.append(float(total / n))
            # scikit-learn's MLP rule: stop after n_iter_no_change epochs that each fail
            # to improve on the best loss by tol.
            stalled = stalled + 1 if curve[-1] > best - self.tol else 0
            best = min(best, curve[-1])
            if stalled > self.n_iter_no_change:
                break
        else:
            warnings.warn(
                f"Stochastic optimizer: maximum iterations ({self.max_iter}) reached and "
                f"the optimization hasn't converged yet.",
                ConvergenceWarning,
            )
        return curve

    def _forward(self, X):
        """The network's outputs (logits) for X."""
        if not hasattr(self, "network_"):  # check_is_fitted alone costs microseconds
            check_is_fitted(self)
        seqs = check_sequences(X, dtype=self.network_.dtype, n_features=self.n_features_in_)
        if seqs.n_samples <= SERIAL_PREDICT_SAMPLES:
            # Too few rows to share among threads; without OpenMP threads, BLAS may have its
            # own, and limiting it would cost more than this prediction.
            return self.network_.predict(seqs, n_threads=1)
        with single_threaded_blas():
            return self.network_.predict(seqs, effective_n_threads())


def _num_samples(y):
    return y.shape[0] if hasattr(y, "shape") else len(y)


class LSTMClassifier(ClassifierMixin, _BaseLSTM):
    """LSTM classifier for sequences.

    Binary targets get one sigmoid output and binary cross-entropy; multiclass targets a
    softmax and categorical cross-entropy; multilabel indicator targets a sigmoid per label
    and binary cross-entropy.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(64,)
        Units of each stacked LSTM layer, first to last.
    solver : {"adam", "sgd", "rmsprop", "adagrad"}, default="adam"
        Optimizer of the flat parameter vector.
    alpha : float, default=0.0001
        Strength of the L2 penalty on the weights (not the biases); as in MLPClassifier, it
        is divided by the batch size when added to the loss.
    batch_size : int, default=32
        Sequences per mini-batch (clipped to the number of samples).
    learning_rate_init : float, default=0.001
        Step size of the optimizer.
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Whether to shuffle the samples before each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation and the shuffling.
    tol : float, default=1e-4
        Training stops once the loss has failed to improve by ``tol`` for
        ``n_iter_no_change`` consecutive epochs.
    n_iter_no_change : int, default=10
        See ``tol``.
    beta_1, beta_2 : float, default=0.9, 0.999
        Decay rates of Adam's first and second moment estimates.
    epsilon : float, default=1e-8
        Numerical stability term of Adam, RMSprop and Adagrad.
    momentum : float, default=0.9
        Momentum of SGD.
    nesterovs_momentum : bool, default=True
        Whether SGD uses Nesterov's momentum.
    rho : float, default=0.9
        Decay rate of RMSprop's mean square.
    dtype : {"float32", "float64"}, default="float32"
        Floating point type of the weights and computations; losses are summed in float64.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    network_ : LSTMNetwork
        The fitted network: ``network_.params`` is the flat parameter vector and
        ``network_.views`` its per-layer views (PyTorch's layout, gates i, f, g, o).
    n_features_in_ : int
        Features per time step seen in fit.
    n_outputs_ : int
        Number of network outputs.
    out_activation_ : str
        Output activation: "sigmoid" or "softmax".
    loss_ : float
        Training loss of the last epoch.
    best_loss_ : float
        Lowest training loss of an epoch.
    loss_curve_ : list of float
        Training loss of each epoch.
    n_iter_ : int
        Number of epochs run.
    t_ : int
        Number of training samples seen.

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
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _encode_targets(self, y):
        if type_of_target(y) != "multilabel-indicator":
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        binarizer = LabelBinarizer().fit(y)
        if len(binarizer.classes_) < 2:
            raise ValueError(
                f"The classifier needs samples of at least 2 classes in y; got only class "
                f"{binarizer.classes_[0]!r}."
            )
        loss = SoftmaxCrossEntropy() if binarizer.y_type_ == "multiclass" else SigmoidCrossEntropy()
        Y = binarizer.transform(y).astype(np.float64)
        return Y, loss, {"classes_": binarizer.classes_, "_label_binarizer": binarizer}

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
        z = self._forward(X)
        return self._label_binarizer.inverse_transform(self._loss.predict(z))

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
        z = self._forward(X)
        p = self._loss.predict(z)
        return np.hstack([1 - p, p]) if self._label_binarizer.y_type_ == "binary" else p

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
        z = self._forward(X)
        if self._label_binarizer.y_type_ == "binary":
            return np.hstack([log_expit(-z), log_expit(z)])
        return self._loss.log_predict(z)


class LSTMRegressor(RegressorMixin, _BaseLSTM):
    """LSTM regressor for sequences, trained on mean squared error.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(64,)
        Units of each stacked LSTM layer, first to last.
    output_activation : {"identity", "tanh", "sigmoid"}, default="identity"
        Activation of the outputs; the squared error is taken after it.
    solver : {"adam", "sgd", "rmsprop", "adagrad"}, default="adam"
        Optimizer of the flat parameter vector.
    alpha : float, default=0.0001
        Strength of the L2 penalty on the weights (not the biases); as in MLPRegressor, it
        is divided by the batch size when added to the loss.
    batch_size : int, default=32
        Sequences per mini-batch (clipped to the number of samples).
    learning_rate_init : float, default=0.001
        Step size of the optimizer.
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Whether to shuffle the samples before each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation and the shuffling.
    tol : float, default=1e-4
        Training stops once the loss has failed to improve by ``tol`` for
        ``n_iter_no_change`` consecutive epochs.
    n_iter_no_change : int, default=10
        See ``tol``.
    beta_1, beta_2 : float, default=0.9, 0.999
        Decay rates of Adam's first and second moment estimates.
    epsilon : float, default=1e-8
        Numerical stability term of Adam, RMSprop and Adagrad.
    momentum : float, default=0.9
        Momentum of SGD.
    nesterovs_momentum : bool, default=True
        Whether SGD uses Nesterov's momentum.
    rho : float, default=0.9
        Decay rate of RMSprop's mean square.
    dtype : {"float32", "float64"}, default="float32"
        Floating point type of the weights and computations; losses are summed in float64.

    Attributes
    ----------
    network_ : LSTMNetwork
        The fitted network: ``network_.params`` is the flat parameter vector and
        ``network_.views`` its per-layer views (PyTorch's layout, gates i, f, g, o).
    n_features_in_ : int
        Features per time step seen in fit.
    n_outputs_ : int
        Number of outputs.
    out_activation_ : str
        Output activation.
    loss_ : float
        Training loss of the last epoch.
    best_loss_ : float
        Lowest training loss of an epoch.
    loss_curve_ : list of float
        Training loss of each epoch.
    n_iter_ : int
        Number of epochs run.
    t_ : int
        Number of training samples seen.

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
    """

    _parameter_constraints = {
        **_BaseLSTM._parameter_constraints,
        "output_activation": [StrOptions({"identity", "tanh", "sigmoid"})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(64,),
        *,
        output_activation="identity",
        solver="adam",
        alpha=0.0001,
        batch_size=32,
        learning_rate_init=0.001,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        n_iter_no_change=10,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        momentum=0.9,
        nesterovs_momentum=True,
        rho=0.9,
        dtype="float32",
    ):
        super().__init__(
            hidden_layer_sizes,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            rho=rho,
            dtype=dtype,
        )
        self.output_activation = output_activation

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _encode_targets(self, y):
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        if y.ndim > 2:
            raise ValueError(f"y must be 1-D or 2-D (n_samples, n_outputs); got {y.ndim}-D.")
        Y = y.reshape(len(y), -1)
        return Y, SquaredError(self.output_activation), {}

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
        z = self._forward(X)
        y = self._loss.predict(z)
        return y.ravel() if self.n_outputs_ == 1 else y
