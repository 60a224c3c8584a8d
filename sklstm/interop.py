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
    """The fitted model as one PyTorch module.

    Parameters
    ----------
    est : LSTMClassifier, LSTMRegressor, LSTMStepClassifier or LSTMStepRegressor
        A fitted estimator.

    Returns
    -------
    module : torch.nn.Module
        ``module(X, lengths=None)`` takes a batch-first float tensor (N, T, D) of raw inputs
        and, for padded sequences, each one's length (N,), and returns the outputs in y's
        units before the output activation (``est.out_activation_``, left to the caller),
        (N, n_outputs), or (N, T, n_outputs) for a step estimator (each sequence's first
        ``lengths[i]`` steps are its own). Its parts: ``module.rnn``, an ``nn.LSTM`` or
        ``nn.GRU`` with every layer (``b_ih`` holds the input-side biases, ``b_hh`` the
        GRU's ``b_hn`` and zeros), or a ``ModuleList`` of one-layer modules applied in
        order when the layers differ in size; ``module.readout`` (``module.readout.weight``:
        the attention weights); ``module.head``, an ``nn.Linear``. The module's class lives
        in ``sklstm._torch_network``: ``torch.save(module)`` works, and loads where sklstm
        is installed.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklstm import LSTMRegressor
    >>> from sklstm.interop import to_torch
    >>> X = np.random.RandomState(0).normal(size=(20, 5, 2)).astype(np.float32)
    >>> reg = LSTMRegressor(4, max_iter=2, random_state=0).fit(X, X[:, -1, 0])
    >>> module = to_torch(reg)
    >>> out = module(torch.from_numpy(X)).detach().numpy()
    >>> np.allclose(out.ravel(), reg.predict(X), atol=1e-5)
    True
    """
    torch = _torch()
    from ._torch_network import Readout, RecurrentNetwork

    check_is_fitted(est)
    net = est.network_
    dtype = torch.float64 if net.dtype == np.float64 else torch.float32
    sizes = net.hidden_sizes
    Module = _rnn_class(torch, net.cell)

    def rnn_module(n_in, H, n_layers):
        return Module(
            n_in,
            H,
            num_layers=n_layers,
            batch_first=True,
            dtype=dtype,
            bidirectional=net.n_directions == 2,
        )

    if len(set(sizes)) == 1:
        rnn = rnn_module(net.n_features, sizes[0], len(sizes))
    else:
        rnn = torch.nn.ModuleList(
            rnn_module(n_in, H, 1) for n_in, H in zip(net.layer_inputs(), sizes, strict=True)
        )
    width = net.n_directions * sizes[-1]
    module = RecurrentNetwork(
        rnn,
        Readout(net.readout, width, dtype),
        torch.nn.Linear(width, net.n_outputs, dtype=dtype),
    )
    # The module reads raw inputs and gives outputs in y's units: standardisations folded in.
    layer_0, head_W, head_b = scaling.fold(net.views, est._input_units, est._output_units())
    with torch.no_grad():
        for i, ((layer, k), cells) in enumerate(zip(_slots(rnn), net.views.layers, strict=True)):
            for d, (suffix, cell) in enumerate(zip(_SUFFIXES, cells, strict=False)):
                name = f"l{k}{suffix}"
                W_ih, bias = layer_0[d] if i == 0 else (cell.W_ih, cell.bias)
                b_hh = np.zeros_like(bias)
                if net.cell == "gru":  # b_hn cannot join b_in: the reset gate scales it
                    b_hh[-len(cell.bias_hn) :] = cell.bias_hn
                for param, value in [
                    ("weight_ih", W_ih),
                    ("weight_hh", cell.W_hh),
                    ("bias_ih", bias),
                    ("bias_hh", b_hh),
                ]:
                    getattr(layer, f"{param}_{name}").copy_(torch.from_numpy(value))
        for param, value in zip(module.readout.parameters(), net.views.readout, strict=True):
            param.copy_(torch.from_numpy(value))
        module.head.weight.copy_(torch.from_numpy(head_W.astype(net.dtype)))
        module.head.bias.copy_(torch.from_numpy(head_b.astype(net.dtype)))
    return module


def _rnn_class(torch, cell):
    """PyTorch's module for a cell."""
    return {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]


# PyTorch's parameter names, forward then reverse direction.
_SUFFIXES = ("", "_reverse")


