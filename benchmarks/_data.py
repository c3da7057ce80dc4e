"""Benchmark data: real Icecat product texts embedded once with all-MiniLM-L6-v2, cached on disk.

The Icecat catalog has 19,406 products; larger sizes are *generated variants*: each extra row is a
real product's vector plus Gaussian noise (then re-normalised), so the data keeps the real catalog's
clusters while every row is distinct. Queries are the 135 real search queries of the chorus set plus
held-out noisy variants of real products, embedded with the same model.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import numpy as np


def shared_data(folder: str) -> Path:
    """A folder of the shared data: `$LIVEVEC_DATA/<folder>`, else `../shared/data/<folder>` beside the
    project root; exits with a message naming both when it is missing."""
    root = os.environ.get("LIVEVEC_DATA")
    base = Path(root) if root else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (base / folder).is_dir():
        raise SystemExit(
            f"shared data not found: {base / folder} is not a folder; put the shared data at "
            "../shared/data beside the project, or set LIVEVEC_DATA to its data folder"
        )
    return base / folder


DATA = shared_data("eval")
CACHE = Path(__file__).resolve().parent / ".cache"
MODEL = "local/all-MiniLM-L6-v2"
DIMENSIONS = 384
# per-dimension noise of generated variants: a unit vector's coordinates have sd ~0.05, so 0.02 keeps
# a variant at cosine ~0.93 from its product (a near-duplicate listing), not a random point
NOISE_SD = 0.02


def icecat_texts() -> tuple[list[str], list[str]]:
    """(ids, texts) of the Icecat products: name, brand and description."""
    ids, texts = [], []
    with gzip.open(DATA / "icecat_products.jsonl.gz", "rt") as f:
        for line in f:
            p = json.loads(line)
            ids.append(p["id"])
            texts.append(" ".join(x for x in (p["name"], p["brand"], p["description"]) if x))
    return ids, texts


def query_texts() -> list[str]:
    lines = (DATA / "queries.tsv").read_text().splitlines()
    return [line.split("\t", 1)[1] for line in lines[1:] if "\t" in line]


def _embed(texts: list[str]) -> np.ndarray:
    from livevec import EmbeddingFunction

    return EmbeddingFunction(MODEL).embed_documents(texts)


def icecat_vectors() -> tuple[list[str], np.ndarray]:
    """The catalog's texts and their vectors (embedded on first use, then read from the cache)."""
    _, texts = icecat_texts()
    path = CACHE / "icecat_minilm.npy"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        started = time.perf_counter()
        vectors = _embed(texts)
        print(f"embedded {len(texts)} Icecat texts in {time.perf_counter() - started:.0f} s")
        np.save(path, vectors)
    return texts, np.load(path)


def query_vectors() -> np.ndarray:
    path = CACHE / "queries_minilm.npy"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        np.save(path, _embed(query_texts()))
    return np.load(path)


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def dataset(n: int, n_queries: int = 500, seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(texts, vectors, queries) for `n` rows: the real catalog first, generated variants after it."""
    texts, real = icecat_vectors()
    rng = np.random.default_rng(seed)
    base = np.arange(n) % len(real)
    vectors = real[base].copy()
    extra = n > len(real)
    if extra:
        for start in range(len(real), n, 100_000):  # in chunks: 1M x 384 noise at once is 3 GB of float64
            stop = min(n, start + 100_000)
            noise = rng.normal(0, NOISE_SD, (stop - start, DIMENSIONS)).astype(np.float32)
            vectors[start:stop] = _normalise(vectors[start:stop] + noise)
    row_texts = [texts[i] if i < len(real) else f"{texts[b]} (variant {i})" for i, b in enumerate(base)]
    real_queries = query_vectors()[:n_queries]
    picks = real[rng.integers(0, len(real), n_queries - len(real_queries))]
    held_out = _normalise(picks + rng.normal(0, NOISE_SD, picks.shape).astype(np.float32))
    return row_texts, vectors, np.vstack([real_queries, held_out]).astype(np.float32)


def buckets(n: int) -> np.ndarray:
    """A generated filter attribute 0..99 per row: `bucket == 0` keeps 1%, `bucket < 30` keeps 30%."""
    return np.random.default_rng(1).integers(0, 100, n)


if __name__ == "__main__":
    texts, vectors = icecat_vectors()
    print(len(texts), vectors.shape, query_vectors().shape)
