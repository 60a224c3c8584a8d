"""The input contract: sequences in, one sample-major buffer plus lengths out; batch packing.

Accepted inputs:
- a 3-D array ``(n_samples, n_timesteps, n_features)``;
- a 2-D array ``(n_samples, n_timesteps)``: univariate sequences;
- a list of 2-D arrays ``(n_timesteps_i, n_features)`` (or 1-D arrays, univariate) of any
  lengths.
"""

from typing import NamedTuple

import numpy as np
from scipy.sparse import issparse
from sklearn.utils import check_array

from ._kernels._packing import pack


class Sequences(NamedTuple):
    """Every sequence's steps, one sequence after another."""

    data: np.ndarray  # (total_steps, n_features), C-contiguous
    starts: np.ndarray  # (n_samples,) first row of each sequence in data
    lengths: np.ndarray  # (n_samples,)
    equal_lengths: bool  # known from the input's type: arrays yes, ragged lists no
    # (shift, scale) per feature in data's dtype, applied as batches are packed (so that
    # memory stays a batch's), or None: the network reads (data - shift) / scale.
    units: tuple = None

    def standardised(self, units):
        """These sequences, read through the standardisation ``units`` (float64 (shift,
        scale), or None for none)."""
        if units is None:
            return self
        return self._replace(units=tuple(u.astype(self.data.dtype) for u in units))

    @property
    def n_samples(self):
        return self.lengths.shape[0]

    @property
    def n_features(self):
        return self.data.shape[1]


class Batch(NamedTuple):
    """A packed, time-major batch (see ``_kernels/_recurrent.pyx.tp`` for the layout)."""

    X: np.ndarray  # (N, n_features) packed steps
    offsets: np.ndarray  # (T + 1,) first row of each step
    order: np.ndarray  # (B,) sample indices, longest sequence first
    last_rows: np.ndarray  # (B,) row of each sequence's last step, in `order`


def check_sequences(X, *, dtype, n_features=None):
    """Validate X against the input contract and return it as ``Sequences`` of ``dtype``.

    ``n_features``, when given, is the number of features per step the estimator was fitted
    with.
    """
    if isinstance(X, (list, tuple)):
        arrays = [_sequence(x, i) for i, x in enumerate(X)]
        if not arrays:
            raise ValueError("X is empty: expected at least one sequence.")
        if len({a.shape for a in arrays}) > 1:
            seqs = _ragged(arrays, dtype)
        else:
            seqs = _regular(np.stack(arrays), dtype)
    else:
        seqs = _regular(X, dtype)
    if n_features is not None and seqs.n_features != n_features:
        raise ValueError(
            f"X has {seqs.n_features} features per time step, but the estimator was fitted "
            f"with {n_features}."
        )
    return seqs


def _sequence(x, i):
    """One sequence of a list, as an array."""
    if issparse(x):
        raise TypeError(
            f"Sequence {i} of X is a sparse {type(x).__name__}; sequences must be dense "
            f"arrays: use .toarray()."
        )
    return np.asarray(x)


def _numbers(a, dtype, name):
    """``a`` as ``dtype``; a clear error when it holds strings or objects, not numbers."""
    if a.dtype.kind in "mM":  # NumPy would read them as counts of their unit
        raise TypeError(
            f"{name} holds {a.dtype} values, dates or durations, not numbers: convert them "
            f"to numbers (e.g. elapsed seconds) first."
        )
    try:
        return a.astype(dtype)
    except (TypeError, ValueError) as exc:
        example = a.flat[0]
        shown = (
            repr(str(example))
            if isinstance(example, (str, bytes))
            else (f"an instance of {type(example).__name__!r}")
        )
        raise type(exc)(
            f"{name} must hold numbers; it holds {a.dtype} values such as {shown} ({exc})."
        ) from exc


def _regular(X, dtype):
    if isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1:
        raise ValueError(
            "X is a 1-D object array, such as NumPy makes of sequences of different "
            "lengths: pass them as a list of arrays, list(X)."
        )
    if isinstance(X, np.ndarray) and X.dtype.kind in "OSUmM":
        X = _numbers(X, dtype, "X")
    if isinstance(X, np.ndarray) and X.dtype.kind in "biuf" and X.ndim in (2, 3) and X.size:
        # The common case, without check_array's generality: that costs tens of
        # microseconds, as much as predicting one sequence.
        X = np.ascontiguousarray(X, dtype=dtype)
        if not np.isfinite(X).all():
            raise ValueError(f"Input X contains {_non_finite(X)}.")
        return _from_array(X)
    if hasattr(X, "ndim") and X.ndim not in (2, 3):
        raise ValueError(
            f"X must be a 3-D array (n_samples, n_timesteps, n_features), a 2-D array of "
            f"univariate sequences or a list of 2-D arrays; got a {X.ndim}-D array."
            + (
                " Reshape your data: X.reshape(1, -1) is one univariate sequence."
                if X.ndim == 1
                else ""
            )
        )
    return _from_array(check_array(X, dtype=dtype, order="C", allow_nd=True, input_name="X"))


