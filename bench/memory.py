"""Peak memory of the MLP training step (bench_training.py's `train_mlp`): tapegrad and
PyTorch, each in a fresh process.

    python -m bench.memory [--steps N]

Each process imports its library, builds the model, data and optimizer, runs 3 steps
(compiling or warming up), reads its resident set size (RSS), trains N more steps and
reads its peak RSS (ru_maxrss). The table gives the process's peak (what a user sees:
libraries, model, data, tape or autograd graph, optimizer state) and the growth over the
N steps (a loop that leaks grows here). Both libraries pinned to one thread.
"""

import argparse
import json
import os
import subprocess
import sys

from bench.threads import THREAD_ENV

_CHILD = r"""
import json, resource, sys
import numpy as np
impl, steps = sys.argv[1], int(sys.argv[2])
from bench.bench_training import make_mlp
def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
run, result = make_mlp(impl)
for _ in range(3):
    run()
base = rss_kb()
peak0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for _ in range(steps):
    run()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"impl": impl, "base_kb": base, "peak_kb": max(peak, peak0),
                  "after_kb": rss_kb()}))
"""


def measure(impl: str, steps: int) -> dict:
    """Run one library's training loop in a fresh process; its RSS figures in kB."""
    env = dict(os.environ, **THREAD_ENV)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    out = subprocess.run([sys.executable, "-c", _CHILD, impl, str(steps)], env=env, cwd=root,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    rows = []
    for impl in ("tapegrad", "torch"):
        try:
            rows.append(measure(impl, args.steps))
        except subprocess.CalledProcessError as e:
            print(f"{impl}: failed ({e.stderr.strip().splitlines()[-1] if e.stderr else e})")
    print("| library | RSS after import and 3 steps | peak RSS of the process | growth over "
          f"{args.steps} more steps |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['impl']} | {r['base_kb'] / 1024:.1f} MB | {r['peak_kb'] / 1024:.1f} MB | "
              f"{(r['peak_kb'] - r['base_kb']) / 1024:.1f} MB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
