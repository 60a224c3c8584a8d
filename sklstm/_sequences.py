"""The input contract: sequences in, one sample-major buffer plus lengths out; batch packing.

Accepted inputs:
- a 3-D array ``(n_samples, n_timesteps, n_features)``;
- a 2-D array ``(n_samples, n_timesteps)``: univariate sequences;
- a list of 2-D arrays ``(n_timesteps_i, n_features)`` (or 1-D arrays, univariate) of any
  lengths.

A sequence ends at its last step that is not padding: trailing steps that are NaN on every
feature (tslearn's and aeon's way of holding unequal lengths in one array) or, when a
``padding_value`` is given, equal to it on every feature. NaN or infinity anywhere else is
refused, naming the sequence and the step.

Per-step targets and outputs (the step estimators') are laid out as ``Sequences.data``
is, sequence after sequence; ``packed_rows`` maps a packed batch's rows onto them.
"""

import warnings
from typing import NamedTuple

import numpy as np
from scipy.sparse import issparse
from sklearn.utils import check_array

from ._kernels._packing import pack


class Sequences(NamedTuple):
    """Every sequence's steps, one sequence after another."""

    data: np.ndarray  # (total_steps, n_features), C-contiguous, padding left out
    starts: np.ndarray  # (n_samples,) first row of each sequence in data
    lengths: np.ndarray  # (n_samples,)
    equal_lengths: bool  # all lengths the same (arrays without padding), known cheaply
    # Steps per sequence of the array X was (padding included), or None for a list of
    # sequences of different shapes: transformers answer in X's format.
    array_steps: int | None
    # (shift, scale) per feature in data's dtype, applied as batches are packed (so that
    # memory stays a batch's), or None: the network reads (data - shift) / scale.
    units: tuple = None

    def standardised(self, units):
        """These sequences, read through the standardisation ``units`` (float64 (shift,
        scale), or None for none)."""
        if units is None:
            return self
        dtype = self.data.dtype
        units = (units[0].astype(dtype), units[1].astype(dtype))
        # Built directly: _replace costs a microsecond, a fifth of a check_sequences.
        return Sequences(
            self.data, self.starts, self.lengths, self.equal_lengths, self.array_steps, units
        )

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
    lengths: np.ndarray  # (B,) their lengths


def check_sequences(X, *, dtype, n_features=None, padding_value=None):
    """Validate X against the input contract and return it as ``Sequences`` of ``dtype``,
    each sequence without its trailing padding.

    ``n_features``, when given, is the number of features per step the estimator was fitted
    with; ``padding_value``, when given, pads sequences as NaN does.
    """
    if isinstance(X, (list, tuple)):
        arrays = [_sequence(x, i) for i, x in enumerate(X)]
        if not arrays:
            raise ValueError("X is empty: expected at least one sequence.")
        if len({a.shape for a in arrays}) > 1:
            seqs = _ragged(arrays, dtype)
        else:
            seqs = _from_array(_array(np.stack(arrays), dtype))
    else:
        seqs = _from_array(_array(X, dtype))
    if n_features is not None and seqs.n_features != n_features:
        hint = ""
        shape = () if isinstance(X, (list, tuple)) else np.asarray(X).shape
        if len(shape) == 2 and shape[1] == n_features:
            hint = (
                " A 2-D X holds univariate sequences, one per row: for one sequence of shape "
                "(n_timesteps, n_features), pass X[None] or [X]."
            )
        raise ValueError(
            f"X has {seqs.n_features} features per time step, but the estimator was fitted "
            f"with {n_features}.{hint}"
        )
    return without_padding(seqs, padding_value)


def warn_if_channels_first(seqs):
    """Warn when X, an array, looks channels first (see ``_channels_first``)."""
    advice = _channels_first(seqs)
    if advice:
        warnings.warn(advice)


