"""The input contract and batch packing."""

import numpy as np
import pytest

from sklstm._sequences import check_sequences, names_of, pack_batch, warn_if_channels_first

from conftest import padded


def test_3d_array_is_used_in_place():
    X = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    seqs = check_sequences(X, dtype=np.float32)
    assert np.shares_memory(seqs.data, X)
    assert seqs.data.shape == (8, 3)
    np.testing.assert_array_equal(seqs.starts, [0, 4])
    np.testing.assert_array_equal(seqs.lengths, [4, 4])


def test_2d_array_is_univariate_sequences():
    seqs = check_sequences(np.arange(6.0).reshape(2, 3), dtype=np.float64)
    assert seqs.n_features == 1
    np.testing.assert_array_equal(seqs.lengths, [3, 3])
    np.testing.assert_array_equal(seqs.data[:, 0], np.arange(6.0))


@pytest.mark.parametrize(
    "X, lengths, n_features",
    [
        ([np.ones((3, 2)), np.ones((1, 2)), np.ones((5, 2))], [3, 1, 5], 2),
        ([np.ones(4), np.ones(2)], [4, 2], 1),  # 1-D sequences are univariate
        ([[1.0, 2.0], [3.0, 4.0]], [2, 2], 1),  # equal-length lists: a 2-D array
        ([np.ones((3, 2)), np.ones((3, 2))], [3, 3], 2),
        ((np.ones((2, 1)), np.ones((1, 1))), [2, 1], 1),
    ],
)
def test_lists_of_sequences(X, lengths, n_features):
    seqs = check_sequences(X, dtype=np.float64)
    np.testing.assert_array_equal(seqs.lengths, lengths)
    assert seqs.n_features == n_features
    assert seqs.data.flags.c_contiguous
    np.testing.assert_array_equal(seqs.starts, np.concatenate([[0], np.cumsum(lengths)[:-1]]))


def test_conversion_to_dtype():
    seqs = check_sequences([np.ones((2, 3), np.int64), np.ones((1, 3))], dtype=np.float32)
    assert seqs.data.dtype == np.float32


@pytest.mark.parametrize(
    "X, message",
    [
        (np.ones(5), "got a 1-D array"),
        (np.ones((2, 3, 4, 5)), "got a 4-D array"),
        ([], "X is empty"),
        (np.ones((2, 0, 3)), "no time steps"),
        ([np.ones((2, 3)), np.ones((0, 3))], "Sequence 1 of X is empty"),
        ([np.ones((2, 3)), np.ones((4, 2))], "Sequence 1 of X has 2 features"),
        ([np.ones((2, 3)), np.ones((2, 3, 1))], "Sequence 1 of X has 3 dimensions"),
        ([np.ones((2, 1)), np.array([[np.nan]])], "NaN"),
        (np.array([[[np.inf]]]), "infinity"),
    ],
)
def test_invalid_input_is_rejected_clearly(X, message):
    with pytest.raises(ValueError, match=message):
        check_sequences(X, dtype=np.float64)


def test_n_features_must_match():
    with pytest.raises(
        ValueError, match="X has 2 features per time step, but the estimator was fitted with 3"
    ):
        check_sequences(np.ones((4, 5, 2)), dtype=np.float64, n_features=3)


def test_pack_batch_is_time_major_longest_first():
    X = [
        np.full((2, 1), 10.0) + np.arange(2)[:, None],
        np.full((3, 1), 20.0) + np.arange(3)[:, None],
        np.full((1, 1), 30.0),
    ]
    seqs = check_sequences(X, dtype=np.float64)
    buffer = np.full((10, 1), -1.0)
    batch = pack_batch(seqs, np.array([0, 1, 2]), buffer)
    np.testing.assert_array_equal(batch.order, [1, 0, 2])
    np.testing.assert_array_equal(batch.offsets, [0, 3, 5, 6])
    # step 0: every sequence's first step; step 1: the two longer ones; step 2: the longest.
    np.testing.assert_array_equal(batch.X[:, 0], [20, 10, 30, 21, 11, 22])
    np.testing.assert_array_equal(batch.lengths, [3, 2, 1])
    assert np.shares_memory(batch.X, buffer)


def test_a_single_sequence_is_its_own_batch():
    X = [np.arange(4.0).reshape(2, 2), np.arange(6.0).reshape(3, 2)]
    seqs = check_sequences(X, dtype=np.float64)
    batch = pack_batch(seqs, np.array([1]))
    np.testing.assert_array_equal(batch.X, X[1])
    np.testing.assert_array_equal(batch.offsets, [0, 1, 2, 3])
    np.testing.assert_array_equal(batch.order, [1])
    np.testing.assert_array_equal(batch.lengths, [3])
    assert np.shares_memory(batch.X, seqs.data)  # nothing copied


def test_a_single_sequence_is_standardised_as_in_a_batch(rng):
    X = [rng.normal(size=(T, 3)) for T in (4, 6, 5)]
    raw = check_sequences(X, dtype=np.float32)
    units = (rng.normal(size=3), rng.uniform(0.5, 2.0, size=3))
    seqs = raw.standardised(units)
    assert all(a is b for a, b in zip(seqs[:5], raw[:5], strict=True))  # only units change
    assert [u.dtype for u in seqs.units] == [np.float32, np.float32]
    alone = pack_batch(seqs, np.array([1]))
    batch = pack_batch(seqs, np.arange(3))  # sequence 1, the longest, first in every step
    np.testing.assert_array_equal(alone.X, batch.X[batch.offsets[:-1]])
    shift, scale = (u.astype(np.float32) for u in units)
    np.testing.assert_array_equal(alone.X, (X[1].astype(np.float32) - shift) / scale)
    np.testing.assert_array_equal(raw.data, np.concatenate(X).astype(np.float32))  # unchanged


