"""Readouts over the top layer's states: gradients, parity with PyTorch, padding, the online
forms of prediction, and "last" against the network's head input."""

import itertools
import json

import numpy as np
import pytest

from sklstm._kernels._packing import reverse_rows, take_rows
from sklstm._kernels._pooling import row_dots, segment_max, segment_sum, spread
from sklstm._readouts import READOUTS, sequence_lengths
from sklstm._sequences import Sequences, check_sequences, pack_batch

from conftest import make_network, random_sequences
from make_readout_fixtures import FIXTURE, KINDS, SHAPES, random_case, torch_readout

DIRECTIONS = [1, 2]
RTOL = 1e-9  # float64 against PyTorch's float64: far below the 1e-6 asked of parity


class Packed:
    """Sequences of states (L_i, width) in time order, packed as the top layer holds them:
    per direction (N, H), the reverse direction's in the reversed layout."""

    def __init__(self, seqs, n_directions):
        lengths = np.array([len(x) for x in seqs])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        # Not check_sequences: states may hold NaN.
        seqs = Sequences(np.concatenate(seqs), starts, lengths, False, array_steps=None)
        batch = pack_batch(seqs, np.arange(seqs.n_samples))
        self.seqs, self.offsets, self.order = seqs, batch.offsets, batch.order
        self.lengths = batch.lengths
        N, width = batch.X.shape
        H = width // n_directions
        self.perm = None
        self.states = [np.ascontiguousarray(batch.X[:, :H])]
        if n_directions == 2:
            self.perm = np.empty(N, dtype=np.intp)
            reverse_rows(self.offsets, self.perm)
            self.states.append(self.in_time_order(batch.X[:, H:]))

    def in_time_order(self, x):
        """Rows of the reversed layout in time order, or the other way round."""
        out = np.empty_like(x, order="C")
        take_rows(x, self.perm, out)
        return out

    def unpacked(self, per_direction):
        """Per-direction packed rows (each in its own layout) as the sequences' rows, one
        sequence after another in their original order."""
        parts = per_direction[:1]
        if self.perm is not None:
            parts.append(self.in_time_order(per_direction[1]))
        rows = np.hstack(parts)
        sizes = np.diff(self.offsets)
        steps = np.repeat(np.arange(len(sizes)), sizes)
        sequences = self.order[np.arange(len(rows)) - self.offsets[steps]]
        out = np.empty_like(rows)
        out[self.seqs.starts[sequences] + steps] = rows
        return out

    def run(self, kind, params, G):
        """The readout in the sequences' order, and the gradients of sum(readout * G):
        with respect to each sequence's states (time order) and to the parameters."""
        readout = READOUTS[kind]
        out, cache = readout.forward(self.states, self.offsets, self.lengths, self.perm, params)
        dstates = [np.zeros_like(Hs) for Hs in self.states]
        dparams = [np.full_like(p, np.nan) for p in params]  # backward writes them all
        readout.backward(cache, G[self.order], dstates, dparams)
        ordered = np.empty_like(out)
        ordered[self.order] = out
        return ordered, self.unpacked(dstates), dparams

    def online(self, kind, params, windows):
        """The accumulator's readout, in the batch's order, fed the windows of steps
        ``windows`` ((t0, t1) pairs) in every pass."""
        B, H = self.offsets[1], self.states[0].shape[1]
        acc = READOUTS[kind].accumulator(
            B, H, len(self.states), self.states[0].dtype, params, self.perm
        )
        for d in acc.passes:
            for t0, t1 in windows:
                r0, r1 = self.offsets[t0], self.offsets[t1]
                acc.update(d, self.states[d][r0:r1], self.offsets[t0 : t1 + 1] - r0, r0)
        return acc.result()


def value(kind, packed, params, G):
    out, _ = READOUTS[kind].forward(
        packed.states, packed.offsets, packed.lengths, packed.perm, params
    )
    return float(np.sum(out * G[packed.order]))


