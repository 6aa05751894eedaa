"""OpSpec, the row type of the op table, and the decorators that declare ops.

An op is declared once, in its family file: its row (opcode, name, PyTorch's grad_fn
class name, what its backward saves, the input domain its tests sample) and, for the
elementwise families, its scalar forward and VJP kernels right below. The codegen
(tapegrad/tape/codegen.py) turns the rows and kernels into the compiled dispatch; the
public functions, the Tensor methods and the gradient tests are driven from the rows.
"""

from dataclasses import dataclass

from ..tape.records import (R_IN0, R_IN1, R_IN2, R_SAVES, R_SAVES_IN0, R_SAVES_IN1, R_SAVES_IN2,
                            R_SAVES_OUT)

# ---- families: one compiled loop body shape each ----------------------------------
LEAF = 0      # a leaf or constant loaded into the tape; no compute
UNARY = 1     # y = f(x, c), elementwise; c a float parameter (scalar operand, exponent)
BINARY = 2    # y = f(a, b, c), elementwise with broadcasting; c = alpha
REDUCE = 3    # sum/mean over dims
MATMUL = 4    # mm, mv, dot, vector @ matrix
STRIDED = 5   # permute, transpose, slices, select, expand, flip, repeat: strided gather
COPY = 6      # reshape/view/clone: same elements, new shape
CAST = 7      # float32 <-> float64
JOIN = 8      # cat/stack of two tensors along a dim (n tensors: n - 1 records)
INDEX = 9     # by an index tensor (in1): gathers (x[idx], gather, ...) and index_put
TERNARY = 10  # y = f(a, b, m), elementwise; each input full size or one element
PYTHON = 11   # backward runs in Python: the reverse sweep pauses at the record and resumes
FAMILY_NAMES = ("leaf", "unary", "binary", "reduce", "matmul", "strided", "copy", "cast",
                "join", "index", "ternary", "python")

# what backward reads (PyTorch's saved tensors); R_SAVES alone = a saved python scalar
NOTHING = 0
SCALAR = R_SAVES
IN0 = R_SAVES | R_SAVES_IN0
IN1 = R_SAVES | R_SAVES_IN1
IN2 = R_SAVES | R_SAVES_IN2
OUT = R_SAVES | R_SAVES_OUT

# the record fields a grad_fn lists as next_functions, by family (PyTorch's order)
EDGES = {INDEX: (R_IN0, R_IN2), TERNARY: (R_IN0, R_IN1, R_IN2), PYTHON: (R_IN0, R_IN1, R_IN2)}


@dataclass
class OpSpec:
    opcode: int            # frozen: never renumber, never reuse
    name: str              # PyTorch's function name
    grad_fn: str           # PyTorch's grad_fn class name (data: it cannot be derived)
    family: int
    saves: int = NOTHING   # R_SAVES* bits
    fwd: object = None     # scalar forward kernel (elementwise families)
    np_fwd: object = None  # the forward on NumPy arrays, for values that need no grad
                           # (UNARY, BINARY: fwd itself unless `@op.numpy` gives one)
    vjp: tuple = ()        # scalar VJP kernels, one per differentiable input
    domain: tuple = (-2.0, 2.0)   # where tests sample inputs (the op is smooth there)
    const: object = None   # float parameter the gradient tests use (UNARY/BINARY), or None
    examples: tuple = ()   # (expression, input shapes...): how tests call it (x, y, c, torch)
    tol: float = 1e-6      # gradient-check tolerance (float64, central differences)
    doc: str = ""
    special: tuple = ()    # values of c the generated loops are specialized for (a kernel
                           # that branches on c then vectorizes: pow's c == 2 is x * x)
    edges: tuple = None    # record fields listed by next_functions (default: by family)
    grad: object = None    # the derivative once more in public tapegrad ops, for
                           # create_graph=True: fn(ctx) -> one gradient (or None) per input
                           # (tapegrad/autograd/higher.py describes ctx)

    def __post_init__(self):
        if not self.examples:
            self.examples = _default_examples(self)
        if self.edges is None:
            self.edges = EDGES.get(self.family, (R_IN0, R_IN1))

    def __repr__(self):
        return f"<op {self.opcode} {self.name} ({FAMILY_NAMES[self.family]})>"


def _default_examples(spec):
    """Unary ops: a scalar, a vector, a matrix; binary ops: broadcasting shape pairs."""
    if spec.family == UNARY:
        call = f"torch.{spec.name}(x)"
        return ((call, ()), (call, (3,)), (call, (2, 3)))
    if spec.family == BINARY:
        call = f"torch.{spec.name}(x, y)"
        return ((call, (3,), (3,)), (call, (2, 3), (3,)), (call, (2, 1), (1, 3)),
                (call, (), (2, 2)), (call, (4, 1, 3), (2, 1)), (call, (2, 3), ()))
    return ()


REGISTRY = []  # filled in declaration order; tapegrad.ops checks it


def declare(opcode, name, grad_fn, family, **kw):
    spec = OpSpec(opcode, name, grad_fn, family, **kw)
    if name in PENDING_GRADS:
        spec.grad = PENDING_GRADS.pop(name)
    REGISTRY.append(spec)
    return spec


def grad_of(*names):
    """Decorator: `fn(ctx)` is the differentiable formula (create_graph=True) of the rows
    declared with `declare` under these names (before or after it, in the same module)."""

    def register(fn):
        for name in names:
            specs = [s for s in REGISTRY if s.name == name]
            if specs:
                specs[0].grad = fn
            else:
                PENDING_GRADS[name] = fn  # declared further down
        return fn

    return register


PENDING_GRADS = {}  # name -> formula of a row not declared yet (tapegrad.ops checks it)


class _Elementwise:
    """Decorator: `@unary(...)` on the forward kernel, then `@op.vjp` on each VJP kernel."""

    family = None

    def __init__(self, opcode, name, grad_fn, saves=NOTHING, domain=(-2.0, 2.0), const=None,
                 examples=(), doc="", edges=None, special=()):
        self.kw = dict(saves=saves, domain=domain, const=const, examples=examples, doc=doc,
                       edges=edges, special=special)
        self.head = (opcode, name, grad_fn)
        self.spec = None

    def __call__(self, fwd):
        np_fwd = fwd if self.family in (UNARY, BINARY) else None
        self.spec = declare(*self.head, self.family, fwd=fwd, np_fwd=np_fwd, **self.kw)
        return self

    def vjp(self, fn):
        self.spec.vjp = self.spec.vjp + (fn,)
        return self

    def grad(self, fn):
        """The differentiable formula `fn(ctx)` of the VJP above (create_graph=True)."""
        self.spec.grad = fn
        return self

    def numpy(self, fn):
        """The forward on NumPy arrays, where the scalar kernel branches (tests check it
        against the compiled kernel)."""
        self.spec.np_fwd = fn
        return self


class unary(_Elementwise):
    """y = f(x, c); VJP kernel signature (x, y, g, c) -> dx. A kernel may take a second
    float parameter c2 (f(x, c, c2), VJP (x, y, g, c, c2)): the record keeps it in `aux`."""

    family = UNARY


class binary(_Elementwise):
    """y = f(a, b, c); VJP kernels (a, b, y, g, c) -> da, then -> db."""

    family = BINARY


class ternary(_Elementwise):
    """y = f(a, b, m, c) over three inputs of one shape (a single element broadcasts);
    VJP kernels (a, b, m, y, g, c) -> da, -> db, -> dm. `c` is the record's const."""

    family = TERNARY
