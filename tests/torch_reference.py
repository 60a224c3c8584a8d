"""The same network computed by PyTorch: outputs, loss and gradients in sklstm's layout.

Used by ``make_torch_fixtures.py`` (golden values, so CI needs no torch) and by the live
parity tests when torch is installed. The weight mapping is written out here on its own
rather than taken from ``sklstm.interop``, so that the parity tests check that too.
"""

import numpy as np


def torch_forward_backward(net, X, Y, loss_name):
    """Outputs (n, n_outputs) in X's order, loss and flat gradient, as PyTorch computes them.

    ``net`` is an ``LSTMNetwork`` (of either cell, read at its last states or, with the
    readout "steps", at every step: outputs and Y then have a row per step, sequence after
    sequence, and the loss is the mean over steps); ``X`` a list of (T_i, D) float64 arrays;
    ``loss_name`` one of "binary", "multilabel", "multiclass", "mse-identity", "mse-tanh",
    "mse-sigmoid".
    """
    import torch
    from torch.nn.utils.rnn import pack_sequence, pad_packed_sequence

    views = net.views
    bidirectional = net.n_directions == 2
    suffixes = ("", "_reverse")
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[net.cell]
    layers = []
    for n_in, layer in zip(net.layer_inputs(), views.layers, strict=True):
        H = layer[0].W_hh.shape[1]
        rnn = module(n_in, H, batch_first=True, bidirectional=bidirectional, dtype=torch.float64)
        with torch.no_grad():
            for suffix, cell in zip(suffixes, layer, strict=False):
                getattr(rnn, f"weight_ih_l0{suffix}").copy_(torch.from_numpy(cell.W_ih))
                getattr(rnn, f"weight_hh_l0{suffix}").copy_(torch.from_numpy(cell.W_hh))
                # The folded bias in b_ih; b_hh zero but a GRU's b_hn, inside its reset gate.
                getattr(rnn, f"bias_ih_l0{suffix}").copy_(torch.from_numpy(cell.bias))
                b_hh = getattr(rnn, f"bias_hh_l0{suffix}")
                b_hh.zero_()
                if net.cell == "gru":
                    b_hh[2 * H :] = torch.from_numpy(cell.bias_hn)
        layers.append(rnn)
    head = torch.nn.Linear(*views.head_W.shape[::-1], dtype=torch.float64)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(views.head_W))
        head.bias.copy_(torch.from_numpy(views.head_b))

    x = pack_sequence(
        [torch.from_numpy(np.asarray(s, np.float64)) for s in X], enforce_sorted=False
    )
    for rnn in layers:
        x, h_n = rnn(x)
    h_n = h_n[0] if net.cell == "lstm" else h_n  # an LSTM's (h_n, c_n)
    if net.readout == "steps":  # the head on every step of nn.LSTM's / nn.GRU's output
        states, lengths = pad_packed_sequence(x, batch_first=True)  # in X's order
        z = head(torch.cat([states[i, :L] for i, L in enumerate(lengths)]))
    else:  # h_n is in the original order of X; both directions' final states, side by side
        z = head(torch.cat(list(h_n), dim=1))
    y = torch.from_numpy(Y)
    if loss_name in ("binary", "multilabel"):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    elif loss_name == "multiclass":
        loss = -(y * torch.log_softmax(z, dim=1)).sum() / len(z)
    else:
        activation = {"identity": lambda v: v, "tanh": torch.tanh, "sigmoid": torch.sigmoid}
        loss = torch.nn.functional.mse_loss(activation[loss_name[4:]](z), y)
    loss.backward()

    flat = np.zeros_like(net.params)
    grad = net.unpack(flat)
    for rnn, layer in zip(layers, grad.layers, strict=True):
        for suffix, g in zip(suffixes, layer, strict=False):
            g.W_ih[:] = getattr(rnn, f"weight_ih_l0{suffix}").grad.numpy()
            g.W_hh[:] = getattr(rnn, f"weight_hh_l0{suffix}").grad.numpy()
            # b_ih and b_hh enter the gates as a sum (a GRU's but b_hn): b_ih has the
            # folded bias's gradient.
            g.bias[:] = getattr(rnn, f"bias_ih_l0{suffix}").grad.numpy()
            if net.cell == "gru":
                H = g.bias_hn.shape[0]
                g.bias_hn[:] = getattr(rnn, f"bias_hh_l0{suffix}").grad.numpy()[2 * H :]
    grad.head_W[:] = head.weight.grad.numpy()
    grad.head_b[:] = head.bias.grad.numpy()
    return z.detach().numpy(), float(loss.detach()), flat
