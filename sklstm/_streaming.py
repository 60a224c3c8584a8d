"""Streaming inference: a fitted unidirectional model fed one time step at a time.

A service that receives a sequence step by step must not run the whole sequence again at
each step. ``est.stream(n_streams)`` returns a ``Stream`` of ``n_streams`` sequences that
advance together: ``update(x)`` consumes one step of each, ``predict()`` (and a
classifier's ``predict_proba()`` and ``predict_log_proba()``) answers what the
estimator's would on the steps seen so far, ``reset(i)`` restarts one stream or all.

The design:

- The state. A prediction over a whole sequence carries from one step to the next each
  layer's hidden state (and an LSTM's cell state) and the readout's online form
  (``_readouts``: ``Readout.accumulator``); a stream holds exactly that, per stream, in
  its kernel (``_kernels/_stream.pyx``), which advances every layer and the readout of
  every stream in one call: the arithmetic of ``LSTMNetwork.predict`` step for step
  (see the kernel's docstring). Memory: O(n_streams x sum of H), whatever the length.
- The answer. ``predict`` reads the readout from the state (``READOUT_RESULTS``, as
  ``Readout.forward`` would give it), and the head and the estimator's own outputs
  follow as in ``est.predict``: last, mean and max give its bits, attention its values
  to rounding (about 1e-12 relative in float64, 1e-5 in float32, over hundreds of
  steps: tested).
- The model. A stream keeps a copy of the fitted estimator it was made from (its
  weights, input standardisation, classes): refitting the estimator afterwards changes
  nothing in the stream. A stream pickles (its copy and its state).
- Threads. Calls on one stream run one after another (the kernel's lock), from any
  threads; ``update`` releases the GIL for its arithmetic, so separate streams advance in
  parallel. An interleaving of calls from several threads on one stream is safe, but
  which step comes first is the threads' order.
- Input. ``x`` is one step per stream, (n_streams, n_features), or (n_features,) for a
  single stream: any array-like of real numbers, converted to the model's dtype as
  ``predict`` converts X (the fast path: a C-contiguous array of that dtype). A
  DataFrame (a row per stream) or a Series (one stream) has its feature names checked
  as ``predict`` checks them; an array against a model fitted with names is taken as it
  is, without predict's warning (a stream is fed thousands of steps a second). NaN or
  infinity is refused: a stream has no padding.
- Bidirectional models are refused: their reverse direction starts from a sequence's
  last step, which a stream has not seen.

- Per-step estimators. Their output at a step is the head of the top layer's state at that
  step, the online form of "last": ``update`` returns it (the estimator's ``predict`` on
  the steps so far, at their newest step), and ``predict`` gives it again (``StepStream``).

Extending it. The readout's online form is pluggable: a readout streams once the kernel
has its one-step form (``_stream.READOUTS``) and ``READOUT_RESULTS`` reads it out of the
state; ``stream_class`` picks the stream of an estimator.
"""

import operator
from numbers import Integral

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import _check_feature_names

from ._kernels._stream import StreamKernel
from ._readouts import _mean
from ._sequences import _numbers

# Each readout from the kernel's state (``StreamKernel``) and the top layer's states h,
# (n_streams, H), as ``Readout.forward`` gives it over the steps seen.
READOUT_RESULTS = {
    "last": lambda state, h: h,
    "mean": lambda state, h: _mean(state["aggregate"], state["steps"]),
    "max": lambda state, h: state["aggregate"],
    "attention": lambda state, h: state["aggregate"] / state["denominator"][:, None],
    "steps": lambda state, h: h,
}


def check_streamable(est, n_streams):
    """Refuse, with a clear message, what cannot stream."""
    if not isinstance(n_streams, Integral) or isinstance(n_streams, bool) or n_streams < 1:
        raise ValueError(f"n_streams must be a positive int, got {n_streams!r}.")
    if est.network_.n_directions != 1:
        raise ValueError(
            "A bidirectional model cannot stream: its reverse direction reads each sequence "
            "from its last step, which a stream has not seen yet. Fit with "
            "bidirectional=False to stream."
        )


