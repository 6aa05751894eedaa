"""Run every script in examples/ and compare what it prints with what PyTorch prints.

Each expected output below is what the same program prints with `import torch`
(PyTorch 2.x); the scripts differ from the tutorials only in that import line.
This test never imports torch. Object addresses in grad_fn reprs differ between
runs: the expected text labels them in order of first appearance (@1, @2, ...),
and the printout is compared with addresses masked; a separate test checks that
two prints of the same object show the same address, as in PyTorch.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

EXPECTED = {
    "quickstart.py": """\
tensor([11.], grad_fn=<AddBackward0>)
tensor([7.])
""",
    "retain_graph.py": """\
tensor([6.])
tensor([12.])
RuntimeError: Trying to backward through the graph a second time
""",
    "accumulation.py": """\
tensor([5.])
tensor([10.])
tensor([15.])
tensor([5.])
tensor([5.])
tensor([5.])
tensor([0.]) tensor([12.])
""",
    "leaf_and_grad_fn.py": """\
is_leaf:
 True True False False False
gradient:
 tensor([5.]) tensor([2.]) tensor([2.])
grad_fn:
 None None <AddBackward0 object at @1> <AddBackward0 object at @2> <MulBackward0 object at @3>
MulBackward0 ((<AddBackward0 object at @1>, 0), (<AddBackward0 object at @2>, 0))
""",
    "detach_no_grad.py": """\
True
False
False
True
True
False
False True None
tensor([1., 2., 3.])
""",
    "jacobian_product.py": """\
First call
 tensor([[4., 2., 2., 2., 2.],
        [2., 4., 2., 2., 2.],
        [2., 2., 4., 2., 2.],
        [2., 2., 2., 4., 2.],
        [2., 2., 2., 2., 4.]])

Second call
 tensor([[8., 4., 4., 4., 4.],
        [4., 8., 4., 4., 4.],
        [4., 4., 8., 4., 4.],
        [4., 4., 4., 8., 4.],
        [4., 4., 4., 4., 8.]])

Call after zeroing gradients
 tensor([[4., 2., 2., 2., 2.],
        [2., 4., 2., 2., 2.],
        [2., 2., 4., 2., 2.],
        [2., 2., 2., 4., 2.],
        [2., 2., 2., 2., 4.]])
""",
    "custom_gradient.py": """\
tensor([ 256., -512., 1024.], grad_fn=<MulBackward0>)
tensor([5.1200e+01, 5.1200e+02, 5.1200e-02])
tensor([36., 81.])
tensor([-12.,  -8.])
""",
    "straight_through.py": """\
gradient through torch.sign: tensor([0., 0., 0., 0.])
step  1: loss 8.5000
step  2: loss 6.5000
step  3: loss 4.0000
step  4: loss 6.5000
step  5: loss 1.2500
step  6: loss 0.0000
step 20: loss 0.0000
real weights:   tensor([ 0.1250, -0.5000, -0.3438,  0.3125])
binary weights: tensor([ 1., -1., -1.,  1.], grad_fn=<SignSTEBackward>)
""",
}

# Examples whose printout also shows object identity: PyTorch prints a.grad_fn and
# y.grad_fn.next_functions[0][0] as the same object (same address).
IDENTITY = {"leaf_and_grad_fn.py"}

_ADDR = re.compile(r"0x[0-9a-fA-F]+")
_LABEL = re.compile(r"@\d+")
_NUM = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _label_addresses(text):
    labels = {}
    return _ADDR.sub(lambda m: "@%d" % labels.setdefault(m.group(0), len(labels) + 1), text)


def _run(name):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONWARNINGS"] = "default"
    proc = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{proc.stderr}"
    return proc.stdout.replace("\r\n", "\n"), proc.stderr


# The training examples print fitted numbers, not PyTorch's printout: they are run, and
# their results checked, by tests/test_training_examples.py.
TRAINING = ("linear_regression.py", "logistic_regression.py", "mlp_digits.py",
            "hessian_newton.py", "gradient_penalty.py", "scipy_minimize.py",
            "newton_hessian_replay.py", "print_tape.py", "dask_eval.py")


def test_every_example_has_expected_output():
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert scripts == sorted(tuple(EXPECTED) + TRAINING)
    readme = (EXAMPLES / "README.md").read_text()
    for name in scripts:
        assert name in readme, f"examples/README.md does not list {name}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_prints_pytorch_numbers(name):
    out, err = _run(name)
    out = _ADDR.sub("ADDR", out)
    expected = _LABEL.sub("ADDR", EXPECTED[name])
    # The numbers first, so a wrong gradient is reported as such ...
    assert _NUM.findall(out) == _NUM.findall(expected), out
    # ... then the whole printout, as PyTorch shows it (addresses aside).
    assert out == expected
    assert "UserWarning" not in err, err  # e.g. reading .grad of a non-leaf


@pytest.mark.parametrize("name", sorted(IDENTITY))
def test_example_grad_fn_identity(name):
    out, _ = _run(name)
    assert _label_addresses(out) == EXPECTED[name]
