"""What `import tapegrad` does to the garbage collector (tapegrad/_startup.py), each case
in a fresh interpreter."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROBE = """
import gc, json, sys
junk = [[i] for i in range(int(sys.argv[1]))]  # objects the program made before
if sys.argv[2] == "off":
    gc.disable()
import tapegrad as torch
x = torch.tensor([2.0], requires_grad=True)
(x ** 2 + 3 * x + 1).backward()
print(json.dumps({"frozen": gc.get_freeze_count(), "enabled": gc.isenabled(),
                  "grad": x.grad.item(), "young": len(gc.get_objects())}))
"""


def _probe(before, gc_state="on", mode=None):
    env = {k: v for k, v in os.environ.items() if k != "TAPEGRAD_GC_FREEZE"}
    if mode is not None:
        env["TAPEGRAD_GC_FREEZE"] = mode
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", PROBE, str(before), gc_state], env=env,
                         capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("gc_state", ["on", "off"])
def test_an_early_import_freezes_the_heap_and_restores_the_collector(gc_state):
    r = _probe(0, gc_state)
    assert r["grad"] == 7.0
    assert r["enabled"] == (gc_state == "on")  # the user's setting, as it was
    assert r["frozen"] > 50_000  # Numba's machinery and its registries
    assert r["young"] < 5_000  # what collections still walk after the first backward


def test_a_late_import_or_the_switch_leaves_the_heap_alone():
    many = _probe(150_000)  # a process that had done work before importing tapegrad
    assert many["frozen"] == 0 and many["enabled"] and many["grad"] == 7.0
    off = _probe(0, mode="0")
    assert off["frozen"] == 0 and off["enabled"]
    forced = _probe(150_000, mode="1")
    assert forced["frozen"] > 150_000