def _channels_first(seqs):
    """Advice when X is an array of far more features than steps, as sequences held
    channels first (aeon's and sktime's layout) are when read time first; else ""."""
    if seqs.array_steps is None or seqs.n_features <= 2 * seqs.array_steps:
        return ""
    return (
        f"X has {seqs.n_features} features per time step and {seqs.array_steps} steps. If "
        f"it holds sequences channels first, (n_samples, n_channels, n_timesteps) as aeon "
        f"and sktime do, convert it: X.transpose(0, 2, 1), or "
        f"sklstm.preprocessing.FromChannelsFirst() first in a Pipeline."
    )


def names_of(X):
    """What names X's features, for scikit-learn's checks of feature names: X itself, or
    the first sequence of a list, all of whose sequences must have the same columns (a list
    of DataFrames names the features in each)."""
    if not isinstance(X, (list, tuple)) or not X:
        return X
    first = _columns(X[0])
    for i, x in enumerate(X[1:], start=1):
        columns = _columns(x)
        if columns != first:
            raise ValueError(
                f"Sequence {i} of X has the columns {columns}, but sequence 0 has {first}: "
                f"all sequences need the same columns, in the same order."
            )
    return X[0]


def _columns(x):
    """A sequence's column names as a list, or None for a sequence without them."""
    columns = getattr(x, "columns", None)
    return None if columns is None else list(columns)


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


def _array(X, dtype):
    """X, which is no list, as a C-contiguous array of ``dtype``; its values may be
    non-finite (padding, or refused with it)."""
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
        return np.ascontiguousarray(X, dtype=dtype)
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
    return check_array(
        X, dtype=dtype, order="C", allow_nd=True, ensure_all_finite=False, input_name="X"
    )


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
    lengths = np.empty(n, np.intp)
    lengths.fill(T)  # np.full's Python wrapper costs twice as much
    return Sequences(X.reshape(n * T, D), starts, lengths, True, T)


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
            a = check_array(
                a.reshape(len(a), -1),
                dtype=dtype,
                ensure_all_finite=False,
                input_name=f"Sequence {i} of X",
            )
        a = a.reshape(len(a), -1)
        if steps and a.shape[1] != steps[0].shape[1]:
            rows = {x.shape[0] for x in arrays if x.ndim == 2}
            hint = (
                f" Every sequence has {arrays[0].shape[0]} rows: if they are "
                f"(n_channels, n_timesteps), as aeon holds them, convert them: "
                f"[x.T for x in X], or sklstm.preprocessing.FromChannelsFirst() first in a "
                f"Pipeline."
                if len(rows) == 1 and all(x.ndim == 2 for x in arrays)
                else ""
            )
            raise ValueError(
                f"Sequence {i} of X has {a.shape[1]} features per time step, but sequence 0 "
                f"has {steps[0].shape[1]}: all sequences need the same number of features." + hint
            )
        steps.append(a)
    # One conversion for all sequences, and one finiteness check (without_padding):
    # per-sequence checks cost more than the training epoch on thousands of short sequences.
    lengths = np.array([len(a) for a in steps], dtype=np.intp)
    data = np.empty((lengths.sum(), steps[0].shape[1]), dtype=dtype)  # C order, whatever
    np.concatenate(steps, out=data)  # the sequences' own layouts
    return Sequences(data, step_starts(lengths), lengths, False, None)


