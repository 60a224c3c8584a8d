import numpy as np
import pytest

from sklstm.datasets import load_japanese_vowels


def test_japanese_vowels_splits():
    train = load_japanese_vowels()
    test = load_japanese_vowels(subset="test")
    both = load_japanese_vowels(subset="all")
    assert (len(train.data), len(test.data), len(both.data)) == (270, 370, 640)
    lengths = [len(x) for x in both.data]
    assert min(lengths) == 7 and max(lengths) == 29
    assert all(x.shape[1] == 12 and x.dtype == np.float64 for x in both.data)
    np.testing.assert_array_equal(np.bincount(train.target), [0] + [30] * 9)
    np.testing.assert_array_equal(both.target, np.concatenate([train.target, test.target]))
    assert len(train.feature_names) == 12
    assert "Kudo" in train.DESCR
    # The first value of the archive's first case, to its 6 decimals.
    assert round(train.data[0][0, 0], 6) == 1.860936


def test_return_x_y_and_bad_subset():
    X, y = load_japanese_vowels(subset="test", return_X_y=True)
    assert len(X) == len(y) == 370
    with pytest.raises(ValueError, match="subset must be"):
        load_japanese_vowels(subset="validation")


def test_airline():
    from sklstm.datasets import load_airline

    airline = load_airline()
    assert airline.data.shape == airline.months.shape == (144,)
    assert (airline.months[0], airline.months[-1]) == ("1949-01", "1960-12")
    assert airline.data[[0, -1]].tolist() == [112.0, 432.0]
    assert "Box" in airline.DESCR
    X, y = load_airline(return_X_y=True)  # twelve months, then the next one
    assert X.shape == (132, 12) and y.shape == (132,)
    np.testing.assert_array_equal(X[0], airline.data[:12])
    assert y[-1] == airline.data[-1]
    assert load_airline(return_X_y=True, window=24)[0].shape == (120, 24)