@pytest.mark.parametrize("n_directions", DIRECTIONS)
@pytest.mark.parametrize("lengths", [[5, 2, 7, 1, 4], [4, 4, 4], [3]])
@pytest.mark.parametrize("kind", KINDS)
def test_gradient_matches_finite_differences(rng, kind, lengths, n_directions, eps=1e-6):
    seqs, params, G = random_case(rng, lengths, 3, n_directions, kind)
    packed = Packed(seqs, n_directions)
    _, dstates, dparams = packed.run(kind, params, G)

    def numerical(x):
        grad = np.empty_like(x)
        for i in np.ndindex(x.shape):
            saved = x[i]
            x[i] = saved + eps
            up = value(kind, packed, params, G)
            x[i] = saved - eps
            down = value(kind, packed, params, G)
            x[i] = saved
            grad[i] = (up - down) / (2 * eps)
        return grad

    expected_states = packed.unpacked([numerical(Hs) for Hs in packed.states])
    np.testing.assert_allclose(dstates, expected_states, rtol=1e-6, atol=1e-9)
    for p, dp in zip(params, dparams, strict=True):
        expected = numerical(p)
        assert np.abs(expected).max() > 1e-3  # the check has something to check
        np.testing.assert_allclose(dp, expected, rtol=1e-6, atol=1e-9)
    assert np.abs(expected_states).max() > 1e-3


def load_cases():
    data = np.load(FIXTURE)
    return [
        (case, {k.split("/")[1]: data[k] for k in data.files if k.startswith(case["name"] + "/")})
        for case in json.loads(str(data["cases"]))
    ]


