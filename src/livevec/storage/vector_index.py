"""The in-memory search structure behind a vector column: the boundary an ANN index plugs into.

A backend keeps one `VectorIndex` per vector column, keyed by the row's integer id, and keeps it in
step with the table; the index only answers "which ids are nearest to this vector".
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .._schema import Distance


class VectorIndex(Protocol):
    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def clear(self) -> None: ...

    def __len__(self) -> int: ...

    def search(
        self,
        query: np.ndarray,
        k: int,
        *,
        candidates: np.ndarray | None = None,
        max_distance: float | None = None,
        min_distance: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, distances) of the k nearest, nearest first, plus any rows tied with the k-th."""
        ...


class ExactIndex:
    """Brute-force scan with numpy: exact, cheap to update, fast enough for tens of thousands of rows."""

    def __init__(self, dimensions: int, distance: Distance) -> None:
        self.dimensions = dimensions
        self.distance = distance
        self.clear()

    def clear(self) -> None:
        self._ids = np.empty(0, dtype=np.int64)
        self._vectors = np.empty((0, self.dimensions), dtype=np.float32)
        self._sq_norms = np.empty(0, dtype=np.float32)
        self._size = 0
        self._position: dict[int, int] = {}

    def __len__(self) -> int:
        return self._size

    def _prepare(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimensions)
        if self.distance == "cosine":
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.where(norms == 0, 1, norms)
        return vectors

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = self._prepare(vectors)
        for row_id, vector in zip(np.asarray(ids, dtype=np.int64).tolist(), vectors, strict=True):
            pos = self._position.get(row_id)
            if pos is None:
                pos = self._size
                if pos == len(self._ids):  # grow by doubling: appends stay amortised O(1)
                    capacity = max(16, 2 * len(self._ids))
                    self._ids = np.resize(self._ids, capacity)
                    self._vectors = np.resize(self._vectors, (capacity, self.dimensions))
                    self._sq_norms = np.resize(self._sq_norms, capacity)
                self._position[row_id] = pos
                self._ids[pos] = row_id
                self._size += 1
            self._vectors[pos] = vector
            self._sq_norms[pos] = float(vector @ vector)

    def remove(self, ids: np.ndarray) -> None:
        for row_id in np.asarray(ids, dtype=np.int64).tolist():
            pos = self._position.pop(row_id, None)
            if pos is None:
                continue
            last = self._size - 1
            if pos != last:  # move the last row into the hole
                moved = int(self._ids[last])
                self._ids[pos] = moved
                self._vectors[pos] = self._vectors[last]
                self._sq_norms[pos] = self._sq_norms[last]
                self._position[moved] = pos
            self._size = last

    def search(
        self,
        query: np.ndarray,
        k: int,
        *,
        candidates: np.ndarray | None = None,
        max_distance: float | None = None,
        min_distance: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        query = self._prepare(query)[0]
        if candidates is None:
            positions = np.arange(self._size)
        else:
            found = (self._position.get(i) for i in np.asarray(candidates).tolist())
            positions = np.fromiter((p for p in found if p is not None), dtype=np.int64)
        distances = self._distances(query, positions)
        keep = np.ones(len(positions), dtype=bool)
        if max_distance is not None:
            keep &= distances <= max_distance
        if min_distance is not None:
            keep &= distances >= min_distance
        positions, distances = positions[keep], distances[keep]
        if k < len(distances):
            kth = np.partition(distances, k - 1)[k - 1]
            keep = distances <= kth  # rows tied with the k-th stay: the caller breaks ties by key
            positions, distances = positions[keep], distances[keep]
        order = np.argsort(distances, kind="stable")
        return self._ids[positions[order]], distances[order]

    def _distances(self, query: np.ndarray, positions: np.ndarray) -> np.ndarray:
        vectors = self._vectors[positions]
        dots = vectors @ query
        if self.distance == "cosine":
            return np.clip(1.0 - dots, 0.0, 2.0)
        return np.sqrt(np.maximum(self._sq_norms[positions] - 2 * dots + query @ query, 0.0))
