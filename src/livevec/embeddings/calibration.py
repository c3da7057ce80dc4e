"""Relevance: a model's cosine distance mapped to the chance that a product is relevant.

Each model's distances live in their own range (on the same five products, all-MiniLM-L6-v2 spans
0.68-0.97, the 4-bit e5-small 0.18-0.26), so a distance threshold means something else for every
model. `KNOTS` holds, per model, a monotone map from distance to relevance fitted on the Icecat dev
split's human judgments (`python benchmarks/models.py --calibrate`): relevance r means that about a
share r of the judged products at that distance were judged relevant (grade 2 or 3 of 0-3).

Does one relevance threshold then mean the same for every model? On the held-out split (not used for
the fit), `relevance >= 0.7` keeps 22%, 25% and 25% of the judged pairs for MiniLM, mpnet and e5, of
which 90%, 87% and 84% are relevant; `distance <= 0.5` keeps 29% and 30% for the first two and every
pair (100%, 34% relevant) for e5. The map was fitted on shoppers' search words against product
texts: a longer text such as a profile ("a user likes sports") lies further from every product, so
its relevance reads low on every model alike. See benchmarks/QUALITY.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ._function import EmbeddingFunction

# model name -> (distance, relevance) points, distances increasing, relevance non-increasing
_MINILM = [
    (0.315, 1.0), (0.42, 0.912), (0.476, 0.588), (0.527, 0.504), (0.574, 0.46),
    (0.628, 0.252), (0.69, 0.161), (0.77, 0.029), (0.909, 0.0),
]  # fmt: skip
KNOTS: dict[str, list[tuple[float, float]]] = {
    # fitted on the float weights; the int8 ones move the tutorial's distances by 0.01 at most (QUALITY.md)
    "local/all-MiniLM-L6-v2": _MINILM,
    "local/all-MiniLM-L6-v2-f32": _MINILM,
    "local/all-mpnet-base-v2": [
        (0.298, 1.0), (0.415, 0.873), (0.48, 0.669), (0.536, 0.44), (0.585, 0.407),
        (0.644, 0.355), (0.705, 0.256), (0.774, 0.026), (0.868, 0.0),
    ],
    "local/multilingual-e5-small-q4": [
        (0.111, 0.954), (0.129, 0.816), (0.139, 0.692), (0.149, 0.574), (0.159, 0.51),
        (0.171, 0.293), (0.186, 0.09), (0.206, 0.034), (0.23, 0.003),
    ],
}  # fmt: skip


def relevance(distance: np.ndarray | float, knots: list[tuple[float, float]]) -> np.ndarray:
    """Relevance of each distance: linear between the knots, the end values beyond them."""
    xs, ys = zip(*knots, strict=True)
    return np.interp(distance, xs, ys)


def knots_for(fn: EmbeddingFunction) -> list[tuple[float, float]] | None:
    """The calibration of this embedding function's vectors, if its model has one and it embeds as
    the model was calibrated (its own prefixes, full dimensions)."""
    knots = KNOTS.get(fn.model_name)
    own = (fn.query_prefix, fn.document_prefix) == fn.default_prefixes
    return knots if knots and own and not fn.options.get("dimensions") else None


def distance_for(min_relevance: float, knots: list[tuple[float, float]]) -> float:
    """The largest cosine distance whose relevance is at least `min_relevance` (0 to 2)."""
    xs, ys = zip(*knots, strict=True)
    if min_relevance > ys[0]:
        return 0.0  # nothing is that relevant: only an identical vector passes
    if min_relevance <= ys[-1]:
        return 2.0  # everything is
    i = max(k for k, y in enumerate(ys) if y >= min_relevance)
    return float(xs[i] + (ys[i] - min_relevance) / (ys[i] - ys[i + 1]) * (xs[i + 1] - xs[i]))
