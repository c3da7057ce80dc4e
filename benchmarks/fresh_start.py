"""A fresh process's first minute: `livevec --help`, and the first embedding's time and memory.

    .venv/bin/python benchmarks/fresh_start.py [--runs 5]

Each figure is the median of `--runs` fresh Python processes (the model's ONNX file already exported
in the cache folder, as after a first run). Run it with another livevec's source on PYTHONPATH to
compare two versions side by side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

FIRST_EMBEDDING = """
import json, resource, time
started = time.perf_counter()
from livevec import EmbeddingFunction
EmbeddingFunction().embed_query("a user likes sports")
import sys
print(json.dumps({
    "seconds": time.perf_counter() - started,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "torch": "torch" in sys.modules,
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    helps, firsts, peaks, torch = [], [], [], set()
    for _ in range(args.runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "livevec", "--help"], check=True, capture_output=True)
        helps.append(time.perf_counter() - started)
        out = subprocess.run(
            [sys.executable, "-c", FIRST_EMBEDDING], check=True, capture_output=True, text=True
        )
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        firsts.append(figures["seconds"])
        peaks.append(figures["rss_mb"])
        torch.add(figures["torch"])
    print(f"livevec --help (whole process): {statistics.median(helps):.2f} s median of {args.runs}")
    print(
        f"first embedding (import to vector): {statistics.median(firsts):.2f} s, peak RSS {statistics.median(peaks):.0f} MB"
    )
    print(f"PyTorch imported: {sorted(torch)}")


if __name__ == "__main__":
    main()
