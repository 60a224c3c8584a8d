"""The input contract and batch packing."""

import numpy as np
import pytest

from sklstm._sequences import check_sequences, pack_batch


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
    np.testing.assert_array_equal(batch.last_rows, [5, 4, 2])
    assert np.shares_memory(batch.X, buffer)


def test_a_single_sequence_is_its_own_batch():
    X = [np.arange(4.0).reshape(2, 2), np.arange(6.0).reshape(3, 2)]
    seqs = check_sequences(X, dtype=np.float64)
    batch = pack_batch(seqs, np.array([1]))
    np.testing.assert_array_equal(batch.X, X[1])
    np.testing.assert_array_equal(batch.offsets, [0, 1, 2, 3])
    np.testing.assert_array_equal(batch.order, [1])
    np.testing.assert_array_equal(batch.last_rows, [2])
    assert np.shares_memory(batch.X, seqs.data)  # nothing copied
