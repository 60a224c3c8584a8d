"""sklstm's network as one PyTorch module; imported by ``sklstm.interop`` only, when asked.

A module of its own (rather than classes made inside ``to_torch``) so that the modules
``to_torch`` returns can be saved with ``torch.save`` and loaded where sklstm and torch are
installed.
"""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class Readout(nn.Module):
    """One vector per sequence from the recurrent stack's states, as sklstm's readouts.

    ``kind``: "last" (each direction's final state), "mean" or "max" (over each
    sequence's own steps), "attention" (``softmax(states @ weight)`` over its steps,
    weighting the states), or "steps": every step's states (N, T, width), for the head
    to read each step (a step estimator's; padded steps hold zeros).
    ``forward(states, last, mask)``: states (N, T, width), last (N, width), mask (N, T)
    of valid steps or None when every step is.
    """

    def __init__(self, kind, width, dtype):
        super().__init__()
        self.kind = kind
        if kind == "attention":
            self.weight = nn.Parameter(torch.zeros(width, dtype=dtype))

    def extra_repr(self):
        return repr(self.kind)

    def forward(self, states, last, mask=None):
        if self.kind == "last":
            return last
        if self.kind == "steps":
            return states
        if self.kind == "mean":
            if mask is None:
                return states.mean(dim=1)
            kept = states * mask.unsqueeze(2)
            return kept.sum(dim=1) / mask.sum(dim=1, keepdim=True)
        if self.kind == "max":
            if mask is not None:
                states = states.masked_fill(~mask.unsqueeze(2), -torch.inf)
            return states.amax(dim=1)
        scores = states @ self.weight  # attention; padded steps hold zeros
        if mask is not None:
            scores = scores.masked_fill(~mask, -torch.inf)
        return (torch.softmax(scores, dim=1).unsqueeze(2) * states).sum(dim=1)


class RecurrentNetwork(nn.Module):
    """Recurrent layers, a readout and a dense head: ``forward(X, lengths=None)`` takes a
    batch-first float tensor (N, T, D) and optional lengths (N,) of each sequence's steps
    in the padded X, and returns the outputs before the output activation (N, n_outputs),
    or with the readout "steps" at every step (N, T, n_outputs).

    ``rnn``: one ``nn.LSTM`` or ``nn.GRU`` holding every layer, or, when the layers differ
    in size (which one module cannot hold), a ``ModuleList`` of one-layer modules applied
    in order. ``readout``: a ``Readout``. ``head``: an ``nn.Linear``.
    """

    def __init__(self, rnn, readout, head):
        super().__init__()
        self.rnn = rnn
        self.readout = readout
        self.head = head

    def _layers(self):
        return list(self.rnn) if isinstance(self.rnn, nn.ModuleList) else [self.rnn]

    def forward(self, X, lengths=None):
        x = X
        if lengths is not None:
            lengths = torch.as_tensor(lengths)
            x = pack_padded_sequence(X, lengths.cpu(), batch_first=True, enforce_sorted=False)
        for layer in self._layers():
            x, h_n = layer(x)
        if isinstance(h_n, tuple):  # an LSTM's (h_n, c_n)
            h_n = h_n[0]
        directions = 2 if self._layers()[-1].bidirectional else 1
        # The top layer's final states, the reverse direction's at each sequence's start.
        last = torch.cat(list(h_n[-directions:]), dim=1)
        mask = None
        if lengths is not None:
            x, _ = pad_packed_sequence(x, batch_first=True, total_length=X.shape[1])
            mask = torch.arange(X.shape[1], device=X.device) < lengths.to(X.device)[:, None]
        return self.head(self.readout(x, last, mask))
