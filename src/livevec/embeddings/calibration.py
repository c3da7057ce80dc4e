"""Relevance: a model's cosine distance mapped to the chance that a product is relevant.

Each model's distances live in their own range (on the same five products, all-MiniLM-L6-v2 spans
0.68-0.97, the 4-bit e5-small 0.18-0.26), so a distance threshold means something else for every
model. `KNOTS` holds, per model, a monotone map from distance to relevance fitted on the Icecat dev
split's human judgments (`python benchmarks/models.py --calibrate`): relevance r means that about a
share r of the judged products at that distance were judged relevant (grade 2 or 3 of 0-3).
"""

from __future__ import annotations

import numpy as np

# model name -> (distance, relevance) points, distances increasing, relevance non-increasing
KNOTS: dict[str, list[tuple[float, float]]] = {}


def relevance(distance: np.ndarray | float, knots: list[tuple[float, float]]) -> np.ndarray:
    """Relevance of each distance: linear between the knots, the end values beyond them."""
    xs, ys = zip(*knots, strict=True)
    return np.interp(distance, xs, ys)
