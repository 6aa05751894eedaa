"""MultiheadAttention (PyTorch's parameters in_proj_weight, in_proj_bias, out_proj, and
forward) and TransformerEncoderLayer, built on tapegrad.nn._attention."""

import math
from collections.abc import Callable

from ... import creation
from ..._hints import Device, DType
from ...tensor import Tensor
from .. import _attention
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm
from .module_state import _factory


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear (the class of MultiheadAttention.out_proj, named as in PyTorch)."""


class MultiheadAttention(Module):
    """Attention over num_heads heads of size embed_dim // num_heads, as
    torch.nn.MultiheadAttention: q, k, v = in_proj(query, key, value), per-head
    softmax(q k^T / sqrt(d) + masks) v, then out_proj.

    Parameters in_proj_weight (3E, E) (xavier_uniform_), in_proj_bias (3E,) (zeros) and
    out_proj (a Linear; bias zeros). Differences from PyTorch: kdim/vdim other than
    embed_dim, add_bias_kv and add_zero_attn are not supported (NotImplementedError);
    there is no separate fast path in eval mode (same numbers up to rounding)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 device: Device = None, dtype: DType = None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise AssertionError("embed_dim must be divisible by num_heads")
        kdim = embed_dim if kdim is None else kdim
        vdim = embed_dim if vdim is None else vdim
        if kdim != embed_dim or vdim != embed_dim:
            raise NotImplementedError("MultiheadAttention: kdim/vdim different from embed_dim "
                                      "are not supported by tapegrad yet")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are "
                                      "not supported by tapegrad yet")
        self.embed_dim, self.kdim, self.vdim = embed_dim, kdim, vdim
        self._qkv_same_embed_dim = True
        self.num_heads, self.dropout, self.batch_first = num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = Parameter(_factory(creation.empty, (3 * embed_dim, embed_dim),
                                                 device, dtype))
        self.register_parameter("q_proj_weight", None)
        self.register_parameter("k_proj_weight", None)
        self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(_factory(creation.empty, (3 * embed_dim,), device,
                                                   dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias,
                                                        device=device, dtype=dtype)
        self.bias_k = self.bias_v = None
        self.add_zero_attn = False
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False):
        """(attn_output, attn_weights or None). Inputs (L, N, E) ((N, L, E) when
        batch_first) or unbatched (L, E). key_padding_mask (N, S) and attn_mask (L, S) or
        (N*num_heads, L, S): bool (True = may not attend) or float (added). Weights are
        (N, L, S) averaged over heads, or (N, num_heads, L, S); is_causal is a hint that
        needs attn_mask."""
        op = "MultiheadAttention"
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use "
                               "the Transformer module method `generate_square_subsequent_mask`"
                               " to create this mask.")
        unbatched = query.ndim == 2
        self_attn = query is key and key is value
        if unbatched:
            query, key, value = (t.unsqueeze(0) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:
            query = query.transpose(0, 1)
            key = query if self_attn else key.transpose(0, 1)
            value = query if self_attn else value.transpose(0, 1)
        if query.ndim != 3 or query._shape[-1] != self.embed_dim:
            raise AssertionError(f"{op}: was expecting embedding dimension of "
                                 f"{self.embed_dim}, but got query of size "
                                 f"{list(query._shape)}")
        N, L, E = query._shape
        S = key._shape[1]
        if key._shape != value._shape or key._shape[0] != N:
            raise AssertionError(f"{op}: key shape {list(key._shape)} does not match value "
                                 f"shape {list(value._shape)} / query batch {N}")
        H, d = self.num_heads, self.head_dim
        W, b = self.in_proj_weight, self.in_proj_bias
        if self_attn:  # one projection, split by a reshape + permute
            qkv = F.linear(query, W, b).reshape(N, L, 3, H, d).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
        else:
            bs = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
            q = _attention._heads(F.linear(query, W[:E], bs[0]), N, L, H)
            k = _attention._heads(F.linear(key, W[E:2 * E], bs[1]), N, S, H)
            v = _attention._heads(F.linear(value, W[2 * E:], bs[2]), N, S, H)
        mask = _attention._mha_mask(attn_mask, key_padding_mask, N, H, L, S, query._dtype, op)
        p = self.dropout if self.training else 0.0
        o, w = _attention._attend(q, k, v, mask, p, 1.0 / math.sqrt(d), not need_weights)
        out = self.out_proj(o.transpose(1, 2).reshape(N, L, E))
        if unbatched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            w = w.mean(1)
        return out, (w.squeeze(0) if unbatched else w)


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with a residual connection and a
    LayerNorm, as torch.nn.TransformerEncoderLayer: children self_attn, linear1, dropout,
    linear2, norm1, norm2, dropout1, dropout2 (PyTorch's names and initialisation).
    activation 'relu', 'gelu' or a callable; norm_first applies the norms before each block.
    Differences from PyTorch: no eval-mode fast path (same numbers up to rounding)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable[[Tensor], Tensor] = "relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Device = None,
                 dtype: DType = None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            if activation not in ("relu", "gelu"):
                raise RuntimeError(f"activation should be relu/gelu, not {activation}")
            activation = F.relu if activation == "relu" else F.gelu
        self.activation_relu_or_gelu = 1 if activation is F.relu else \
            2 if activation is F.gelu else 0
        self.activation = activation

    def _sa_block(self, x: Tensor, mask, key_padding_mask, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        """The layer on src ((S, N, E), (N, S, E) when batch_first, or (S, E)); src_mask
        (S, S) or (N*nhead, S, S) and src_key_padding_mask (N, S) as in
        MultiheadAttention (bool True = may not attend, or float added)."""
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))
