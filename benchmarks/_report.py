"""Small helpers the benchmark scripts share: exact ground truth, percentiles, memory, tables."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int, mask: np.ndarray | None = None) -> list:
    """Ids of the exact k nearest rows by cosine for each query (restricted to `mask` when given)."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(len(vectors)) if mask is None else np.flatnonzero(mask)
    unit = unit[ids]
    out = []
    for start in range(0, len(queries), 64):
        q = queries[start : start + 64]
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        sims = q @ unit.T
        top = np.argpartition(-sims, min(k, sims.shape[1] - 1), axis=1)[:, :k]
        for row, cand in zip(sims, top, strict=True):
            out.append(ids[cand[np.argsort(-row[cand])]])
    return out


def recall(found: list, truth: list) -> float:
    k = len(truth[0])
    return sum(len(set(map(int, f)) & set(map(int, t))) for f, t in zip(found, truth, strict=True)) / (
        k * len(truth)
    )


def percentile_ms(seconds: list[float], p: float) -> str:
    return f"{np.percentile(seconds, p) * 1000:.2f}"


def rss_mb() -> float:
    """Resident memory of this process in MB."""
    import psutil

    return psutil.Process(os.getpid()).memory_info().rss / 2**20


def peak_growth_mb(work: Callable[[], object]) -> float | None:
    """How far this process's resident memory rose above `rss_mb()` while `work` ran (Linux: the
    kernel's peak is reset first); None where that cannot be measured."""
    try:
        with open("/proc/self/clear_refs", "w") as control:
            control.write("5")
    except OSError:
        return None
    before = rss_mb()
    work()
    with open("/proc/self/status") as status:
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return peak_kb / 1024 - before


# the helper of `file_cache_held`: maps every file under a folder, reads a byte of each page, says
# so, and keeps the mappings until its input ends
_HOLD_FILES = """
import mmap, sys
from pathlib import Path
maps = []
for path in sorted(Path(sys.argv[1]).rglob("*")):
    try:
        if not path.is_file() or not path.stat().st_size:
            continue
        with open(path, "rb") as file:
            mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # gone meanwhile, or not mappable
        continue
    sum(mapped[i] for i in range(0, len(mapped), mmap.PAGESIZE))
    maps.append(mapped)
print(len(maps), flush=True)
sys.stdin.read()
"""


@contextmanager
def file_cache_held(folder: Path) -> Iterator[None]:
    """Keep every file under `folder` in the operating system's file cache while the block runs, as
    a machine that keeps the files it wrote in free memory does.

    The VMs these benchmarks run on page out any cached file page that no process maps once it has
    been idle for about a minute (their kernel's DAMON reclaim; pages a process maps, and anonymous
    memory, are left alone): a table loaded for five minutes is then read from disk by its first
    searches. A helper process maps each file and reads a byte of every page (so this process's
    resident memory does not count them); files created after the block starts are not held.
    """
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD_FILES, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as helper:
        try:
            if not helper.stdout.readline():  # the count of files held, once every page is read
                raise RuntimeError(f"the helper holding {folder} in the file cache exited first")
            yield
        finally:
            helper.stdin.close()  # the helper exits when its input ends


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table."""
    cells = [[str(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def start_shop(db: Path, timeout: float = 120) -> tuple[subprocess.Popen, int]:
    """`livevec serve --db db` in its own process on a free local port, once it answers: (process, port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-c", "from livevec.cli import main; main()", "serve", "--db", str(db)]
    server = subprocess.Popen(
        [*command, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/products?limit=1") as response:
                if response.status == 200:
                    return server, port
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"livevec serve --db {db} did not answer within {timeout} s")
