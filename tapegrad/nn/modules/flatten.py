"""Flatten and Unflatten: reshape a range of dims into one, or one dim into several."""

from ...tensor import Tensor
from .module import Module


class Flatten(Module):
    """Merge dims start_dim..end_dim into one (default: all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


def _check_sizes(sizes) -> None:
    if isinstance(sizes, (list, tuple)):
        for i, s in enumerate(sizes):
            if not isinstance(s, int) or isinstance(s, bool):
                raise TypeError("unflattened_size must be tuple of ints, but found element of "
                                f"type {type(s).__name__} at pos {i}")
        return
    raise TypeError("unflattened_size must be a tuple of ints, but found type "
                    f"{type(sizes).__name__}")


class Unflatten(Module):
    """Split dim `dim` into the shape unflattened_size (one entry may be -1)."""

    def __init__(self, dim: int, unflattened_size: tuple[int, ...] | list[int]) -> None:
        super().__init__()
        _check_sizes(unflattened_size)
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        shape = tuple(input.shape)
        nd = len(shape)
        if not -nd <= self.dim < nd:
            raise IndexError(f"unflatten(): Dimension out of range (expected to be in range of "
                             f"[{-nd}, {nd - 1}], but got {self.dim})")
        d = self.dim % nd
        sizes = list(self.unflattened_size)
        known = 1
        for s in sizes:
            known *= s if s != -1 else 1
        if sizes.count(-1) > 1 or (-1 not in sizes and known != shape[d]) or \
                (-1 in sizes and (known == 0 or shape[d] % known)):
            raise RuntimeError(f"unflatten: Provided sizes {sizes} don't multiply up to the "
                               f"size of dim {self.dim} ({shape[d]}) in the input tensor")
        if -1 in sizes:
            sizes[sizes.index(-1)] = shape[d] // known
        return input.reshape(shape[:d] + tuple(sizes) + shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
