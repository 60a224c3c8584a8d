"""Export a fitted classifier to ONNX and run it with onnxruntime, without sklstm.

Run: python examples/export_onnx.py [FILE.onnx]   (needs: pip install onnx onnxruntime)
"""

import sys

import numpy as np
import onnxruntime

from sklstm import LSTMClassifier
from sklstm.datasets import load_japanese_vowels
from sklstm.onnx import to_onnx

X_train, y_train = load_japanese_vowels(subset="train", return_X_y=True)
X_test, y_test = load_japanese_vowels(subset="test", return_X_y=True)
clf = LSTMClassifier(random_state=0).fit(X_train, y_train)

# Sequences of different lengths travel zero-padded, with their lengths.
path = sys.argv[1] if len(sys.argv) > 1 else "japanese_vowels.onnx"
with open(path, "wb") as f:
    f.write(to_onnx(clf, variable_lengths=True).SerializeToString())

lengths = np.array([len(x) for x in X_test])
padded = np.zeros((len(X_test), lengths.max(), 12), dtype=np.float32)
for i, x in enumerate(X_test):
    padded[i, : len(x)] = x
session = onnxruntime.InferenceSession(path)
labels, probabilities = session.run(None, {"X": padded, "lengths": lengths})

print(f"saved {path}")
print(f"onnxruntime accuracy: {np.mean(labels == y_test):.3f}")
print(
    f"largest difference from predict_proba: "
    f"{np.abs(probabilities - clf.predict_proba(X_test)).max():.1e}"
)
