"""Parameters as one flat vector and back."""

from collections.abc import Iterable

from ... import movement
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor, _from_array


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """The parameters flattened and concatenated into one 1-D tensor (differentiable:
    a backward through it reaches the parameters)."""
    if isinstance(parameters, Tensor):
        raise TypeError("parameters_to_vector: expected an iterable of Tensors, but got a "
                        f"Tensor of shape {list(parameters.shape)}")
    vec = [p.reshape(-1) for p in parameters]
    if not vec:
        raise RuntimeError("parameters_to_vector: expected a non-empty list of Tensors")
    return movement.cat(vec)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D tensor vec into the parameters, in place and
    untracked. (PyTorch makes the parameters views of vec; tapegrad copies, so the
    parameters keep their own storage, which optimizers built before still hold.)"""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    need = sum(p.numel() for p in parameters)
    if vec.dim() != 1 or vec.numel() < need:
        raise RuntimeError(f"vector_to_parameters: vec of shape {list(vec.shape)} cannot fill "
                           f"parameters of {need} elements in total")
    flat = vec.detach()._value()
    pointer = 0
    with no_grad():
        for p in parameters:
            n = p.numel()
            chunk = flat[pointer:pointer + n].reshape(p.shape)
            p.copy_(_from_array(chunk, vec._dtype, False))
            pointer += n

