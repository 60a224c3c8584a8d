"""Write tests/fixtures/readout_parity.npz: readouts written in PyTorch over padded states
with a length mask, their outputs and gradients, so that the parity tests run without torch.

    python tests/make_readout_fixtures.py      (needs torch)
"""

import json
from pathlib import Path

import numpy as np

# (lengths, H, n_directions): variable and equal lengths, one sequence, both directions.
SHAPES = {
    "ragged-1dir": ([5, 2, 7, 1, 4], 3, 1),
    "ragged-2dir": ([3, 6, 1, 6, 2], 2, 2),
    "equal-2dir": ([4, 4, 4], 3, 2),
    "single": ([6], 2, 1),
}
KINDS = ["last", "mean", "max", "attention"]

FIXTURE = Path(__file__).parent / "fixtures" / "readout_parity.npz"


def random_case(rng, lengths, H, n_directions, kind, dtype=np.float64):
    """Each sequence's states in time order (L_i, width), both directions side by side;
    the readout's parameters; and G, the weights of the loss sum(readout * G)."""
    width = n_directions * H
    seqs = [rng.normal(size=(T, width)).astype(dtype) for T in lengths]
    params = [rng.normal(size=width).astype(dtype)] if kind == "attention" else []
    G = rng.normal(size=(len(lengths), width)).astype(dtype)
    return seqs, params, G


def torch_readout(seqs, n_directions, kind, params, G):
    """The readout (B, width), in the order of ``seqs``, the gradients of sum(readout * G)
    with respect to each sequence's states and to the parameters, as PyTorch computes them.
    """
    import torch
    from torch.nn.utils.rnn import pad_sequence

    lengths = torch.tensor([len(s) for s in seqs])
    h = pad_sequence([torch.from_numpy(s) for s in seqs], batch_first=True).requires_grad_()
    B, T, width = h.shape
    H = width // n_directions
    valid = torch.arange(T)[None, :] < lengths[:, None]  # (B, T)
    weights = [torch.from_numpy(p).requires_grad_() for p in params]
    if kind == "last":  # the forward pass ends at the last step, the reverse at the first
        rows = torch.arange(B)
        ends = [h[rows, lengths - 1, :H], h[rows, 0, H:]]
        out = torch.cat(ends[:n_directions], dim=1)
    elif kind == "mean":
        out = (h * valid[..., None]).sum(dim=1) / lengths[:, None]
    elif kind == "max":
        out = h.masked_fill(~valid[..., None], -torch.inf).max(dim=1).values
    else:
        e = (h @ weights[0]).masked_fill(~valid, -torch.inf)
        out = (torch.softmax(e, dim=1)[..., None] * h).sum(dim=1)
    (out * torch.from_numpy(G)).sum().backward()
    dstates = [h.grad[i, :L].numpy() for i, L in enumerate(lengths)]
    return out.detach().numpy(), dstates, [w.grad.numpy() for w in weights]


def main():
    rng = np.random.default_rng(2026)
    arrays, cases = {}, []
    for kind in KINDS:
        for shape, (lengths, H, n_directions) in SHAPES.items():
            name = f"{kind}-{shape}"
            seqs, params, G = random_case(rng, lengths, H, n_directions, kind)
            out, dstates, dparams = torch_readout(seqs, n_directions, kind, params, G)
            cases.append({"name": name, "kind": kind, "n_directions": n_directions})
            width = n_directions * H
            arrays |= {
                f"{name}/lengths": np.array(lengths),
                f"{name}/states": np.concatenate(seqs),
                f"{name}/params": np.reshape(params, (len(params), width)),
                f"{name}/G": G,
                f"{name}/out": out,
                f"{name}/dstates": np.concatenate(dstates),
                f"{name}/dparams": np.reshape(dparams, (len(params), width)),
            }
    FIXTURE.parent.mkdir(exist_ok=True)
    np.savez_compressed(FIXTURE, cases=json.dumps(cases), **arrays)
    print(f"wrote {len(cases)} cases to {FIXTURE}")


if __name__ == "__main__":
    main()
