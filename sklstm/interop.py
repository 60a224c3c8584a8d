"""Weight exchange with PyTorch; torch is imported only when these functions are called."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from . import _scaling as scaling

__all__ = ["to_torch", "load_torch"]


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise ImportError("sklstm.interop needs PyTorch: pip install torch") from exc
    return torch


def to_torch(est):
    """PyTorch modules that compute the fitted model.

    Parameters
    ----------
    est : LSTMClassifier or LSTMRegressor
        A fitted estimator.

    Returns
    -------
    lstm : torch.nn.LSTM or torch.nn.ModuleList
        ``batch_first`` LSTM with the fitted weights (``b_ih`` holds the bias, ``b_hh`` is
        zero). When the layers differ in size, which one ``nn.LSTM`` cannot hold, a
        ``ModuleList`` of one-layer LSTMs to apply in order.
    head : torch.nn.Linear
        The output layer, applied to the last layer's final hidden state of each sequence
        (``h_n[-1]``; ``torch.cat([h_n[-2], h_n[-1]], 1)`` for a bidirectional model, the
        reverse direction's final state being at the sequence's first step); the output
        activation (``est.out_activation_``) is left to the caller.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklstm import LSTMRegressor
    >>> from sklstm.interop import to_torch
    >>> X = np.random.RandomState(0).normal(size=(20, 5, 2)).astype(np.float32)
    >>> reg = LSTMRegressor(4, max_iter=2, random_state=0).fit(X, X[:, -1, 0])
    >>> lstm, head = to_torch(reg)
    >>> out, (h_n, c_n) = lstm(torch.from_numpy(X))
    >>> np.allclose(head(h_n[-1]).detach().numpy().ravel(), reg.predict(X), atol=1e-5)
    True
    """
    torch = _torch()
    check_is_fitted(est)
    net = est.network_
    dtype = torch.float64 if net.dtype == np.float64 else torch.float32
    sizes = net.hidden_sizes

    bidirectional = net.n_directions == 2

    def lstm_module(n_in, H, n_layers):
        return torch.nn.LSTM(
            n_in,
            H,
            num_layers=n_layers,
            batch_first=True,
            dtype=dtype,
            bidirectional=bidirectional,
        )

    if len(set(sizes)) == 1:
        lstm = lstm_module(net.n_features, sizes[0], len(sizes))
        slots = [(lstm, k) for k in range(len(sizes))]
    else:
        lstm = torch.nn.ModuleList(
            lstm_module(n_in, H, 1) for n_in, H in zip(net.layer_inputs(), sizes, strict=True)
        )
        slots = [(module, 0) for module in lstm]
    head = torch.nn.Linear(net.n_directions * sizes[-1], net.n_outputs, dtype=dtype)
    # The modules read raw inputs and give outputs in y's units: standardisations folded in.
    layer_0, head_W, head_b = scaling.fold(net.views, est._input_units, est._output_units())
    with torch.no_grad():
        for i, ((module, k), layer) in enumerate(zip(slots, net.views.layers, strict=True)):
            for d, (suffix, cell) in enumerate(zip(_SUFFIXES, layer, strict=False)):
                name = f"l{k}{suffix}"
                W_ih, bias = layer_0[d] if i == 0 else (cell.W_ih, cell.bias)
                getattr(module, f"weight_ih_{name}").copy_(torch.from_numpy(W_ih))
                getattr(module, f"weight_hh_{name}").copy_(torch.from_numpy(cell.W_hh))
                getattr(module, f"bias_ih_{name}").copy_(torch.from_numpy(bias))
                getattr(module, f"bias_hh_{name}").zero_()
        head.weight.copy_(torch.from_numpy(head_W.astype(net.dtype)))
        head.bias.copy_(torch.from_numpy(head_b.astype(net.dtype)))
    return lstm, head


# PyTorch's parameter names, forward then reverse direction.
_SUFFIXES = ("", "_reverse")


def load_torch(est, lstm, head):
    """Put the weights of PyTorch modules into a fitted estimator of the same architecture.

    Parameters
    ----------
    est : LSTMClassifier or LSTMRegressor
        A fitted estimator; its weights are replaced.
    lstm : torch.nn.LSTM or torch.nn.ModuleList of torch.nn.LSTM
        As returned by ``to_torch``: one LSTM with every layer, or one-layer LSTMs in order.
    head : torch.nn.Linear
        The output layer.

    Returns
    -------
    est : the estimator, with the modules' weights

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklstm import LSTMRegressor
    >>> from sklstm.interop import load_torch, to_torch
    >>> X = np.random.RandomState(0).normal(size=(20, 5, 2)).astype(np.float32)
    >>> reg = LSTMRegressor(4, max_iter=1, random_state=0).fit(X, X[:, -1, 0])
    >>> lstm, head = to_torch(reg)
    >>> with torch.no_grad():  # train or edit in PyTorch, then bring the weights back
    ...     _ = head.weight.zero_(), head.bias.fill_(1.5)
    >>> round(float(load_torch(reg, lstm, head).predict(X[:1])[0]), 4)
    1.5
    """
    check_is_fitted(est)
    net = est.network_
    modules = list(lstm) if isinstance(lstm, _torch().nn.ModuleList) else [lstm]
    slots = [(m, k) for m in modules for k in range(m.num_layers)]
    if len(slots) != len(net.hidden_sizes):
        raise ValueError(
            f"The estimator has {len(net.hidden_sizes)} LSTM layers, the modules {len(slots)}."
        )
    for module in modules:
        if module.bidirectional != (net.n_directions == 2):
            kind = {True: "bidirectional", False: "unidirectional"}
            raise ValueError(
                f"The modules are {kind[module.bidirectional]}, the estimator is "
                f"{kind[net.n_directions == 2]}."
            )
        if module.proj_size or not module.bias:
            raise ValueError("Only LSTMs with biases and without projections can be loaded.")

    def array(tensor):
        return tensor.detach().cpu().numpy().astype(net.dtype)

    params = net.params.copy()
    views = net.unpack(params)
    for (module, k), layer in zip(slots, views.layers, strict=True):
        for suffix, cell in zip(_SUFFIXES, layer, strict=False):
            name = f"l{k}{suffix}"
            _assign(cell.W_ih, array(getattr(module, f"weight_ih_{name}")), f"weight_ih_{name}")
            _assign(cell.W_hh, array(getattr(module, f"weight_hh_{name}")), f"weight_hh_{name}")
            bias = array(getattr(module, f"bias_ih_{name}")) + array(
                getattr(module, f"bias_hh_{name}")
            )
            _assign(cell.bias, bias, f"bias_{name}")
    _assign(views.head_W, array(head.weight), "head.weight")
    _assign(views.head_b, array(head.bias), "head.bias")
    scaling.unfold(views, est._input_units, est._output_units())
    net.params[:] = params  # all shapes checked: replace the weights at once
    return est


def _assign(target, value, name):
    if target.shape != value.shape:
        raise ValueError(f"{name} has shape {value.shape}; the estimator needs {target.shape}.")
    if not np.isfinite(value).all():  # e.g. a training in torch that diverged
        raise ValueError(f"{name} holds values that are not finite (NaN or infinity).")
    target[:] = value
