"""Tune a scaler + LSTM pipeline with GridSearchCV, on variable-length sequences.

Run: python examples/grid_search_pipeline.py
"""

from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from sklstm import LSTMClassifier
from sklstm.datasets import load_japanese_vowels
from sklstm.preprocessing import SequenceScaler

X_train, y_train = load_japanese_vowels(subset="train", return_X_y=True)
X_test, y_test = load_japanese_vowels(subset="test", return_X_y=True)

pipeline = Pipeline([("scale", SequenceScaler()), ("lstm", LSTMClassifier(random_state=0))])
grid = {
    "lstm__hidden_layer_sizes": [(32,), (64,)],
    "lstm__bidirectional": [False, True],
}
# n_jobs=2: two processes; each sklstm fit then runs on cores / 2 threads.
search = GridSearchCV(pipeline, grid, cv=3, n_jobs=2).fit(X_train, y_train)
print(f"best: {search.best_params_}, cross-validated accuracy {search.best_score_:.3f}")
print(f"test accuracy: {search.score(X_test, y_test):.3f}")
