"""Data sets shipped with sklstm."""

from importlib import resources

import numpy as np
from sklearn.utils import Bunch

from ..preprocessing import make_windows

__all__ = ["load_airline", "load_japanese_vowels"]


def load_japanese_vowels(*, subset="train", return_X_y=False):
    """Load the Japanese Vowels speaker-recognition data set (variable-length sequences).

    640 utterances of the vowels /ae/ by nine male speakers, each a sequence of 7 to 29
    frames of 12 LPC cepstrum coefficients; the task is to recognise the speaker. The
    split into train and test is the archive's.

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        Which part of the archive's split to load; "all" is train followed by test.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data``: list of float64 arrays of shape (n_timesteps_i, 12); ``target``: int
        array of speaker labels 1 to 9; ``feature_names``; ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from sklstm.datasets import load_japanese_vowels
    >>> X, y = load_japanese_vowels(return_X_y=True)
    >>> len(X), X[0].shape, sorted(set(y.tolist()))
    (270, (20, 12), [1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    parts = {"train": ["train"], "test": ["test"], "all": ["train", "test"]}
    if subset not in parts:
        raise ValueError(f"subset must be 'train', 'test' or 'all'; got {subset!r}.")
    files = resources.files(__name__) / "data"
    with (files / "japanese_vowels.npz").open("rb") as f, np.load(f) as archive:
        data, target = [], []
        for part in parts[subset]:
            values = archive[f"{part}_data"].astype(np.float64)
            lengths = archive[f"{part}_lengths"]
            data += np.split(values, np.cumsum(lengths)[:-1])
            target.append(archive[f"{part}_target"].astype(np.int64))
    target = np.concatenate(target)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        feature_names=[f"lpc_{i}" for i in range(1, 13)],
        DESCR=(files / "japanese_vowels.rst").read_text(encoding="utf-8"),
    )


def load_airline(*, return_X_y=False, window=12):
    """Load the Airline passengers series (Box and Jenkins), for forecasting.

    144 monthly totals of international airline passengers, in thousands, from January 1949
    to December 1960. A single series has no (X, y) of its own: ``return_X_y`` cuts it
    into forecasting samples with :func:`sklstm.preprocessing.make_windows`.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(X, y)``: every ``window`` consecutive months as a univariate sequence,
        oldest first, and the month after it as the target.
    window : int, default=12
        Months per sequence when ``return_X_y`` is True.

    Returns
    -------
    data : Bunch
        ``data``: float64 array of shape (144,), the passengers; ``months``: array of
        "YYYY-MM" strings; ``DESCR``.
    (X, y) : tuple if ``return_X_y`` is True
        ``X`` of shape (144 - window, window), ``y`` of shape (144 - window,).

    Examples
    --------
    >>> from sklstm.datasets import load_airline
    >>> airline = load_airline()
    >>> airline.data.shape, str(airline.months[0]), float(airline.data[0])
    ((144,), '1949-01', 112.0)
    >>> X, y = load_airline(return_X_y=True)
    >>> X.shape, float(y[0])
    ((132, 12), 115.0)
    """
    files = resources.files(__name__) / "data"
    rows = (files / "airline.csv").read_text(encoding="utf-8").split()[1:]
    months, passengers = zip(*(row.split(",") for row in rows), strict=True)
    passengers = np.array(passengers, dtype=np.float64)
    if return_X_y:
        return make_windows(passengers, window)
    return Bunch(
        data=passengers,
        months=np.array(months),
        DESCR=(files / "airline.rst").read_text(encoding="utf-8"),
    )
