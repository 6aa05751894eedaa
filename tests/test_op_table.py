"""The op table is consistent and the generated dispatch is fresh."""

from tapegrad.ops import BY_CODE, OPS
from tapegrad.ops.spec import BINARY, LEAF, PYTHON, TERNARY, UNARY
from tapegrad.tape import codegen


def test_dispatch_sweep_stamp_and_readme_op_list_are_fresh():
    text, sweep, readme = codegen.expected()
    assert codegen.DISPATCH.read_text() == text, "run: python -m tapegrad.tape.codegen"
    assert codegen.SWEEP.read_text() == sweep, "run: python -m tapegrad.tape.codegen"
    assert codegen.README.read_text() == readme, "run: python -m tapegrad.tape.codegen"
    for path, stamped in codegen.callers(text).items():
        assert path.read_text() == stamped, f"{path.name}: run python -m tapegrad.tape.codegen"
        assert "DISPATCH_STAMP" in stamped
    assert "<!-- ops:start -->" in readme and "`exp` (ExpBackward0)" in readme


def test_opcodes_and_names_are_unique_and_frozen():
    assert len({s.opcode for s in OPS}) == len(OPS)
    assert len({s.name for s in OPS}) == len(OPS)
    # a few frozen numbers: saved tapes rely on them never changing
    assert (BY_CODE[0].name, BY_CODE[2].name, BY_CODE[20].name, BY_CODE[40].name) == \
        ("leaf", "exp", "add", "mm")


def test_elementwise_rows_have_their_kernels():
    for s in OPS:
        if s.family == UNARY:
            assert s.fwd is not None and len(s.vjp) == 1, s.name
        elif s.family == BINARY:
            assert s.fwd is not None and len(s.vjp) == 2, s.name
        elif s.family == TERNARY:
            assert s.fwd is not None and len(s.vjp) == 3, s.name
        else:
            assert s.fwd is None and s.vjp == (), s.name


def test_every_differentiable_row_has_examples():
    for s in OPS:
        assert s.family in (LEAF, PYTHON) or s.examples, f"{s.name} has no test example"
