"""Classify speakers from variable-length sequences: the Japanese Vowels data set.

270 training and 370 test utterances, 7 to 29 frames of 12 coefficients each, passed as a
list of arrays of different lengths. Run: python examples/classify_japanese_vowels.py
"""

from sklearn.metrics import classification_report
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier
from sklstm.datasets import load_japanese_vowels
from sklstm.preprocessing import SequenceScaler

X_train, y_train = load_japanese_vowels(subset="train", return_X_y=True)
X_test, y_test = load_japanese_vowels(subset="test", return_X_y=True)

model = make_pipeline(
    SequenceScaler(),  # standardise each coefficient over all frames of all utterances
    LSTMClassifier(
        hidden_layer_sizes=(64,), early_stopping=True, n_iter_no_change=15, random_state=0
    ),
)
model.fit(X_train, y_train)
print(classification_report(y_test, model.predict(X_test), digits=3))