# --- padding ---------------------------------------------------------------------------


@pytest.mark.parametrize("univariate", [False, True])
def test_trailing_nan_steps_end_a_sequence(rng, univariate):
    X = [rng.normal(size=(T,) if univariate else (T, 3)) for T in (4, 1, 6, 6)]
    seqs = check_sequences(padded(X, 6), dtype=np.float64)
    ragged = check_sequences(X, dtype=np.float64)
    np.testing.assert_array_equal(seqs.lengths, [4, 1, 6, 6])
    np.testing.assert_array_equal(seqs.starts, ragged.starts)
    np.testing.assert_array_equal(seqs.data, ragged.data)
    assert seqs.data.flags.c_contiguous and not seqs.equal_lengths
    assert seqs.array_steps == 6  # transformers answer with arrays of 6 steps


def test_padding_value_ends_sequences_as_nan_does(rng):
    X = [rng.normal(size=(T, 2)) for T in (3, 5, 2)]
    X[1][-1, 1] = 0.0  # a last step that is 0 on one feature only is data
    zeros = padded(X, 7, 0.0)
    for dtype in (np.float32, np.float64):
        seqs = check_sequences(zeros, dtype=dtype, padding_value=0)
        np.testing.assert_array_equal(seqs.lengths, [3, 5, 2])
        np.testing.assert_array_equal(seqs.data, check_sequences(X, dtype=dtype).data)
        # Without padding_value, zeros are data.
        assert check_sequences(zeros, dtype=dtype).equal_lengths
    # NaN pads whatever padding_value is; a value compared in the data's own dtype.
    mixed = padded(X, 7, 0.1)
    mixed[2, 5:] = np.nan
    seqs = check_sequences(mixed, dtype=np.float32, padding_value=0.1)
    np.testing.assert_array_equal(seqs.lengths, [3, 5, 2])


def test_lists_lose_their_trailing_padding_too(rng):
    X = [rng.normal(size=(T, 2)) for T in (3, 6)]
    padded_list = [np.vstack([X[0], np.full((2, 2), np.nan)]), X[1]]
    seqs = check_sequences(padded_list, dtype=np.float64)
    np.testing.assert_array_equal(seqs.lengths, [3, 6])
    assert seqs.array_steps is None  # a ragged list: transformers answer with a list


def test_input_without_padding_is_used_in_place(rng):
    X = rng.normal(size=(4, 5, 2))
    assert np.shares_memory(check_sequences(X, dtype=np.float64, padding_value=0).data, X)


@pytest.mark.parametrize(
    "X, message",
    [
        (padded([np.ones((2, 2)), np.full((3, 2), np.nan)], 4), "Sequence 1 of X is padding only"),
        (np.array([[1.0, np.nan, 2.0]]), r"Sequence 0 of X contains NaN at step 1: NaN is read"),
        (np.array([[[1.0, 1.0], [np.nan, 1.0]]]), "Sequence 0 of X contains NaN at step 1"),
        (np.array([[1.0, 2.0], [3.0, np.inf]]), "Sequence 1 of X contains infinity .* step 1"),
        ([np.ones(3), np.array([1.0, np.nan, np.nan, 2.0])], "Sequence 1 of X contains NaN at"),
    ],
)
def test_nan_anywhere_but_trailing_whole_steps_is_refused_naming_where(X, message):
    with pytest.raises(ValueError, match=message):
        check_sequences(X, dtype=np.float64)


def test_a_sequence_of_padding_value_only_is_refused():
    with pytest.raises(ValueError, match=r"Sequence 1 of X is padding only \(NaN or padding_value"):
        check_sequences(np.array([[1.0, 0.0], [0.0, 0.0]]), dtype=np.float64, padding_value=0)


# --- layouts and feature names ---------------------------------------------------------


def test_one_sequence_given_as_a_2d_array_gets_a_hint(rng):
    with pytest.raises(ValueError, match=r"pass X\[None\] or \[X\]"):
        check_sequences(rng.normal(size=(7, 3)), dtype=np.float64, n_features=3)


@pytest.mark.parametrize(
    "shape, warns", [((5, 12, 29), True), ((5, 1, 50), True), ((5, 29, 12), False), ((5, 9), False)]
)
def test_a_warning_when_an_array_looks_channels_first(rng, shape, warns):
    seqs = check_sequences(rng.normal(size=shape), dtype=np.float64)
    if warns:
        with pytest.warns(UserWarning, match=r"channels first.*X.transpose\(0, 2, 1\)"):
            warn_if_channels_first(seqs)
    else:
        warn_if_channels_first(seqs)  # warnings are errors in the suite


def test_names_of_a_list_of_dataframes():
    pd = pytest.importorskip("pandas")
    frames = [pd.DataFrame(np.ones((T, 2)), columns=["a", "b"]) for T in (3, 4)]
    assert names_of(frames) is frames[0]
    X = np.ones((2, 3, 2))
    assert names_of(X) is X
    with pytest.raises(ValueError, match=r"Sequence 1 of X has the columns \['b', 'a'\]"):
        names_of([frames[0], frames[1][["b", "a"]]])
    with pytest.raises(ValueError, match="Sequence 1 of X has the columns None"):
        names_of([frames[0], np.ones((3, 2))])
