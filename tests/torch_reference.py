"""The same network computed by PyTorch: outputs, loss and gradients in sklstm's layout.

Used by ``make_torch_fixtures.py`` (golden values, so CI needs no torch) and by the live
parity tests when torch is installed. The weight mapping is written out here on its own
rather than taken from ``sklstm.interop``, so that the parity tests check that too.
"""

import numpy as np


def torch_forward_backward(net, X, Y, loss_name):
    """Outputs (n, n_outputs) in X's order, loss and flat gradient, as PyTorch computes them.

    ``net`` is an ``LSTMNetwork``; ``X`` a list of (T_i, D) float64 arrays; ``loss_name`` one
    of "binary", "multilabel", "multiclass", "mse-identity", "mse-tanh", "mse-sigmoid".
    """
    import torch
    from torch.nn.utils.rnn import pack_sequence

    views = net.views
    bidirectional = net.n_directions == 2
    suffixes = ("", "_reverse")
    layers = []
    for n_in, layer in zip(net.layer_inputs(), views.layers, strict=True):
        H = layer[0].W_hh.shape[1]
        lstm = torch.nn.LSTM(
            n_in, H, batch_first=True, bidirectional=bidirectional, dtype=torch.float64
        )
        with torch.no_grad():
            for suffix, cell in zip(suffixes, layer, strict=False):
                getattr(lstm, f"weight_ih_l0{suffix}").copy_(torch.from_numpy(cell.W_ih))
                getattr(lstm, f"weight_hh_l0{suffix}").copy_(torch.from_numpy(cell.W_hh))
                getattr(lstm, f"bias_ih_l0{suffix}").copy_(torch.from_numpy(cell.bias))
                getattr(lstm, f"bias_hh_l0{suffix}").zero_()
        layers.append(lstm)
    head = torch.nn.Linear(*views.head_W.shape[::-1], dtype=torch.float64)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(views.head_W))
        head.bias.copy_(torch.from_numpy(views.head_b))

    x = pack_sequence(
        [torch.from_numpy(np.asarray(s, np.float64)) for s in X], enforce_sorted=False
    )
    for lstm in layers:
        x, (h_n, _) = lstm(x)
    # h_n is in the original order of X; both directions' final states, side by side.
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
    for lstm, layer in zip(layers, grad.layers, strict=True):
        for suffix, g in zip(suffixes, layer, strict=False):
            g.W_ih[:] = getattr(lstm, f"weight_ih_l0{suffix}").grad.numpy()
            g.W_hh[:] = getattr(lstm, f"weight_hh_l0{suffix}").grad.numpy()
            # b_ih and b_hh enter the gates as a sum: each has the folded bias's gradient.
            g.bias[:] = getattr(lstm, f"bias_ih_l0{suffix}").grad.numpy()
    grad.head_W[:] = head.weight.grad.numpy()
    grad.head_b[:] = head.bias.grad.numpy()
    return z.detach().numpy(), float(loss.detach()), flat
