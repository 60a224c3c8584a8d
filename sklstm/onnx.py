"""Export to ONNX, on ONNX's own LSTM and GRU operators; onnx is imported only when called."""

import numpy as np
from sklearn.base import is_regressor
from sklearn.utils.validation import check_is_fitted

from . import _scaling as scaling

__all__ = ["to_onnx"]

OPSET = 17
# ONNX orders an LSTM's gates i, o, f, c, a GRU's z, r, h; sklstm, as PyTorch, i, f, g(=c),
# o and r, z, n(=h).
_ONNX_GATES = {"lstm": [0, 3, 1, 2], "gru": [1, 0, 2]}
# The readouts: reductions over the time axis of (N, T, width).
_POOLING = {"mean": "ReduceMean", "max": "ReduceMax"}


def to_onnx(est, *, variable_lengths=False):
    """An ONNX model that computes the fitted estimator's predictions.

    The graph runs ONNX's ``LSTM`` or ``GRU`` operator (``linear_before_reset=1``, as
    PyTorch's GRU) once per layer, then the readout, the dense head and the output
    activation, in float32 (a float64 model's weights are cast). With lengths, the
    readouts pool over each sequence's own steps only.

    Parameters
    ----------
    est : LSTMClassifier, LSTMRegressor, LSTMStepClassifier or LSTMStepRegressor
        A fitted estimator.
    variable_lengths : bool, default=False
        Add an int64 input ``lengths`` (N,): each sequence's true length in the padded X,
        which ONNX's LSTM honours (a reverse direction starts at each sequence's own end).
        Each must be from 1 to T: onnxruntime refuses others, with an error that quotes
        this rule.

    Returns
    -------
    model : onnx.ModelProto
        Input ``X``: float32 (N, T, D) (and ``lengths``). Outputs: for a classifier
        ``label`` (N,) (an int64 indicator (N, n_labels) for multilabel targets) and
        ``probabilities`` (N, n_classes); for a regressor ``variable`` (N, n_outputs).
        For a step estimator, the same at every step: (N, T) and (N, T, ...), the head
        applied to every step of the top layer's ``Y``; with ``lengths``, the outputs at
        steps beyond a sequence's length are not its own (the head of a zero state): keep
        each sequence's first ``lengths[i]`` steps.

    Examples
    --------
    >>> import numpy as np, onnxruntime
    >>> from sklstm import LSTMRegressor
    >>> from sklstm.onnx import to_onnx
    >>> X = np.random.RandomState(0).normal(size=(20, 5, 2)).astype(np.float32)
    >>> reg = LSTMRegressor(4, max_iter=2, random_state=0).fit(X, X[:, -1, 0])
    >>> session = onnxruntime.InferenceSession(to_onnx(reg).SerializeToString())
    >>> (y,) = session.run(None, {"X": X})
    >>> bool(np.allclose(y.ravel(), reg.predict(X), atol=1e-5))
    True
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as exc:
        raise ImportError("sklstm.onnx needs onnx: pip install onnx") from exc
    check_is_fitted(est)
    net = est.network_
    graph = _Graph(helper, numpy_helper)

    graph.input("X", TensorProto.FLOAT, ["N", "T", net.n_features])
    lengths = ""
    if variable_lengths:
        graph.input("lengths", TensorProto.INT64, ["N"])
        # ONNX's LSTM takes a length of 0 for an empty sequence, whose output is the initial
        # state; a sequence has at least one step, so 0 becomes a length that onnxruntime
        # refuses, as it refuses lengths beyond T, naming the node below.
        positive = graph.node("Greater", ["lengths", graph.constant(np.array(0), np.int64)])
        lengths = graph.node("Where", [positive, "lengths", graph.constant(np.array(-1), np.int64)])
        lengths = graph.node("Cast", [lengths], to=TensorProto.INT32)
    x = graph.node("Transpose", ["X"], perm=[1, 0, 2])  # ONNX's RNNs: time first
    direction = "bidirectional" if net.n_directions == 2 else "forward"
    # The graph reads raw inputs and gives outputs in y's units: standardisations folded in.
    layer_0, head_W, head_b = scaling.fold(net.views, est._input_units, est._output_units())
    op = net.cell.upper()
    for k, layer in enumerate(net.views.layers):
        H = layer[0].W_hh.shape[1]
        inputs_and_biases = layer_0 if k == 0 else [(cell.W_ih, cell.bias) for cell in layer]
        weights = [
            np.stack([_reorder(W_ih, net.cell) for W_ih, _ in inputs_and_biases]),
            np.stack([_reorder(cell.W_hh, net.cell) for cell in layer]),
        ]
        biases = np.stack(
            [
                np.concatenate([_reorder(bias, net.cell), _recurrent_bias(cell, net.cell)])
                for (_, bias), cell in zip(inputs_and_biases, layer, strict=True)
            ]
        )
        inputs = [
            x,
            graph.constant(weights[0]),
            graph.constant(weights[1]),
            graph.constant(biases),
        ] + ([lengths] if lengths else [])
        y, y_h = graph.node(
            op,
            inputs,
            outputs=2,
            label=f"sklstm {op} layer {k}: every entry of lengths must be from 1 to T"
            if lengths
            else None,
            hidden_size=H,
            direction=direction,
            **({"linear_before_reset": 1} if net.cell == "gru" else {}),
        )
        # Y is (T, directions, N, H): the next layer reads (T, N, directions * H).
        if k < len(net.views.layers) - 1:
            y = graph.node("Transpose", [y], perm=[0, 2, 1, 3])
            x = graph.node("Reshape", [y, graph.constant(np.array([0, 0, -1]), np.int64)])
    h = _readout(graph, net, y, y_h, "lengths" if lengths else None)
    if net.readout_kind.per_step:  # (N, T, width): the head at every step
        z = graph.node("MatMul", [h, graph.constant(head_W.T)])
        z = graph.node("Add", [z, graph.constant(head_b)])
        rows = ["N", "T"]
    else:
        z = graph.node("Gemm", [h, graph.constant(head_W), graph.constant(head_b)], transB=1)
        rows = ["N"]
    _outputs(est, graph, z, TensorProto, rows)
    model = helper.make_model(
        helper.make_graph(
            graph.nodes, type(est).__name__, graph.inputs, graph.outputs, graph.initializers
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="sklstm",
    )
    onnx.checker.check_model(model)
    return model


def _outputs(est, graph, z, TensorProto, rows):
    """The estimator's predictions from the logits z, whose last axis holds the outputs
    and the others are ``rows`` (["N"], or ["N", "T"] per step)."""
    if is_regressor(est):
        activation = {"identity": "Identity", "tanh": "Tanh", "sigmoid": "Sigmoid"}
        graph.node(activation[est.out_activation_], [z], name="variable")
        graph.output("variable", TensorProto.FLOAT, [*rows, est.n_outputs_])
        return
    kind = est._label_binarizer.y_type_
    if kind == "multilabel-indicator":
        graph.node("Sigmoid", [z], name="probabilities")
        positive = graph.node("Greater", ["probabilities", graph.constant(np.array(0.5))])
        graph.node("Cast", [positive], name="label", to=TensorProto.INT64)
        graph.output("label", TensorProto.INT64, [*rows, est.n_outputs_])
    else:
        if kind == "binary":
            p = graph.node("Sigmoid", [z])
            q = graph.node("Sub", [graph.constant(np.array(1.0)), p])
            graph.node("Concat", [q, p], name="probabilities", axis=-1)
        else:
            graph.node("Softmax", [z], name="probabilities", axis=-1)
        best = graph.node("ArgMax", ["probabilities"], axis=-1, keepdims=0)
        classes = est.classes_
        labels = graph.constant(classes, None if classes.dtype.kind in "OUS" else classes.dtype)
        graph.node("Gather", [labels, best], name="label")
        elem = graph.elem_type(classes)
        graph.output("label", elem, rows)
    graph.output("probabilities", TensorProto.FLOAT, [*rows, len(est.classes_)])


def _reorder(gates, cell):
    """Gate blocks (first axis) from sklstm's order to ONNX's."""
    order = _ONNX_GATES[cell]
    H = gates.shape[0] // len(order)
    return np.concatenate([gates[g * H : (g + 1) * H] for g in order])


def _recurrent_bias(cell_params, cell):
    """ONNX's recurrent bias (Rb): zeros but a GRU's b_hn, which the reset gate scales."""
    H = cell_params.W_hh.shape[1]
    if cell == "lstm":
        return np.zeros(4 * H)
    return np.concatenate([np.zeros(2 * H), cell_params.bias_hn])


def _readout(graph, net, y, y_h, lengths):
    """The readout's (N, width) from the top layer's outputs: Y (T, directions, N, H) and
    Y_h (directions, N, H); over each sequence's first ``lengths`` steps when given. The
    per-step readout: the states of every step, (N, T, width)."""
    if net.readout == "last":  # each direction's final state, side by side
        h = graph.node("Transpose", [y_h], perm=[1, 0, 2])
        return graph.node("Reshape", [h, graph.constant(np.array([0, -1]), np.int64)])
    states = graph.node("Transpose", [y], perm=[2, 0, 1, 3])  # (N, T, directions, H)
    states = graph.node("Reshape", [states, graph.constant(np.array([0, 0, -1]), np.int64)])
    if net.readout_kind.per_step:
        return states
    valid = None
    if lengths is not None:  # (N, T): step t < the sequence's length
        T = graph.node("Gather", [graph.node("Shape", ["X"]), graph.constant(1, np.int64)])
        steps = graph.node("Range", [graph.constant(0, np.int64), T, graph.constant(1, np.int64)])
        column = graph.node("Unsqueeze", [lengths, graph.constant([1], np.int64)])
        valid = graph.node("Less", [steps, column])
    last_axis = graph.constant([2], np.int64)
    if net.readout == "mean" and valid is not None:  # padded steps hold zeros
        total = graph.node("ReduceSum", [states, graph.constant([1], np.int64)], keepdims=0)
        return graph.node("Div", [total, graph.node("Cast", [column], to=1)])
    if net.readout in _POOLING:
        if valid is not None:
            states = graph.node(
                "Where",
                [graph.node("Unsqueeze", [valid, last_axis]), states, graph.constant(-np.inf)],
            )
        return graph.node(_POOLING[net.readout], [states], axes=[1], keepdims=0)
    (w,) = net.views.readout  # attention: softmax over the steps of states @ w
    scores = graph.node("MatMul", [states, graph.constant(w)])
    if valid is not None:
        scores = graph.node("Where", [valid, scores, graph.constant(-np.inf)])
    weights = graph.node("Unsqueeze", [graph.node("Softmax", [scores], axis=1), last_axis])
    weighted = graph.node("Mul", [weights, states])
    return graph.node("ReduceSum", [weighted, graph.constant([1], np.int64)], keepdims=0)


class _Graph:
    """Nodes, constants, inputs and outputs of an ONNX graph under construction."""

    def __init__(self, helper, numpy_helper):
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []

    def _name(self, prefix):
        return f"{prefix}_{len(self.nodes) + len(self.initializers)}"

    def constant(self, value, dtype=np.float32):
        name = self._name("const")
        array = np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype)
        if array.dtype.kind in "US":
            array = array.astype(object)
        self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def node(self, op, inputs, *, outputs=1, name=None, label=None, **attributes):
        """Add a node; ``name`` names its output, ``label`` the node (runtimes' errors
        quote it)."""
        names = [name] if name else [self._name(op.lower()) + f"_{i}" for i in range(outputs)]
        self.nodes.append(self.helper.make_node(op, inputs, names, name=label, **attributes))
        return names[0] if outputs == 1 else names

    def input(self, name, elem, shape):
        self.inputs.append(self.helper.make_tensor_value_info(name, elem, shape))

    def output(self, name, elem, shape):
        self.outputs.append(self.helper.make_tensor_value_info(name, elem, shape))

    def elem_type(self, array):
        array = np.asarray(array)
        if array.dtype.kind in "OUS":
            array = array.astype(object)
        return self.helper.np_dtype_to_tensor_dtype(array.dtype)
