"""Tag every step of a sequence with the class of the segment it belongs to (sequence
labelling), with LSTMStepClassifier, and plot one tagged sequence.

Each sequence is several days of ItalyPowerDemand (24 hourly values of a day's power
demand, each day z-normalised; class 1: October to March, class 2: April to September)
put end to end, in random order, each step labelled with its day's class. Training
sequences are made of the archive's training days, test sequences of its test days. A
unidirectional model is causal: at each step it has seen only the day so far, so the first
hours of a day are guesses; a bidirectional one reads the whole day around each step.
Run: python examples/tag_segments.py [FILE.png]
"""

import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklstm import LSTMStepClassifier
from sklstm.datasets._ts import read_ts

DATA = Path(__file__).parent.parent / "benchmarks" / "data"
DAYS = 5  # segments per sequence


def tagged_sequences(days, classes, n, rng):
    """n sequences of DAYS random days each, with every step's class."""
    picks = [rng.choice(len(days), size=DAYS) for _ in range(n)]
    X = [np.concatenate([days[i] for i in pick]) for pick in picks]
    y = [np.concatenate([np.full(len(days[i]), classes[i]) for i in pick]) for pick in picks]
    return X, y


rng = np.random.default_rng(0)
X_train, y_train = tagged_sequences(*read_ts(DATA / "ItalyPowerDemand_TRAIN.ts"), 400, rng)
X_test, y_test = tagged_sequences(*read_ts(DATA / "ItalyPowerDemand_TEST.ts"), 400, rng)

models = {}
for name, bidirectional in [("unidirectional", False), ("bidirectional", True)]:
    model = LSTMStepClassifier(
        hidden_layer_sizes=(16,), max_iter=40, bidirectional=bidirectional, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    models[name] = model
    # score: the accuracy over all steps of all test sequences
    print(f"per-step accuracy, {name}: {model.score(X_test, y_test):.3f}")

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit(0)  # the plot needs matplotlib: pip install matplotlib
path = sys.argv[1] if len(sys.argv) > 1 else "tagged_sequence.png"
x, truth = X_test[0][:, 0], y_test[0]
steps = np.arange(len(x))
fig, axes = plt.subplots(3, 1, figsize=(9, 5), sharex=True, height_ratios=[3, 1, 1])
axes[0].plot(steps, x, color="black", lw=1)
axes[0].set_title("ItalyPowerDemand days end to end; each hour's class, true and predicted")
panels = [("truth", truth)] + [(n, m.predict([X_test[0]])[0]) for n, m in models.items()]
for ax, (label, tags) in zip(axes, panels, strict=True):
    # Each step shaded by its class: blue October-March, red April-September.
    edges = np.append(steps, len(x)) - 0.5
    ax.pcolormesh(edges, ax.get_ylim(), (tags == 2)[None, :], cmap="coolwarm", alpha=0.3)
    ax.set_ylabel(label, rotation=0, ha="right", va="center")
for ax in axes[1:]:
    ax.set_yticks([])
axes[2].set_xlabel("hour (blue: October to March; red: April to September)")
fig.tight_layout()
fig.savefig(path)
print(f"plot: {path}")