def without_padding(seqs, padding_value=None, name="Sequence {} of X"):
    """``seqs`` without each sequence's trailing padding: steps that are NaN on every
    feature, or equal to ``padding_value`` on every feature when it is given.

    NaN or infinity anywhere else is refused, as is a sequence of padding only; errors
    name the sequence ``name.format(i)`` and the step.
    """
    data, starts, lengths = seqs.data, seqs.starts, seqs.lengths
    if padding_value is not None:
        padding_value = np.asarray(padding_value, dtype=data.dtype)  # compared as stored
    # The common case costs one pass over the data: nothing to drop, nothing to refuse
    # (logical_and.reduce: ndarray.all's Python wrapper costs as much as the pass on one
    # sequence).
    if np.logical_and.reduce(np.isfinite(data), axis=None) and (
        padding_value is None or not (data[starts + lengths - 1] == padding_value).all(axis=1).any()
    ):
        return seqs
    padding = np.isnan(data).all(axis=1)
    if padding_value is not None:
        padding |= (data == padding_value).all(axis=1)
    rows = np.arange(len(data))
    # Each sequence's last step that is not padding (before its first step: none is).
    new_lengths = np.maximum.reduceat(np.where(padding, -1, rows), starts) - starts + 1
    if (new_lengths < 1).any():
        what = "NaN" if padding_value is None else f"NaN or padding_value={padding_value}"
        raise ValueError(
            f"{name.format(int(np.argmax(new_lengths < 1)))} is padding only ({what} at "
            f"every step): it has no steps."
        )
    kept = rows < np.repeat(starts + new_lengths, lengths)
    bad = kept & ~np.isfinite(data).all(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        i = int(np.searchsorted(starts, row, side="right")) - 1
        problem = _non_finite(data[row])
        raise ValueError(
            f"{name.format(i)} contains {problem} at step {row - starts[i]}"
            + (
                ": NaN is read as padding only in whole steps (NaN on every feature) after "
                "a sequence's last step. Fill or drop missing values first."
                if problem == "NaN"
                else "."
            )
            + (" " + _channels_first(seqs)).rstrip()
        )
    if (new_lengths == lengths).all():
        return seqs
    return seqs._replace(
        data=data[kept],
        starts=step_starts(new_lengths),
        lengths=new_lengths,
        equal_lengths=bool((new_lengths == new_lengths[0]).all()),
    )


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
            X = np.subtract(X, seqs.units[0])
            X /= seqs.units[1]
        return Batch(X, offsets, idx, offsets[T:])
    if seqs.equal_lengths:
        T = int(seqs.lengths[0])
        order, lengths = idx, seqs.lengths[idx]
        offsets = np.arange(0, (T + 1) * B, B, dtype=np.intp)
    else:
        lengths = seqs.lengths[idx]
        longest_first = np.argsort(-lengths, kind="stable")
        order = idx[longest_first]
        lengths = lengths[longest_first]
        # Sequences still running at step t: those longer than t.
        batch_sizes = B - np.cumsum(np.bincount(lengths, minlength=lengths[0] + 1))[:-1]
        offsets = np.zeros(lengths[0] + 1, dtype=np.intp)
        np.cumsum(batch_sizes, out=offsets[1:])
    if buffer is None:
        buffer = np.empty((offsets[-1], seqs.n_features), dtype=seqs.data.dtype)
    X = buffer[: offsets[-1]]
    pack(seqs.data, seqs.starts, order, offsets, X)
    if seqs.units is not None:
        X -= seqs.units[0]
        X /= seqs.units[1]
    return Batch(X, offsets, order, lengths)


def step_starts(lengths):
    """The first row of each sequence's steps, the sequences one after another."""
    starts = np.zeros(len(lengths), dtype=np.intp)
    np.cumsum(lengths[:-1], out=starts[1:])
    return starts


def packed_rows(starts, batch):
    """For each row of a packed batch, the row of its step among steps laid out sequence
    after sequence from ``starts``: step t of the batch's i-th sequence, row
    ``offsets[t] + i``, is row ``starts[order[i]] + t``. Per-step targets and outputs
    meet the packed rows through it."""
    offsets = batch.offsets
    sizes = np.diff(offsets)
    steps = np.repeat(np.arange(len(sizes)), sizes)
    return starts[batch.order][np.arange(offsets[-1]) - offsets[steps]] + steps


def sequence_rows(starts, lengths):
    """The rows of sequences of ``lengths`` starting at ``starts``, one after another."""
    return np.repeat(starts - step_starts(lengths), lengths) + np.arange(lengths.sum())
