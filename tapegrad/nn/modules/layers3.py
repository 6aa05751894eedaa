"""More layers (torch.nn's names, arguments, defaults, initialisation and repr): Conv3d,
LazyLinear (with UninitializedParameter), EmbeddingBag, TransformerDecoderLayer,
TransformerDecoder, Transformer and CTCLoss. Each calls tapegrad/nn/_layers3.py's
functions or the existing layers."""

import copy
from collections.abc import Callable

import numpy as np

from ... import creation, dtypes
from ..._hints import Device, DType
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor, _Version
from .. import _layers3
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .attention import MultiheadAttention, TransformerEncoderLayer
from .container import ModuleList
from .conv import _ConvNd
from .dropout import Dropout
from .layers2 import TransformerEncoder
from .linear import Linear
from .loss import _Loss
from .module import Module
from .module_state import _factory
from .normalization import LayerNorm
from .sparse import Embedding


# ---- Conv3d -------------------------------------------------------------------------------
class Conv3d(_ConvNd):
    """3-D convolution over (N, C, D, H, W) or (C, D, H, W); weight (out, in/groups, kD,
    kH, kW). padding: int, triple, 'valid' or 'same'; padding_mode 'zeros', 'reflect',
    'replicate' or 'circular'. Initialised as PyTorch (kaiming_uniform_(a=sqrt(5)), bias
    U(+-1/sqrt(fan_in)))."""

    _nsp = 3

    def _conv_forward(self, input: Tensor, weight: Tensor, bias) -> Tensor:
        if self.padding_mode != "zeros":
            x = F.pad(input, list(self._reversed_padding_repeated_twice),
                      mode=self.padding_mode)
            return _layers3.conv3d(x, weight, bias, self.stride, 0, self.dilation, self.groups)
        return _layers3.conv3d(input, weight, bias, self.stride, self.padding, self.dilation,
                               self.groups)


# ---- LazyLinear ---------------------------------------------------------------------------
_UNINIT = ("Can't access the shape of an uninitialized parameter or buffer. This error usually "
           "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
           "initialized one. Call `forward` to initialize the parameters before accessing their "
           "attributes.")


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (a lazy module's, until its first forward).
    It holds no values: reading its shape raises RuntimeError; `materialize(shape)` turns
    it, in place (the same object, so an optimizer made before keeps it), into an ordinary
    Parameter of that shape (uninitialised values)."""

    __slots__ = ()
    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device: Device = None,
                dtype: DType = None) -> "UninitializedParameter":
        t = Parameter(_factory(creation.empty, (0,), device, dtype), requires_grad)
        t.__class__ = cls
        return t

    def materialize(self, shape: tuple[int, ...], device: Device = None,
                    dtype: DType = None) -> None:
        """Become a Parameter of `shape` (and dtype, default its own), values uninitialised."""
        dt = self._dtype if dtype is None else dtype
        fresh = _factory(creation.empty, tuple(shape), device, dt)
        self._arr, self._shape, self._dtype = fresh._arr, fresh._arr.shape, fresh._dtype
        self._tape, self._slot, self._gfn, self._grad = None, -1, None, None
        self._vc, self._ltape, self._ghome = _Version(), None, None
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        """Refuses: the shape is not known before materialize()."""
        raise RuntimeError(_UNINIT)

    def size(self, dim: int | None = None):
        """Refuses: the shape is not known before materialize()."""
        raise RuntimeError(_UNINIT)

    def __repr__(self) -> str:
        return "<UninitializedParameter>"

    def __deepcopy__(self, memo: dict) -> "UninitializedParameter":
        if id(self) not in memo:
            memo[id(self)] = UninitializedParameter(self._rg, dtype=self._dtype)
        return memo[id(self)]


class LazyLinear(Linear):
    """A Linear whose in_features is inferred from the first input (its last dim): weight
    and bias are UninitializedParameters until then; the first call materializes them,
    initialises them as Linear does, and the module becomes a Linear (its class changes,
    as in PyTorch). load_state_dict materializes them from the state dict's shapes."""

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device: Device = None,
                 dtype: DType = None) -> None:
        Module.__init__(self)
        self.in_features = 0
        self.out_features = out_features
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)

    def has_uninitialized_params(self) -> bool:
        """Whether a parameter still waits for its shape."""
        return any(isinstance(p, UninitializedParameter) for p in self._parameters.values())

    def reset_parameters(self) -> None:
        """Linear's initialisation once the shapes are known (nothing before)."""
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor) -> None:
        """Materialize weight (out_features, input.shape[-1]) and bias, then initialise
        (after load_state_dict: only check that input fits the loaded weight)."""
        if self.has_uninitialized_params():
            with no_grad():
                self.in_features = input.shape[-1]
                self.weight.materialize((self.out_features, self.in_features))
                if self.bias is not None:
                    self.bias.materialize((self.out_features,))
                self.reset_parameters()
        if self.in_features == 0:  # materialized by load_state_dict
            if input.shape[-1] != self.weight.shape[-1]:
                raise AssertionError(f"The in_features inferred from input: {input.shape[-1]} "
                                     f"is not equal to in_features from self.weight: "
                                     f"{self.weight.shape[-1]}")
            self.in_features = input.shape[-1]

    def forward(self, input: Tensor) -> Tensor:
        """Infer in_features, become a Linear, and apply it."""
        self.initialize_parameters(input)
        self.__class__ = self.cls_to_become
        return self.forward(input)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        for name, p in self._parameters.items():
            src = state_dict.get(prefix + name)
            if isinstance(p, UninitializedParameter) and isinstance(src, Tensor):
                p.materialize(src._shape)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)


