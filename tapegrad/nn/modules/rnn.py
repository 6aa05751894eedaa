"""Recurrent layers (RNN, LSTM, GRU) and their single-step cells, built from tapegrad ops.

Parameters follow torch.nn's names, shapes, gate order and initialisation: every parameter
is drawn from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""

import math
import warnings

from ..._hints import DType, Device
from ... import creation
from ...functions import sigmoid, tanh
from ...movement import cat as _cat_op
from ...movement import stack as _stack_op
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..utils.rnn import PackedSequence, _hold, _run_packed
from ..parameter import Parameter
from .module import Module
from .module_state import _factory

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _stack(ts, dim=0):
    return _stack_op(ts, dim)


def _cat(ts, dim=-1):
    return _cat_op(ts, dim)


def _zeros(shape, like: Tensor) -> Tensor:
    return creation.zeros(*shape, dtype=like.dtype)


def _step(mode: str, gi: Tensor, h, w_hh: Tensor, b_hh):
    """One recurrence step given the precomputed input part gi = x @ W_ih.T + b_ih.

    h is a Tensor (h for RNN/GRU) or a pair (h, c) for LSTM; returns the new state."""
    if mode == "LSTM":
        hx, cx = h
        gates = gi + F.linear(hx, w_hh, b_hh)
        i, f, g, o = gates.chunk(4, -1)
        c = sigmoid(f) * cx + sigmoid(i) * tanh(g)
        return sigmoid(o) * tanh(c), c
    gh = F.linear(h, w_hh, b_hh)
    if mode == "GRU":
        i_r, i_z, i_n = gi.chunk(3, -1)
        h_r, h_z, h_n = gh.chunk(3, -1)
        r = sigmoid(i_r + h_r)
        z = sigmoid(i_z + h_z)
        n = tanh(i_n + r * h_n)
        return (1 - z) * n + z * h
    pre = gi + gh
    return tanh(pre) if mode == "RNN_TANH" else F.relu(pre)


def _check_state(name: str, h: Tensor, expected: tuple, what: str = "hidden") -> None:
    if tuple(h.shape) != expected:
        raise RuntimeError(f"{name}: Expected {what} size {expected}, got {list(h.shape)}")


class RNNBase(Module):
    """Shared machinery of RNN, LSTM and GRU: parameters per layer and direction, the
    time loop, input/state layout handling and dropout between layers."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Device = None,
                 dtype: DType = None) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) \
                or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"{name}: hidden_size must be a positive integer, got "
                             f"{hidden_size!r}")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be a positive integer, got "
                             f"{num_layers!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout adds dropout after all but the last recurrent "
                          f"layer, so non-zero dropout expects num_layers greater than 1, but "
                          f"got dropout={dropout} and num_layers={num_layers}", UserWarning)
        if proj_size != 0:
            raise NotImplementedError(f"{name}: proj_size is not supported by tapegrad")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gsize = _GATES[mode] * hidden_size
        ndir = 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size * ndir
            for d in range(ndir):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                shapes = [("weight_ih", (gsize, in_size)), ("weight_hh", (gsize, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gsize,)), ("bias_hh", (gsize,))]
                for base, shape in shapes:
                    setattr(self, base + sfx,
                            Parameter(_factory(creation.empty, shape, device, dtype)))
                    self._flat_weights_names.append(base + sfx)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter again from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def _layer_params(self, layer: int, d: int):
        sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
        get = lambda n: getattr(self, n + sfx) if self.bias or "weight" in n else None  # noqa
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _run(self, input: Tensor, hx, lengths=None):
        """(output, final states) with states a list of (D*num_layers, N, H) tensors.
        A PackedSequence input runs padded (nn/utils/rnn.py), `lengths` then holding each
        sample's state after its last step."""
        if isinstance(input, PackedSequence):
            return _run_packed(self, input, hx)
        name = type(self).__name__
        if input.dim() not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D "
                             f"tensor instead")
        batched = input.dim() == 3
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input.size(-1) must be equal to input_size. "
                               f"Expected {self.input_size}, got {input.shape[-1]}")
        x = input if batched else input.unsqueeze(1)
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        seq_len, nb = x.shape[0], x.shape[1]
        ndir = 2 if self.bidirectional else 1
        nstate = 2 if self.mode == "LSTM" else 1
        expected = (ndir * self.num_layers, nb, self.hidden_size)
        if hx is None:
            states = [_zeros(expected, x) for _ in range(nstate)]
        else:
            states = list(hx) if self.mode == "LSTM" else [hx]
            if len(states) != nstate:
                raise RuntimeError(f"{name}: expected a tuple (h_0, c_0) as initial state")
            for k, s in enumerate(states):
                if s.dim() != (3 if batched else 2):
                    raise RuntimeError(
                        f"{name}: for {'batched 3' if batched else 'unbatched 2'}-D input, "
                        f"hx should also be {'3' if batched else '2'}-D but got "
                        f"{s.dim()}-D tensor")
                states[k] = s if batched else s.unsqueeze(1)
                _check_state(name, states[k], expected, "hidden" if k == 0 else "cell")
        finals = [[] for _ in range(nstate)]
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(ndir):
                w_ih, w_hh, b_ih, b_hh = self._layer_params(layer, d)
                k = layer * ndir + d
                h = tuple(s[k] for s in states) if nstate == 2 else states[0][k]
                gi_all = F.linear(layer_in, w_ih, b_ih)
                steps = [None] * seq_len
                order = range(seq_len - 1, -1, -1) if d == 1 else range(seq_len)
                for t in order:
                    hn = _step(self.mode, gi_all[t], h, w_hh, b_hh)
                    h = hn if lengths is None else _hold(hn, h, lengths, t)
                    steps[t] = h[0] if nstate == 2 else h
                outs.append(_stack(steps, 0))
                for j in range(nstate):
                    finals[j].append(h[j] if nstate == 2 else h)
            layer_in = outs[0] if ndir == 1 else _cat(outs, -1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        out = layer_in
        if batched and self.batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(1)
        res = [_stack(f, 0) for f in finals]
        if not batched:
            res = [r.squeeze(1) for r in res]
        return out, res

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu.

    forward(input, h_0=None) -> (output, h_n)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Device = None,
                 dtype: DType = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             f"'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None):
        out, (h,) = self._run(input, hx)
        return out, h

class LSTM(RNNBase):
    """Long short-term memory, gates (i, f, g, o) stacked in that order.

    forward(input, (h_0, c_0)=None) -> (output, (h_n, c_n))."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Device = None,
                 dtype: DType = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)

    def forward(self, input: Tensor, hx: tuple | None = None):
        out, (h, c) = self._run(input, hx)
        return out, (h, c)


class GRU(RNNBase):
    """Gated recurrent unit, gates (r, z, n); n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
    h' = (1 - z) * n + z * h.  forward(input, h_0=None) -> (output, h_n)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Device = None, dtype: DType = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None):
        out, (h,) = self._run(input, hx)
        return out, h


class RNNCellBase(Module):
    """Shared parameters and input checks of RNNCell, LSTMCell and GRUCell."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool = True,
                 device: Device = None, dtype: DType = None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        g = _GATES[mode] * hidden_size
        mk = lambda *s: Parameter(_factory(creation.empty, s, device, dtype))  # noqa: E731
        self.weight_ih = mk(g, input_size)
        self.weight_hh = mk(g, hidden_size)
        if bias:
            self.bias_ih = mk(g)
            self.bias_hh = mk(g)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter again from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def _cell(self, input: Tensor, hx):
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D "
                             f"instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input has inconsistent input_size: got "
                               f"{input.shape[-1]} expected {self.input_size}")
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        nstate = 2 if self.mode == "LSTM" else 1
        expected = (x.shape[0], self.hidden_size)
        if hx is None:
            states = [_zeros(expected, x) for _ in range(nstate)]
        else:
            states = list(hx) if nstate == 2 else [hx]
            for k, s in enumerate(states):
                if s.dim() != input.dim():
                    raise ValueError(f"{name}: Expected hidden to be "
                                     f"{input.dim()}D, got {s.dim()}D instead")
                states[k] = s if batched else s.unsqueeze(0)
                _check_state(name, states[k], expected, "hidden" if k == 0 else "cell")
        gi = F.linear(x, self.weight_ih, self.bias_ih)
        h = _step(self.mode, gi, tuple(states) if nstate == 2 else states[0],
                  self.weight_hh, self.bias_hh)
        hs = list(h) if nstate == 2 else [h]
        if not batched:
            hs = [s.squeeze(0) for s in hs]
        return tuple(hs) if nstate == 2 else hs[0]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """One Elman step: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh); forward(input, hx=None)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Device = None, dtype: DType = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._cell(input, hx)


class LSTMCell(RNNCellBase):
    """One LSTM step; forward(input, (h, c)=None) -> (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Device = None,
                 dtype: DType = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple:
        return self._cell(input, hx)


class GRUCell(RNNCellBase):
    """One GRU step; forward(input, hx=None) -> h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Device = None,
                 dtype: DType = None) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._cell(input, hx)