def _slots(rnn):
    """(module, layer index within it) of each layer of a ``RecurrentNetwork.rnn``."""
    modules = list(rnn) if isinstance(rnn, _torch().nn.ModuleList) else [rnn]
    return [(m, k) for m in modules for k in range(m.num_layers)]


def load_torch(est, module):
    """Put the weights of a PyTorch module made by ``to_torch`` into a fitted estimator of
    the same architecture.

    Parameters
    ----------
    est : LSTMClassifier, LSTMRegressor, LSTMStepClassifier or LSTMStepRegressor
        A fitted estimator; its weights are replaced, all at once, only if every weight
        fits.
    module : torch.nn.Module
        As returned by ``to_torch`` (trained or edited in PyTorch since).

    Returns
    -------
    est : the estimator, with the module's weights

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklstm import LSTMRegressor
    >>> from sklstm.interop import load_torch, to_torch
    >>> X = np.random.RandomState(0).normal(size=(20, 5, 2)).astype(np.float32)
    >>> reg = LSTMRegressor(4, max_iter=1, random_state=0).fit(X, X[:, -1, 0])
    >>> module = to_torch(reg)
    >>> with torch.no_grad():  # train or edit in PyTorch, then bring the weights back
    ...     _ = module.head.weight.zero_(), module.head.bias.fill_(1.5)
    >>> round(float(load_torch(reg, module).predict(X[:1])[0]), 4)
    1.5
    """
    torch = _torch()
    from ._torch_network import RecurrentNetwork

    check_is_fitted(est)
    net = est.network_
    if not isinstance(module, RecurrentNetwork):
        raise TypeError(
            f"load_torch takes the module that to_torch returns, not {type(module).__name__}."
        )
    Module = _rnn_class(torch, net.cell)
    slots = _slots(module.rnn)
    if len(slots) != len(net.hidden_sizes):
        raise ValueError(
            f"The estimator has {len(net.hidden_sizes)} recurrent layers, the module {len(slots)}."
        )
    for layer, _ in slots:
        if type(layer) is not Module:
            raise ValueError(
                f"The module's layers are {type(layer).__name__}, the estimator's cell is "
                f"{net.cell!r}."
            )
        if layer.bidirectional != (net.n_directions == 2):
            kind = {True: "bidirectional", False: "unidirectional"}
            raise ValueError(
                f"The module is {kind[layer.bidirectional]}, the estimator is "
                f"{kind[net.n_directions == 2]}."
            )
        if getattr(layer, "proj_size", 0) or not layer.bias:
            raise ValueError("Only layers with biases and without projections can be loaded.")
    if module.readout.kind != net.readout:
        raise ValueError(
            f"The module's readout is {module.readout.kind!r}, the estimator's {net.readout!r}."
        )

    def array(tensor):
        return tensor.detach().cpu().numpy().astype(net.dtype)

    params = net.params.copy()
    views = net.unpack(params)
    for (layer, k), cells in zip(slots, views.layers, strict=True):
        for suffix, cell in zip(_SUFFIXES, cells, strict=False):
            name = f"l{k}{suffix}"
            _assign(cell.W_ih, array(getattr(layer, f"weight_ih_{name}")), f"weight_ih_{name}")
            _assign(cell.W_hh, array(getattr(layer, f"weight_hh_{name}")), f"weight_hh_{name}")
            b_ih = array(getattr(layer, f"bias_ih_{name}"))
            b_hh = array(getattr(layer, f"bias_hh_{name}"))
            if net.cell == "gru":  # b_hr and b_hz join b_ih's; b_hn stays apart
                H = len(cell.bias_hn)
                _assign(cell.bias_hn, b_hh[2 * H :], f"bias_hh_{name}[2H:]")
                b_hh[2 * H :] = 0
            _assign(cell.bias, b_ih + b_hh, f"bias_{name}")
    for (name, param), value in zip(module.readout.named_parameters(), views.readout, strict=True):
        _assign(value, array(param), f"readout.{name}")
    _assign(views.head_W, array(module.head.weight), "head.weight")
    _assign(views.head_b, array(module.head.bias), "head.bias")
    scaling.unfold(views, est._input_units, est._output_units())
    net.params[:] = params  # all shapes checked: replace the weights at once
    return est


def _assign(target, value, name):
    if target.shape != value.shape:
        raise ValueError(f"{name} has shape {value.shape}; the estimator needs {target.shape}.")
    if not np.isfinite(value).all():  # e.g. a training in torch that diverged
        raise ValueError(f"{name} holds values that are not finite (NaN or infinity).")
    target[:] = value