# ---- EmbeddingBag -------------------------------------------------------------------------
class EmbeddingBag(Module):
    """Sums, means or maxes of bags of embeddings (F.embedding_bag) over a
    (num_embeddings, embedding_dim) table initialised N(0, 1), the padding_idx row zeroed
    (it is left out of every bag). forward(input, offsets=None, per_sample_weights=None):
    a 2-D input is one bag per row, a 1-D input needs offsets."""

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                 sparse: bool = False, _weight: Tensor | None = None,
                 include_last_offset: bool = False, padding_idx: int | None = None,
                 device: Device = None, dtype: DType = None) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, \
            scale_grad_by_freq
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise AssertionError("padding_idx must be within num_embeddings")
            if padding_idx < 0:
                padding_idx += num_embeddings
        self.padding_idx = padding_idx
        if _weight is None:
            self.weight = Parameter(_factory(creation.empty, (num_embeddings, embedding_dim),
                                             device, dtype))
            self.reset_parameters()
        else:
            if list(_weight.shape) != [num_embeddings, embedding_dim]:
                raise AssertionError("Shape of weight does not match num_embeddings and "
                                     "embedding_dim")
            self.weight = Parameter(_weight)
        self.mode, self.sparse, self.include_last_offset = mode, sparse, include_last_offset

    def reset_parameters(self) -> None:
        """weight from N(0, 1), the padding row zeroed."""
        init.normal_(self.weight)
        Embedding._fill_padding_idx_with_zero(self)

    def forward(self, input: Tensor, offsets: Tensor | None = None,
                per_sample_weights: Tensor | None = None) -> Tensor:
        """(bags, embedding_dim): see F.embedding_bag."""
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                               self.scale_grad_by_freq, self.mode, self.sparse,
                               per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm!r}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type!r}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq!r}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx!r}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, mode: str = "mean",
                        sparse: bool = False, include_last_offset: bool = False,
                        padding_idx: int | None = None) -> "EmbeddingBag":
        """An EmbeddingBag whose weight is `embeddings` (2-D; shared storage); freeze=True
        keeps it out of training."""
        if embeddings.dim() != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        bag = cls(rows, cols, max_norm, norm_type, scale_grad_by_freq, mode, sparse,
                  _weight=embeddings, include_last_offset=include_last_offset,
                  padding_idx=padding_idx)
        bag.weight.requires_grad = not freeze
        return bag


# ---- Transformer --------------------------------------------------------------------------
def _activation(activation) -> Callable[[Tensor], Tensor]:
    if isinstance(activation, str):
        if activation not in ("relu", "gelu"):
            raise RuntimeError(f"activation should be relu/gelu, not {activation}")
        return F.relu if activation == "relu" else F.gelu
    return activation


