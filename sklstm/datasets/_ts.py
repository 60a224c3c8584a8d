"""Reader of sktime's ``.ts`` format, in which the UCR/UEA archives are distributed.

After the header (lines starting with ``#`` or ``@``) and ``@data``, one case per line:
channels separated by ``:``, values by ``,``, the class label last.
"""

import numpy as np


def read_ts(path):
    """Return (list of (n_timesteps_i, n_channels) float64 arrays, array of labels)."""
    sequences, labels = [], []
    in_data = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                in_data = line.lower() == "@data"
                continue
            *channels, label = line.split(":")
            sequences.append(np.array([[float(v) for v in c.split(",")] for c in channels]).T)
            labels.append(label)
    labels = np.array(labels)
    if all(label.lstrip("-").isdigit() for label in labels):
        labels = labels.astype(int)
    return sequences, labels