def check_parity(kind, seqs, n_directions, params, G, out, dstates, dparams):
    ours = Packed(seqs, n_directions).run(kind, params, G)
    np.testing.assert_allclose(ours[0], out, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(ours[1], np.concatenate(dstates), rtol=RTOL, atol=1e-12)
    for p, expected in zip(ours[2], dparams, strict=True):
        np.testing.assert_allclose(p, expected, rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("case, arrays", load_cases(), ids=lambda c: c.get("name", ""))
def test_matches_torch_fixture(case, arrays):
    lengths = arrays["lengths"]
    seqs = np.split(arrays["states"], np.cumsum(lengths)[:-1])
    dstates = np.split(arrays["dstates"], np.cumsum(lengths)[:-1])
    params, dparams = list(arrays["params"]), list(arrays["dparams"])
    check_parity(
        case["kind"],
        seqs,
        case["n_directions"],
        params,
        arrays["G"],
        arrays["out"],
        dstates,
        dparams,
    )


def test_fixture_covers_every_readout_and_shape():
    names = {case["name"] for case, _ in load_cases()}
    assert names == {f"{kind}-{shape}" for kind in READOUTS for shape in SHAPES}


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n_directions", DIRECTIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_matches_torch_live(kind, n_directions, seed):
    pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 15, size=rng.integers(1, 30))
    seqs, params, G = random_case(rng, lengths, int(rng.integers(1, 6)), n_directions, kind)
    check_parity(
        kind, seqs, n_directions, params, G, *torch_readout(seqs, n_directions, kind, params, G)
    )


@pytest.mark.parametrize("n_directions", DIRECTIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_sequence_reads_out_the_same_alone_as_in_a_batch(rng, kind, n_directions):
    # The sequence of 4 steps runs inside a batch of longer and shorter ones.
    seqs, params, G = random_case(rng, [9, 4, 7, 1, 4, 12], 3, n_directions, kind)
    out, dstates, dparams = Packed(seqs, n_directions).run(kind, params, G)
    alone = Packed([seqs[1]], n_directions).run(kind, params, G[1:2])
    np.testing.assert_array_equal(alone[0], out[1:2])
    np.testing.assert_array_equal(alone[1], dstates[9:13])
    if kind == "attention":  # its gradient sums over the batch: the others' share differs
        batch_only = Packed(seqs, n_directions).run(kind, params, G * (np.arange(6) == 1)[:, None])
        np.testing.assert_allclose(alone[2][0], batch_only[2][0], rtol=1e-13)


def window_splits(T):
    """Every split of T steps into windows of consecutive steps."""
    for cuts in itertools.product([False, True], repeat=T - 1):
        bounds = [0, *(t for t, cut in zip(range(1, T), cuts, strict=True) if cut), T]
        yield list(itertools.pairwise(bounds))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_directions", DIRECTIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_online_forms_equal_the_whole_batch_readout(rng, kind, n_directions, dtype):
    seqs, params, _ = random_case(rng, [6, 2, 5, 6, 1, 3], 4, n_directions, kind, dtype)
    packed = Packed(seqs, n_directions)
    whole, _ = READOUTS[kind].forward(
        packed.states, packed.offsets, packed.lengths, packed.perm, params
    )
    splits = list(window_splits(6))
    assert len(splits) == 32
    for windows in splits:
        online = packed.online(kind, params, windows)
        assert online.dtype == dtype
        if kind != "attention" or len(windows) == 1:  # the same additions: the same bits
            np.testing.assert_array_equal(online, whole)
        else:  # the online softmax rescales its sums as the maxima grow
            np.testing.assert_allclose(online, whole, rtol=10 * np.finfo(dtype).eps)


@pytest.mark.parametrize("n_directions", DIRECTIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_float32_agrees_with_float64(rng, kind, n_directions):
    seqs, params, G = random_case(rng, [6, 2, 5, 1], 4, n_directions, kind)
    single = [[x.astype(np.float32) for x in xs] for xs in (seqs, params)]
    expected = Packed(seqs, n_directions).run(kind, params, G)
    got = Packed(single[0], n_directions).run(kind, single[1], G.astype(np.float32))
    for g, e in zip(
        [got[0], got[1], *got[2]], [expected[0], expected[1], *expected[2]], strict=True
    ):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, e, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("lengths", [[7, 2, 5, 5, 1, 3], [4, 4, 4]])  # of one length: a slice
@pytest.mark.parametrize("bidirectional", [False, True])
def test_last_reads_each_direction_s_final_state_in_the_network(rng, bidirectional, lengths):
    from sklstm._network import Workspace

    net = make_network(rng, 2, (3, 4), 2, bidirectional=bidirectional)
    X = random_sequences(rng, lengths, 2)
    seqs = check_sequences(X, dtype=np.float64)
    ws = Workspace(net, int(seqs.lengths.sum()), seqs.n_samples)
    batch = pack_batch(seqs, np.arange(seqs.n_samples), ws.X)
    net.forward(batch, ws, n_threads=1)
    N = batch.offsets[-1]
    states = [buf.Hs[:N] for buf in ws.layers[-1]]
    # Sequence i (longest first) ends at row offsets[L_i - 1] + i in either layout: the
    # forward direction's last step, the reverse direction's first step in time.
    lengths = seqs.lengths[batch.order]
    last_rows = batch.offsets[lengths - 1] + np.arange(len(lengths))
    np.testing.assert_array_equal(ws.h_last, np.hstack([Hs[last_rows] for Hs in states]))
    # Backward: dL/dh at each sequence's last row only.
    perm = ws.perm[:N] if bidirectional else None
    out, cache = READOUTS["last"].forward(states, batch.offsets, batch.lengths, perm, [])
    d_out = rng.normal(size=out.shape)
    dstates = [np.zeros_like(Hs) for Hs in states]
    READOUTS["last"].backward(cache, d_out, dstates, [])
    H = states[0].shape[1]
    for d, dHs in enumerate(dstates):
        expected = np.zeros_like(dHs)
        expected[last_rows] = d_out[:, d * H : (d + 1) * H]
        np.testing.assert_array_equal(dHs, expected)


@pytest.mark.parametrize("n_directions", DIRECTIONS)
def test_attention_starts_as_the_mean(rng, n_directions):
    seqs, _, _ = random_case(rng, [6, 2, 5, 1], 3, n_directions, "mean")
    packed = Packed(seqs, n_directions)
    readout = READOUTS["attention"]
    (shape,) = readout.param_shapes(3 * n_directions)
    w = np.full(shape, np.nan)
    readout.initialize([w])
    attention, _ = readout.forward(packed.states, packed.offsets, packed.lengths, packed.perm, [w])
    mean, _ = READOUTS["mean"].forward(
        packed.states, packed.offsets, packed.lengths, packed.perm, []
    )
    np.testing.assert_allclose(attention, mean, rtol=1e-14)
    assert all(READOUTS[kind].param_shapes(6) == [] for kind in ("last", "mean", "max"))


def test_attention_softmax_does_not_overflow(rng):
    # Scores of thousands: exp(e) alone would overflow; the weights go to the best step.
    seqs, (w,), _ = random_case(rng, [5, 3], 2, 1, "attention")
    packed = Packed(seqs, 1)
    w *= 1e4
    out, _ = READOUTS["attention"].forward(packed.states, packed.offsets, packed.lengths, None, [w])
    best = [x[np.argmax(x @ w)] for x in seqs]
    np.testing.assert_allclose(out[np.argsort(packed.order)], best)


@pytest.mark.parametrize("n_directions", DIRECTIONS)
def test_max_ties_go_to_the_earliest_step_and_nan_wins(n_directions):
    # One sequence of 4 steps, equal states at steps 1 and 3 (the maximum) in every unit.
    x = np.array([[0.0], [2.0], [1.0], [2.0]]).repeat(n_directions, axis=1)
    packed = Packed([x], n_directions)
    out, dstates, _ = packed.run("max", [], np.ones((1, n_directions)))
    np.testing.assert_array_equal(out, [[2.0] * n_directions])
    np.testing.assert_array_equal(dstates[:, 0], [0, 1, 0, 0])
    np.testing.assert_array_equal(dstates, np.tile(dstates[:, :1], n_directions))
    x[2] = np.nan
    out, dstates, _ = Packed([x], n_directions).run("max", [], np.ones((1, n_directions)))
    assert np.isnan(out).all()
    np.testing.assert_array_equal(dstates[:, 0], [0, 0, 1, 0])


def test_sequence_lengths():
    # Steps of 3, 2, 2 and 1 rows: the first sequence lasts 4 steps, the second 3, the third 1.
    np.testing.assert_array_equal(sequence_lengths(np.array([0, 3, 5, 7, 8])), [4, 3, 1])
    np.testing.assert_array_equal(sequence_lengths(np.array([0, 2, 4])), [2, 2])


def test_pooling_kernels_refuse_what_they_would_index_out_of_bounds():
    offsets = np.array([0, 3, 5, 6])
    X, per_seq, per_row = np.zeros((6, 2)), np.zeros((3, 2)), np.zeros(6)
    with pytest.raises(ValueError, match=r"out has shape \(2, 2\), expected \(3, 2\)"):
        segment_sum(X, offsets, None, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"weights has shape \(5,\), expected \(6,\)"):
        segment_sum(X, offsets, np.zeros(5), per_seq)
    with pytest.raises(ValueError, match="offsets must run from 0 to the number of packed"):
        segment_sum(X[:5], offsets, None, per_seq)
    with pytest.raises(ValueError, match=r"argmax has shape \(3, 1\), expected \(3, 2\)"):
        segment_max(X, offsets, per_seq, np.zeros((3, 1), dtype=np.intp), False)
    with pytest.raises(ValueError, match=r"D has shape \(3, 3\), expected \(3, 2\)"):
        spread(np.zeros((3, 3)), offsets, None, X)
    with pytest.raises(ValueError, match=r"out has shape \(5,\), expected \(6,\)"):
        row_dots(X, offsets, per_seq, np.zeros(5))
    with pytest.raises(ValueError, match="non-increasing"):
        row_dots(X, np.array([0, 2, 5, 6]), per_seq, per_row)
    with pytest.raises(ValueError, match="bidirectional attention readout needs"):
        READOUTS["attention"].accumulator(3, 2, 2, np.float64, [np.zeros(4)])
