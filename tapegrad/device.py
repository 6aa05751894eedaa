"""Device habits of PyTorch programs on a CPU-only library.

Tutorials open with `device = "cuda" if torch.cuda.is_available() else "cpu"` (or the
`torch.accelerator` form) and move models and tensors with `.to(device)`. tapegrad runs on
the CPU only: the probes answer False, `device("cpu")` works, and asking for another
device raises a RuntimeError that says so, instead of silently computing elsewhere.
"""

import types


class device:
    """torch.device: `device("cpu")`, `device("cpu", 0)`, `device(type="cpu")`."""

    __slots__ = ("type", "index")

    def __init__(self, type: "str | device" = "cpu", index: int | None = None):
        if isinstance(type, device):
            type, index = type.type, type.index
        kind, _, num = str(type).partition(":")
        if num:
            index = int(num)
        if kind not in ("cpu", "cuda", "mps", "meta", "xpu"):
            raise RuntimeError(f"Expected one of cpu, cuda, mps, meta, xpu device type at start "
                               f"of device string: {type}")
        self.type, self.index = kind, index

    def __repr__(self) -> str:
        return f"device(type='{self.type}'" + ("" if self.index is None else
                                               f", index={self.index}") + ")"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type,
                                                                         other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


def check_device(dev, op: str = "to") -> None:
    """Accept None or the CPU; any other device raises (tapegrad has no GPU backend)."""
    if dev is None:
        return
    kind = dev.type if isinstance(dev, device) else str(dev).partition(":")[0]
    if kind != "cpu":
        raise RuntimeError(f"{op}: tapegrad runs on the CPU only; device {str(dev)!r} is not "
                           f"available (torch.cuda.is_available() is False here)")


def _false(*args, **kwargs) -> bool:
    return False


def _no_device(*args, **kwargs):
    raise RuntimeError("tapegrad runs on the CPU only: there is no CUDA device")


cuda = types.ModuleType("tapegrad.cuda", "CUDA probes: tapegrad has no GPU backend.")
cuda.is_available = _false
cuda.device_count = lambda: 0
cuda.is_initialized = _false
cuda.manual_seed = cuda.manual_seed_all = lambda seed: None
cuda.synchronize = lambda device=None: None
cuda.empty_cache = lambda: None
cuda.current_device = cuda.get_device_name = _no_device

mps = types.ModuleType("tapegrad.backends.mps", "Apple MPS probes: not available.")
mps.is_available = mps.is_built = _false
backends = types.ModuleType("tapegrad.backends", "Backend probes (CPU only).")
backends.mps = mps
backends.cudnn = types.SimpleNamespace(deterministic=False, benchmark=False, enabled=False,
                                       is_available=_false)

accelerator = types.ModuleType("tapegrad.accelerator", "Accelerator probes: none here.")
accelerator.is_available = _false
accelerator.current_accelerator = lambda check_available=False: None
accelerator.device_count = lambda: 0
