"""Write tests/fixtures/torch_parity.npz: PyTorch's outputs and gradients for small
networks, so that the parity tests run without torch.

    python tests/make_torch_fixtures.py      (needs torch)
"""

import json
from pathlib import Path

import numpy as np

from conftest import make_network, random_sequences
from torch_reference import torch_forward_backward

# (name, lengths, n_features, hidden sizes, n_outputs, loss, bidirectional, cell)
CASES = [
    ("equal-1layer-binary", [6, 6, 6, 6], 3, (5,), 1, "binary", False, "lstm"),
    ("ragged-1layer-multiclass", [9, 4, 7, 1, 7, 3], 2, (6,), 4, "multiclass", False, "lstm"),
    ("ragged-2layer-multilabel", [5, 8, 2, 8, 6], 3, (4, 4), 3, "multilabel", False, "lstm"),
    ("ragged-2layer-mixed-mse", [3, 10, 6, 1, 10, 4, 2], 2, (6, 3), 2, "mse-identity", False)
    + ("lstm",),
    ("ragged-3layer-tanh", [12, 7, 9, 3], 4, (5, 5, 5), 1, "mse-tanh", False, "lstm"),
    ("wide-batch-sigmoid", list(range(1, 41)), 2, (7,), 2, "mse-sigmoid", False, "lstm"),
    ("bidirectional-ragged-1layer", [7, 2, 5, 1, 7], 3, (4,), 3, "multiclass", True, "lstm"),
    ("bidirectional-ragged-2layer", [3, 9, 4, 6, 1], 2, (5, 3), 1, "mse-identity", True, "lstm"),
    # Appended: the cases above keep their random draws.
    ("gru-equal-1layer-binary", [6, 6, 6, 6], 3, (5,), 1, "binary", False, "gru"),
    ("gru-ragged-2layer-multiclass", [9, 4, 7, 1, 7, 3], 2, (6, 3), 4, "multiclass", False)
    + ("gru",),
    ("gru-wide-batch-sigmoid", list(range(1, 41)), 2, (7,), 2, "mse-sigmoid", False, "gru"),
    ("gru-bidirectional-ragged-2layer", [3, 9, 4, 6, 1], 2, (5, 3), 1, "mse-tanh", True, "gru"),
]

# Per-step networks (readout "steps"): the head on every step, a loss over all steps.
STEP_CASES = [
    ("steps-ragged-1layer-multiclass", [7, 3, 5, 1, 6], 2, (5,), 3, "multiclass", False, "lstm"),
    ("steps-equal-2layer-binary", [5, 5, 5], 3, (4, 3), 1, "binary", False, "lstm"),
    ("steps-bidirectional-2layer-mse", [3, 8, 4, 6, 1], 2, (4, 3), 2, "mse-identity", True)
    + ("lstm",),
    ("steps-gru-ragged-multilabel", [6, 2, 9, 4], 3, (5,), 3, "multilabel", False, "gru"),
    ("steps-gru-bidirectional-tanh", [4, 7, 1, 5], 2, (3, 4), 1, "mse-tanh", True, "gru"),
]

FIXTURE = Path(__file__).parent / "fixtures" / "torch_parity.npz"


def targets(rng, loss_name, n, n_outputs):
    if loss_name == "multiclass":
        return np.eye(n_outputs)[rng.integers(n_outputs, size=n)]
    if loss_name in ("binary", "multilabel"):
        return rng.integers(2, size=(n, n_outputs)).astype(float)
    return rng.uniform(-0.9, 0.9, size=(n, n_outputs))


def main():
    rng = np.random.default_rng(2026)
    arrays = {}
    cases = []
    readouts = [("last", case) for case in CASES] + [("steps", case) for case in STEP_CASES]
    for readout, case in readouts:
        name, lengths, n_features, hidden, n_outputs, loss_name, bidirectional, cell = case
        net = make_network(
            rng,
            n_features,
            hidden,
            n_outputs,
            bidirectional=bidirectional,
            cell=cell,
            readout=readout,
        )
        X = random_sequences(rng, lengths, n_features)
        n_targets = sum(lengths) if readout == "steps" else len(lengths)
        Y = targets(rng, loss_name, n_targets, n_outputs)
        out, loss, grad = torch_forward_backward(net, X, Y, loss_name)
        cases.append(
            {
                "name": name,
                "n_features": n_features,
                "hidden": hidden,
                "n_outputs": n_outputs,
                "loss": loss_name,
                "bidirectional": bidirectional,
                "cell": cell,
                "readout": readout,
            }
        )
        arrays |= {
            f"{name}/params": net.params,
            f"{name}/X": np.concatenate(X),
            f"{name}/lengths": np.array(lengths),
            f"{name}/Y": Y,
            f"{name}/out": out,
            f"{name}/loss": np.array(loss),
            f"{name}/grad": grad,
        }
    FIXTURE.parent.mkdir(exist_ok=True)
    np.savez_compressed(FIXTURE, cases=json.dumps(cases), **arrays)
    print(f"wrote {len(cases)} cases to {FIXTURE}")


if __name__ == "__main__":
    main()