def _non_finite(values):
    """What makes ``values`` non-finite, in check_array's words."""
    return "NaN" if np.isnan(values).any() else "infinity or a value too large"


def _from_array(X):
    if X.ndim == 2:
        X = X[:, :, np.newaxis]
    if X.ndim != 3:
        raise ValueError(
            f"X must be a 3-D array (n_samples, n_timesteps, n_features) or a 2-D array of "
            f"univariate sequences; got a {X.ndim}-D array."
        )
    n, T, D = X.shape
    if T == 0 or D == 0:
        raise ValueError(f"X of shape {X.shape} has no time steps or no features.")
    starts = np.arange(0, n * T, T, dtype=np.intp)
    return Sequences(X.reshape(n * T, D), starts, np.full(n, T, np.intp), True)


def _ragged(arrays, dtype):
    steps = []
    for i, a in enumerate(arrays):
        if a.ndim not in (1, 2):
            raise ValueError(
                f"Sequence {i} of X has {a.ndim} dimensions; each sequence must be a 2-D array "
                f"(n_timesteps, n_features) or a 1-D array (univariate)."
            )
        if a.shape[0] == 0:
            raise ValueError(f"Sequence {i} of X is empty: it has no time steps.")
        if a.dtype.kind in "OSUmM":
            a = _numbers(a, dtype, f"Sequence {i} of X")
        elif a.dtype.kind not in "biuf":  # complex, or dates: check_array's messages
            a = check_array(a.reshape(len(a), -1), dtype=dtype, input_name=f"Sequence {i} of X")
        a = a.reshape(len(a), -1)
        if steps and a.shape[1] != steps[0].shape[1]:
            raise ValueError(
                f"Sequence {i} of X has {a.shape[1]} features per time step, but sequence 0 "
                f"has {steps[0].shape[1]}: all sequences need the same number of features."
            )
        steps.append(a)
    # One conversion and one finiteness check for all sequences: per-sequence checks cost
    # more than the training epoch on thousands of short sequences.
    lengths = np.array([len(a) for a in steps], dtype=np.intp)
    data = np.empty((lengths.sum(), steps[0].shape[1]), dtype=dtype)  # C order, whatever
    np.concatenate(steps, out=data)  # the sequences' own layouts
    starts = np.zeros(len(steps), dtype=np.intp)
    np.cumsum(lengths[:-1], out=starts[1:])
    finite = np.isfinite(data).all(axis=1)
    if not finite.all():
        i = int(np.searchsorted(starts, np.argmin(finite), side="right")) - 1
        raise ValueError(f"Input Sequence {i} of X contains {_non_finite(data[~finite])}.")
    return Sequences(data, starts, lengths, False)


def pack_batch(seqs, idx, buffer=None):
    """Pack the sequences ``idx`` of ``seqs`` into the start of ``buffer`` (rows, n_features),
    or into a new array without one.

    A single sequence is its own packed batch: its rows are returned as they are, a view
    (one-sequence prediction is latency-bound), or standardised in a new array.
    """
    B = len(idx)
    if B == 1:
        start, T = int(seqs.starts[idx[0]]), int(seqs.lengths[idx[0]])
        offsets = np.arange(T + 1, dtype=np.intp)
        X = seqs.data[start : start + T]
        if seqs.units is not None:
            X = (X - seqs.units[0]) / seqs.units[1]
        return Batch(X, offsets, idx, offsets[T - 1 : T])
    if seqs.equal_lengths:
        T = int(seqs.lengths[0])
        order = idx
        offsets = np.arange(0, (T + 1) * B, B, dtype=np.intp)
        last_rows = np.arange((T - 1) * B, T * B, dtype=np.intp)
    else:
        lengths = seqs.lengths[idx]
        longest_first = np.argsort(-lengths, kind="stable")
        order = idx[longest_first]
        lengths = lengths[longest_first]
        # Sequences still running at step t: those longer than t.
        batch_sizes = B - np.cumsum(np.bincount(lengths, minlength=lengths[0] + 1))[:-1]
        offsets = np.zeros(lengths[0] + 1, dtype=np.intp)
        np.cumsum(batch_sizes, out=offsets[1:])
        last_rows = offsets[lengths - 1] + np.arange(B)
    if buffer is None:
        buffer = np.empty((offsets[-1], seqs.n_features), dtype=seqs.data.dtype)
    X = buffer[: offsets[-1]]
    pack(seqs.data, seqs.starts, order, offsets, X)
    if seqs.units is not None:
        X -= seqs.units[0]
        X /= seqs.units[1]
    return Batch(X, offsets, order, last_rows)
