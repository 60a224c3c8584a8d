"""Would a convolutional front-end close the long-series gap? The question of issue 15's
optional item, asked in PyTorch before anything is built into sklstm.

OSULeaf (427 steps, univariate, 6 classes; benchmarks/data/): sklstm's best out-of-the-box
network, an LSTM of 64 units read by "max" over time, reaches 0.725 (benchmarks/README,
"Cells and readouts"), MiniRocket 0.955. Four networks trained identically in PyTorch
(Adam, the same learning rate, batch size and epochs, the data standardised by
SequenceScaler, the test accuracy of the last epoch, mean over seeds):

- ``lstm-max``: the LSTM and readout above, the reference (does torch's training land where
  sklstm's does?);
- ``conv-lstm-max``: LSTM-FCN's three convolution blocks (128, 256 and 128 filters of 8, 5
  and 3 steps, batch normalisation, ReLU; Karim et al. 2017) in front of the same LSTM: the
  front-end that issue 15 asks about;
- ``fcn``: the same blocks, then global average pooling and the dense head, no LSTM (Wang
  et al. 2017's FCN): what the convolutions do alone;
- ``lstm-fcn``: LSTM-FCN itself, the LSTM (8 units, on the "dimension-shuffled" input: one
  step of 427 features) beside the convolutions, their outputs joined.

Run from the repository root, with torch installed (the conv networks take minutes per
seed on 2 cores)::

    python benchmarks/bench_conv_frontend.py [--seeds 2] [--epochs 300] [--markdown FILE]
"""

import argparse
import shlex
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from bench_accuracy import classification_data
from torch import nn

NAME = "OSULeaf"


def conv_blocks():
    """LSTM-FCN's convolutions, each block's output as long as its input ("same")."""
    layers, channels = [], 1
    for filters, width in ((128, 8), (256, 5), (128, 3)):
        layers += [
            nn.Conv1d(channels, filters, width, padding="same"),
            nn.BatchNorm1d(filters),
            nn.ReLU(),
        ]
        channels = filters
    return nn.Sequential(*layers)


class Network(nn.Module):
    def __init__(self, kind, n_classes, hidden=64):
        super().__init__()
        self.kind = kind
        self.conv = conv_blocks() if kind != "lstm-max" else None
        n_in = {"lstm-max": 1, "conv-lstm-max": 128, "lstm-fcn": 427}.get(kind)
        lstm_units = 8 if kind == "lstm-fcn" else hidden
        self.lstm = None if kind == "fcn" else nn.LSTM(n_in, lstm_units, batch_first=True)
        width = {"fcn": 128, "lstm-fcn": 128 + lstm_units}.get(kind, hidden)
        self.head = nn.Linear(width, n_classes)

    def forward(self, x):  # x: (N, T, 1)
        if self.kind == "lstm-max":
            return self.head(self.lstm(x)[0].amax(dim=1))
        features = self.conv(x.transpose(1, 2))  # (N, 128, T)
        if self.kind == "conv-lstm-max":
            return self.head(self.lstm(features.transpose(1, 2))[0].amax(dim=1))
        pooled = features.mean(dim=2)
        if self.kind == "fcn":
            return self.head(pooled)
        last = self.lstm(x.transpose(1, 2))[0][:, -1]  # one step of T features
        return self.head(torch.cat([pooled, last], dim=1))


def run(kind, X, y, X_test, y_test, seed, epochs, lr=1e-3, batch_size=16):
    torch.manual_seed(seed)
    model = Network(kind, int(y.max()) + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(X)).split(batch_size):
            loss = loss_fn(model(X[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        accuracy = (model(X_test).argmax(dim=1) == y_test).float().mean().item()
    return accuracy, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--markdown", metavar="FILE", help="also write the output to FILE")
    options = parser.parse_args(argv)
    X_train, y_train, X_test, y_test = classification_data(NAME)
    classes = np.unique(y_train)

    def tensors(X, y):
        return torch.from_numpy(np.stack(X)), torch.from_numpy(np.searchsorted(classes, y))

    data = (*tensors(X_train, y_train), *tensors(X_test, y_test))
    lines = ["| network | test accuracy (per seed) | mean | fit s (median) |", "|---|---|---|---|"]
    for kind in ("lstm-max", "conv-lstm-max", "fcn", "lstm-fcn"):
        print(f"{kind} ...", file=sys.stderr, flush=True)
        runs = [run(kind, *data, seed, options.epochs) for seed in range(options.seeds)]
        accuracies = [a for a, _ in runs]
        lines.append(
            f"| {kind} | {', '.join(f'{a:.3f}' for a in accuracies)} | "
            f"{statistics.mean(accuracies):.3f} | "
            f"{statistics.median(s for _, s in runs):.0f} |"
        )
    header = [
        f"date: {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"{NAME}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"{options.epochs} epochs, Adam 1e-3, batches of 16; seeds: {options.seeds}",
        f"command: {shlex.join(['python', *sys.argv])}",
    ]
    text = "\n".join(f"- {line}" for line in header) + "\n\n" + "\n".join(lines) + "\n"
    print(text)
    if options.markdown:
        Path(options.markdown).write_text(text)


if __name__ == "__main__":
    main()
