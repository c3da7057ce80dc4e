"""The change log's state machine (tests/test_changelog_stateful.py), run for longer than CI does.

    .venv/bin/python benchmarks/changelog_soak.py --examples 300 --steps 60 [--backend sqlite]

Prints how many random operation sequences ran on each backend and how long they took; a failure
prints the shortest sequence Hypothesis found and exits non-zero.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default=None)
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    env = dict(
        os.environ, LIVEVEC_STATEFUL_EXAMPLES=str(args.examples), LIVEVEC_STATEFUL_STEPS=str(args.steps)
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_changelog_stateful.py",
    ]
    if args.backend:
        command += ["-k", args.backend]
    started = time.perf_counter()
    code = subprocess.call(command, cwd=root, env=env)
    print(
        f"{args.examples} sequences of up to {args.steps} steps per backend "
        f"({args.backend or 'sqlite, postgres'}): {'passed' if code == 0 else 'FAILED'} "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