class TransformerDecoderLayer(Module):
    """Self-attention, attention over the encoder's output (memory), then a feed-forward
    block, each with a residual connection and a LayerNorm, as
    torch.nn.TransformerDecoderLayer: children self_attn, multihead_attn, linear1, dropout,
    linear2, norm1, norm2, norm3, dropout1, dropout2, dropout3 (PyTorch's names and
    initialisation). norm_first applies the norms before each block."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable[[Tensor], Tensor] = "relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Device = None,
                 dtype: DType = None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        kw_mha = dict(dropout=dropout, batch_first=batch_first, bias=bias, **kw)
        self.self_attn = MultiheadAttention(d_model, nhead, **kw_mha)
        self.multihead_attn = MultiheadAttention(d_model, nhead, **kw_mha)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        for i in (1, 2, 3):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        for i in (1, 2, 3):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        """The layer on tgt ((T, N, E), (N, T, E) when batch_first, or (T, E)) and memory
        (the encoder's output, (S, ...)); masks as in MultiheadAttention (tgt_mask (T, T),
        memory_mask (T, S); bool True = may not attend, or float added). The is_causal
        flags are hints that need the mask."""
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                           memory_is_causal))
        return self.norm3(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, mask, key_padding_mask, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x: Tensor, mem: Tensor, mask, key_padding_mask,
                   is_causal: bool) -> Tensor:
        x = self.multihead_attn(x, mem, mem, attn_mask=mask, key_padding_mask=key_padding_mask,
                                is_causal=is_causal, need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


def _causal(sz: int, dt=None) -> Tensor:
    """(sz, sz) float mask: 0 on and below the diagonal, -inf above."""
    dt = dtypes.get_default_dtype() if dt is None else dt
    return creation.tensor(np.triu(np.full((sz, sz), -np.inf), 1), dtype=dt)


def _is_causal(mask, is_causal, size: int) -> bool:
    """PyTorch's hint detection: True if asked, or (when not said) if mask is the causal
    mask (-inf, or True, above the diagonal). A hint only: tapegrad applies the mask."""
    if is_causal is not None or mask is None:
        return is_causal is True
    if tuple(mask._shape) != (size, size):
        return False
    want = np.triu(np.full((size, size), -np.inf), 1).astype(mask._dtype.np)
    return bool((mask._value() == want).all())


class TransformerDecoder(Module):
    """num_layers deep copies of decoder_layer (in `layers`, a ModuleList: all start with
    the same parameters, as in PyTorch), applied in turn to (tgt, memory), then `norm` if
    given."""

    def __init__(self, decoder_layer: Module, num_layers: int,
                 norm: Module | None = None) -> None:
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        """tgt through every layer with the same memory and masks, then norm. tgt_is_causal
        None: detected (True when tgt_mask is the float causal mask)."""
        first = self.layers[0] if len(self.layers) else None
        bf = getattr(getattr(first, "self_attn", None), "batch_first", False)
        T = tgt._shape[1 if bf and tgt.ndim == 3 else 0]
        causal = _is_causal(tgt_mask, tgt_is_causal, T)
        out = tgt
        for mod in self.layers:
            out = mod(out, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=causal,
                      memory_is_causal=memory_is_causal)
        return self.norm(out) if self.norm is not None else out


class Transformer(Module):
    """An encoder (TransformerEncoder of num_encoder_layers TransformerEncoderLayers, then a
    LayerNorm) and a decoder (TransformerDecoder of num_decoder_layers
    TransformerDecoderLayers, then a LayerNorm), as torch.nn.Transformer: the same children,
    state_dict keys and initialisation (xavier_uniform_ on every parameter of 2 or more
    dims). custom_encoder / custom_decoder replace them. forward(src, tgt, ...) returns the
    decoder's output for tgt given the encoder's output for src."""

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = "relu",
                 custom_encoder: Module | None = None, custom_decoder: Module | None = None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Device = None,
                 dtype: DType = None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*args, **kw), num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*args, **kw), num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.dim() > 1:
                init.xavier_uniform_(p)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None,
                tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        """src (S, N, E) and tgt (T, N, E) ((N, ., E) when batch_first, or unbatched) ->
        (T, N, E). Masks: src_mask (S, S), tgt_mask (T, T), memory_mask (T, S), the key
        padding masks (N, S) / (N, T); bool True = may not attend, or float added."""
        batched = src.ndim == 3
        b = 0 if self.batch_first else 1
        if batched and src.size(b) != tgt.size(b):
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.size(-1) != self.d_model or tgt.size(-1) != self.d_model:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Device = None,
                                        dtype: DType = None) -> Tensor:
        """The (sz, sz) causal mask: float -inf above the diagonal, 0.0 elsewhere."""
        _factory(creation.empty, (0,), device, dtype)  # checks the device
        return _causal(sz, dtype)


# ---- CTCLoss ------------------------------------------------------------------------------
class CTCLoss(_Loss):
    """The connectionist temporal classification loss (F.ctc_loss): forward(log_probs,
    targets, input_lengths, target_lengths), log_probs (T, N, C) log_softmax outputs."""

    def __init__(self, blank: int = 0, reduction: str = "mean",
                 zero_infinity: bool = False) -> None:
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs: Tensor, targets: Tensor,
                input_lengths: Tensor | tuple[int, ...],
                target_lengths: Tensor | tuple[int, ...]) -> Tensor:
        """The loss, reduced as self.reduction says."""
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                          self.reduction, self.zero_infinity)