class Stream:
    """``n_streams`` sequences fed to a fitted model one step at a time (see the module
    docstring). Made by the estimator's ``stream`` method.

    Attributes
    ----------
    n_streams : int
        The number of streams.
    n_steps : ndarray of shape (n_streams,)
        The steps each stream has seen since it was made or reset.
    """

    def __init__(self, model, n_streams, state=None):
        self._model = model  # a copy of the estimator: its own from now on
        self._kernel = StreamKernel(model.network_, n_streams, model._input_units)
        if state is not None:
            self._kernel.set_state(state)

    def __reduce__(self):
        return type(self), (self._model, self.n_streams, self._kernel.get_state())

    def __repr__(self):
        return f"<{type(self).__name__} of {self.n_streams} for {type(self._model).__name__}>"

    @property
    def n_streams(self):
        return self._kernel.n

    @property
    def n_steps(self):
        return self._kernel.get_state()["steps"]

    def update(self, x):
        """Feed each stream its next step.

        Parameters
        ----------
        x : array-like of shape (n_streams, n_features), or (n_features,) for one stream
            The step of each stream, in the units of the estimator's X. A failed call
            changes nothing.
        """
        if not self._kernel.update(x):  # not an array of the model's dtype
            self._kernel.update(self._as_array(x))

    def _as_array(self, x):
        """x as a C-contiguous array of the model's dtype; a DataFrame's (or Series')
        feature names checked as ``predict`` checks them."""
        if hasattr(x, "to_frame") and getattr(x, "ndim", None) == 1:  # a Series: one row
            x = x.to_frame().T
        if hasattr(x, "columns"):
            _check_feature_names(self._model, x, reset=False)
        a = np.asarray(x)
        if a.dtype.kind in "OSUmM":  # as predict reads X: numbers, or a clear error
            a = _numbers(a, self._kernel.dtype, "x")
        elif a.dtype.kind not in "biuf":
            raise ValueError(f"x must hold real numbers, got an array of {a.dtype}.")
        return np.asarray(a, dtype=self._kernel.dtype, order="C")  # a scalar stays 0-D

    def reset(self, i=None):
        """Restart stream ``i`` (an index, as into a list of the streams), or all of them
        with None: as if it had seen no step."""
        if i is None:
            self._kernel.reset(0, self.n_streams)
            return
        if isinstance(i, bool):
            raise TypeError("i must be an int index of a stream or None, got a bool.")
        try:
            index = operator.index(i)
        except TypeError:
            raise TypeError(
                f"i must be an int index of a stream or None, got {type(i).__name__}."
            ) from None
        if not -self.n_streams <= index < self.n_streams:
            raise IndexError(f"stream {index} is out of range for {self.n_streams} streams.")
        index %= self.n_streams
        self._kernel.reset(index, index + 1)

    def _outputs(self):
        """The network's outputs (logits) on the steps seen, in float64, as
        ``_BaseLSTM._forward`` gives them."""
        state = self._kernel.get_state()
        if not state["steps"].all():
            empty = np.flatnonzero(state["steps"] == 0)
            raise ValueError(
                f"Stream{'s' if empty.size > 1 else ''} {', '.join(map(str, empty))} "
                f"{'have' if empty.size > 1 else 'has'} seen no step since made or reset: "
                f"call update first."
            )
        net = self._model.network_
        h = READOUT_RESULTS[net.readout](state, state[f"h_{len(net.hidden_sizes) - 1}"])
        # Each stream's head alone, a (1, H) product as ``est.predict`` of one sequence
        # computes it: BLAS's result for a row may depend on the rows beside it.
        return net._head(h[:, None, :])[:, 0].astype(np.float64)

    def predict(self):
        """What the estimator's ``predict`` gives on each stream's steps so far.

        Returns
        -------
        y : ndarray of shape (n_streams,) or (n_streams, n_outputs)
        """
        return self._model._predictions(self._outputs())


class ClassifierStream(Stream):
    __doc__ = Stream.__doc__

    @property
    def classes_(self):
        return self._model.classes_

    def predict_proba(self):
        """What the estimator's ``predict_proba`` gives on each stream's steps so far.

        Returns
        -------
        proba : ndarray of shape (n_streams, n_classes)
        """
        return self._model._proba(self._outputs())

    def predict_log_proba(self):
        """What the estimator's ``predict_log_proba`` gives on each stream's steps so far.

        Returns
        -------
        log_proba : ndarray of shape (n_streams, n_classes)
        """
        return self._model._log_proba(self._outputs())


class StepStream(Stream):
    """A step estimator's stream: ``update`` returns the outputs of each stream's new step
    (see the module docstring); ``predict`` gives them again."""

    def update(self, x):
        """``Stream.update``, then the outputs of each stream's new step: what ``predict``
        gives, an ndarray of shape (n_streams,) or (n_streams, n_outputs)."""
        super().update(x)
        return self.predict()


class StepClassifierStream(StepStream, ClassifierStream):
    __doc__ = StepStream.__doc__


def stream_class(est):
    """The stream of a fitted estimator: of a classifier or a regressor, of whole sequences
    or of every step."""
    per_step = est.network_.readout == "steps"
    if is_classifier(est):
        return StepClassifierStream if per_step else ClassifierStream
    return StepStream if per_step else Stream
