"""Print the Wengert tape tapegrad.func records, save it and run it in another process.

    fg = tapegrad.func.value_and_grad(f); fg(x)
    print(fg.tape)            # one line a record: v3 = mul(v1, v2)  # MulBackward0 [3] f64
    fg.save("f.npz")          # then, in a process that never saw f:
    tapegrad.func.load("f.npz")(x)

The function is y = sum(sin(x) * x**2 + 3x); the subprocess imports only tapegrad and
numpy, loads the file and prints the value and gradient it replays, which equal this
process's bit for bit.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

import tapegrad as tg


def f(x):
    return (x.sin() * x ** 2 + 3 * x).sum()


fg = tg.func.value_and_grad(f)
x = np.array([0.5, 1.0, 2.0])
value, grad = fg(x)
print("the recorded program:")
print(fg.tape)
path = os.path.join(tempfile.mkdtemp(), "f.npz")
fg.save(path)
x2 = np.array([1.5, -1.0, 0.25])
value2, grad2 = fg(x2)
print(f"here:       f(x2) = {value2!r}, grad = {grad2.tolist()}")
script = f"""
import numpy as np
import tapegrad
g = tapegrad.func.load({path!r})
value, grad = g(np.array({x2.tolist()!r}))
print(f"subprocess: f(x2) = {{value!r}}, grad = {{grad.tolist()}}")
"""
out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                     check=True).stdout
print(out, end="")
assert out.split("=", 1)[1] == f" {value2!r}, grad = {grad2.tolist()}\n", out
print("equal bit for bit: True")
