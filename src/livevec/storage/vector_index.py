"""The in-memory search structure behind a vector column: the boundary an ANN index plugs into.

A backend keeps one `VectorIndex` per vector column, keyed by the row's integer id, and keeps it in
step with the table; the index only answers "which ids are nearest to this vector". Small columns use
`ExactIndex` (a numpy scan); large ones `HnswIndex` (usearch's HNSW graph), chosen by `IndexOptions`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import mmap
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from .._errors import ValidationError
from .._schema import Distance
from ._graph_links import unreachable_keys

Precision = Literal["f32", "f16", "i8"]


@dataclass(frozen=True)
class IndexOptions:
    """How a store indexes its vector columns in memory (SQLite; PostgreSQL uses pgvector's HNSW).

    Usage:
        ```python
        db = livevec.connect("shop.db", index_options=livevec.IndexOptions(precision="i8", expansion_search=128))
        ```

    Parameters:
        ann_min_rows: a column with fewer vectors is scanned exactly; from that size on it gets an
            HNSW graph (and goes back to the exact scan below half of it).
        precision: how the graph holds its vectors: "f32", "f16" or "i8" (4, 2 or 1 bytes per
            dimension); results are always re-ranked exactly from the float32 vectors stored in the
            table. None: "f16" for cosine columns (the graph takes half the memory) and "f32" for l2
            ones (their values may exceed float16's range).
        connectivity: the graph's links per node.
        expansion_add: the graph's breadth while adding vectors.
        expansion_search: the graph's search breadth (higher is slower, more exact); None grows it
            with the graph (128 up to 250,000 rows, 512 at 1M, at most 1,024).
        exact_filter_rows: a filtered search scans the filter's rows exactly instead of walking the
            graph when an SQL index finds them and they are few: up to 1,000 rows always, and up to
            this many when the filter is too rare for the graph.
        filter_cache_rows: the vectors of the rows of the filters scanned last are kept in memory, up
            to this many rows in all (1.5 KB each at 384 dimensions), kept up to date from the change log.
        persist: save each graph beside the database file, so a restart need not build it again.

    Raises:
        ValidationError: a count is not a positive integer, or `precision` is not one of the three.
    """

    ann_min_rows: int = 5_000
    precision: Precision | None = None
    connectivity: int = 32
    expansion_add: int = 128
    expansion_search: int | None = None
    exact_filter_rows: int = 20_000
    filter_cache_rows: int = 100_000
    persist: bool = True

    def __post_init__(self) -> None:
        for name in (
            "ann_min_rows",
            "connectivity",
            "expansion_add",
            "expansion_search",
            "exact_filter_rows",
            "filter_cache_rows",
        ):
            value = getattr(self, name)
            if value is None and name == "expansion_search":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(f"must be a positive integer, got {value!r}", field=name)
        if self.precision not in (None, "f32", "f16", "i8"):
            raise ValidationError(
                f"must be 'f32', 'f16', 'i8' or None, got {self.precision!r}", field="precision"
            )

    def graph_precision(self, distance: Distance) -> Precision:
        """How a graph of a column with this distance holds its vectors (see `precision`).

        Parameters:
            distance: the column's distance, "cosine" or "l2".

        Returns:
            "f32", "f16" or "i8".
        """
        return self.precision or ("f16" if distance == "cosine" else "f32")


def search_breadth(size: int) -> int:
    """The default graph search breadth (ef) for a graph of `size` vectors.

    A fixed ef loses recall as the graph grows: on the benchmarks' data, ef=128 finds 0.99 of the true
    top 10 at 100k rows but 0.92 at 1M with 32 links per node, while ef=512 gets 0.97 there. So ef
    stays at 128 up to 250,000 rows and grows in proportion after that (512 at 1M, at most 1,024).
    """
    return min(1024, max(128, 128 * size // 250_000))


class VectorIndex(Protocol):
    #: distances it returns may be off by up to this much (quantized vectors); 0 when exact
    tolerance: float

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def contains(self, ids: np.ndarray) -> np.ndarray: ...

    def clear(self) -> None: ...

    def __len__(self) -> int: ...

    def search(
        self,
        query: np.ndarray,
        k: int,
        *,
        max_distance: float | None = None,
        min_distance: float | None = None,
        exact: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, distances) of the k nearest within the range, nearest first.

        An exact index also returns the rows tied with the k-th; an approximate one walks its graph
        unless `exact` asks for a full scan.
        """
        ...


def distances(query: np.ndarray, vectors: np.ndarray, distance: Distance) -> np.ndarray:
    """Exact distances from one query to each row of `vectors` (float32, any norm).

    These are the numbers every search returns, whichever part of an index found the row: the same
    row and query always get the same distance (numpy's row sums do not depend on the other rows).
    """
    query = np.asarray(query, dtype=np.float32)
    if distance == "cosine":
        return _cosine(_dots(vectors, query), np.einsum("ij,ij->i", vectors, vectors), np.dot(query, query))
    return np.linalg.norm(vectors - query, axis=1)


def _cosine(dots: np.ndarray, sq_norms: np.ndarray, query_sq_norm: np.floating) -> np.ndarray:
    """Cosine distances from the rows' dot products with the query and the squared norms."""
    norms = np.sqrt(sq_norms * query_sq_norm)
    found = 1.0 - dots / np.where(norms == 0, 1, norms)
    # np.clip's own overhead is twice these two ufuncs' on a search's few hundred rows; same numbers
    return np.minimum(np.maximum(found, 0.0, out=found), 2.0, out=found)


def _dots(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """`vectors @ query` on this thread. numpy's `@` hands a matrix of a few thousand rows to
    OpenBLAS's thread pool, whose threads wake slowly on a busy machine: 16 ms instead of 0.3 ms
    for 3,000 x 384 while other processes use the cores (benchmarks/RESULTS.md)."""
    return np.einsum("ij,j->i", vectors, query)


def within_bounds(
    ids: np.ndarray, found: np.ndarray, max_distance: float | None, min_distance: float | None, slack: float
) -> tuple[np.ndarray, np.ndarray]:
    if max_distance is None and min_distance is None:
        return ids, found
    keep = np.ones(len(found), dtype=bool)
    if max_distance is not None:
        keep &= found <= max_distance + slack
    if min_distance is not None:
        keep &= found >= min_distance - slack
    return ids[keep], found[keep]


class ExactIndex:
    """Brute-force scan with numpy: exact, cheap to update, fast enough for tens of thousands of rows.

    It holds the float32 vectors as stored and returns `distances()`'s own numbers, so a caller
    need not read the rows' vectors again to measure what it found.
    """

    tolerance = 0.0

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
        return np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimensions)

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add or replace rows (`ids` distinct)."""
        vectors = self._prepare(vectors)
        ids = np.asarray(ids, dtype=np.int64)
        if self._position:
            get = self._position.get
            positions = np.fromiter((get(i, -1) for i in ids.tolist()), dtype=np.int64, count=len(ids))
        else:  # an empty index (a new delta, a reload): every row is new
            positions = np.full(len(ids), -1, dtype=np.int64)
        known = positions >= 0
        if known.any():
            self._vectors[positions[known]] = vectors[known]
            self._sq_norms[positions[known]] = np.einsum("ij,ij->i", vectors[known], vectors[known])
            ids, vectors = ids[~known], vectors[~known]
        start, end = self._size, self._size + len(ids)
        if end > len(self._ids):  # grow by doubling: appends stay amortised O(1)
            capacity = max(16, 2 * len(self._ids), end)
            self._ids = _grown(self._ids, start, (capacity,))
            self._vectors = _grown(self._vectors, start, (capacity, self.dimensions))
            self._sq_norms = _grown(self._sq_norms, start, (capacity,))
        self._ids[start:end] = ids
        self._vectors[start:end] = vectors
        self._sq_norms[start:end] = np.einsum("ij,ij->i", vectors, vectors)
        self._position.update(zip(ids.tolist(), range(start, end), strict=True))
        self._size = end

    def remove(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) > 64:  # many at once: compact the arrays in one pass
            keep = np.isin(self._ids[: self._size], ids, invert=True)
            if keep.all():
                return
            size = int(keep.sum())
            self._ids[:size] = self._ids[: self._size][keep]
            self._vectors[:size] = self._vectors[: self._size][keep]
            self._sq_norms[:size] = self._sq_norms[: self._size][keep]
            self._size = size
            self._position = {row_id: pos for pos, row_id in enumerate(self._ids[:size].tolist())}
            return
        for row_id in ids.tolist():
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

    def contains(self, ids: np.ndarray) -> np.ndarray:
        return np.array([i in self._position for i in np.asarray(ids, dtype=np.int64).tolist()], dtype=bool)

    def items(self, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Copies of (ids, vectors) of up to `limit` rows (cosine vectors come back normalised)."""
        end = self._size if limit is None else min(limit, self._size)
        vectors = self._vectors[:end]
        if self.distance == "cosine":
            norms = np.sqrt(self._sq_norms[:end])[:, None]
            return self._ids[:end].copy(), vectors / np.where(norms == 0, 1, norms)
        return self._ids[:end].copy(), vectors.copy()

    def search(
        self,
        query: np.ndarray,
        k: int,
        *,
        max_distance: float | None = None,
        min_distance: float | None = None,
        exact: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        query = self._prepare(query)[0]
        size = self._size
        dots = _dots(self._vectors[:size], query)  # a slice is a view: no copy of the matrix
        if self.distance == "cosine":
            found = _cosine(dots, self._sq_norms[:size], np.dot(query, query))
            ids, found = within_bounds(self._ids[:size], found, max_distance, min_distance, 0.0)
            return nearest(ids, found, k)
        # l2: |v|² - 2v·q + |q|² picks the nearest in one pass over the matrix; the ones picked are
        # then measured as `distances()` measures them (the expansion loses digits near zero)
        found = np.sqrt(np.maximum(self._sq_norms[:size] - 2 * dots + query @ query, 0.0))
        positions, _ = nearest(*within_bounds(np.arange(size), found, max_distance, min_distance, 0.0), k)
        found = distances(query, self._vectors[positions], self.distance)
        order = np.argsort(found, kind="stable")
        return self._ids[positions[order]], found[order]


def _grown(array: np.ndarray, used: int, shape: tuple[int, ...]) -> np.ndarray:
    """A larger array holding the first `used` rows of `array` (the rest uninitialised)."""
    grown = np.empty(shape, dtype=array.dtype)
    grown[:used] = array[:used]
    return grown


def nearest(ids: np.ndarray, found: np.ndarray, k: int, slack: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest distances, sorted, plus rows tied with the k-th (the caller breaks ties by key)
    and, with `slack`, rows within it of the k-th."""
    if k < len(found):
        kth = np.partition(found, k - 1)[k - 1]
        keep = found <= kth + slack
        ids, found = ids[keep], found[keep]
    order = found.argsort(kind="stable")  # the method: np.argsort's dispatch costs as much again
    return ids[order], found[order]


# from this many rows on, an add runs on every core (and is checked for unreachable nodes)
_PARALLEL_ADD_ROWS = 256

# an add of at least one row in this many of the graph's is checked by walking the graph's links:
# the walk costs about what searching for that many rows' own vectors does (benchmarks/graph_check.py,
# 200,000 rows: 0.9 s against 14.9 s for all of Icecat's, 0.8 against 14.3 s for clustered ones)
_WALK_SHARE = 16

# how far a quantized vector's distance can drift from the float32 one (cosine on unit vectors)
_TOLERANCE = {"f32": 0.0, "f16": 0.002, "i8": 0.03}


def _usearch_index() -> type:
    """usearch's Index class, imported when a column first needs a graph (usearch is below 2.26.2:
    later releases crash an ONNX Runtime imported after them; see tests/test_import_order.py)."""
    from usearch.index import Index

    return Index


class HnswIndex:
    """usearch's HNSW graph: approximate, with adds and removes in place, so it stays real time.

    Vectors are held as `options.graph_precision()`; distances from a quantized index are approximate (within
    `tolerance`), so the caller re-ranks candidates with the exact float32 vectors it stores.
    """

    def __init__(self, dimensions: int, distance: Distance, options: IndexOptions) -> None:
        self.dimensions = dimensions
        self.distance = distance
        self.options = options
        self.precision = options.graph_precision(distance)
        self.tolerance = _TOLERANCE[self.precision] * (1.0 if distance == "cosine" else 4.0)
        self.clear()

    def clear(self) -> None:
        Index = _usearch_index()  # noqa: N806 (a class)
        self._index = Index(
            ndim=self.dimensions,
            metric="cos" if self.distance == "cosine" else "l2sq",
            dtype=self.precision,
            connectivity=self.options.connectivity,
            expansion_add=self.options.expansion_add,
            expansion_search=self.options.expansion_search or 128,
        )

    def __len__(self) -> int:
        return len(self._index)

    def copy(self) -> HnswIndex:
        """Another graph with the same nodes and links, to grow off the lock while this one is
        searched (a copy of the memory: about 1 ms per thousand nodes)."""
        twin = HnswIndex.__new__(HnswIndex)
        twin.__dict__.update(self.__dict__)
        twin._index = self._index.copy()
        return twin

    @property
    def breadth(self) -> int:
        """The search breadth (ef) a search uses now."""
        return self.options.expansion_search or search_breadth(len(self._index))

    def upsert(
        self, ids: np.ndarray, vectors: np.ndarray, stopping: Callable[[], bool] | None = None
    ) -> bool:
        """Add or replace vectors. Many rows at once are added on every core, in one call, then
        checked: usearch's parallel add leaves a few nodes per ten thousand unreachable, which are
        added again alone.

        One call, not chunks: from 200,000 rows on, a graph grown in many calls finds less than one
        built in one (benchmarks/graph_steps.py: 0.973 against 0.988 of the true top 10 at 200k).

        Parameters:
            ids: the rows' ids.
            vectors: one vector per id: float32, or the graph's own type as `contents()` gives them.
            stopping: asked after each row added on every core; when it says True the add stops
                within about a millisecond.

        Returns:
            True; False if `stopping` stopped it (the graph then holds only part of the rows).
        """
        ids = np.asarray(ids, dtype=np.uint64)
        if not len(ids):
            return True
        self.remove(ids)
        vectors = _as_given(vectors).reshape(len(ids), self.dimensions)
        if len(ids) < _PARALLEL_ADD_ROWS:
            self._index.add(ids, vectors, threads=1)
            return True
        try:
            self._index.add(ids, vectors, threads=0, progress=_progress(stopping))
        except RuntimeError:
            if stopping is not None and stopping():
                return False  # usearch's "Operation has been terminated"
            raise
        if stopping is not None and stopping():
            return False
        self.repair(ids, vectors)
        return True

    def unreachable(self, ids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """The nodes no search can reach, found the cheaper of two ways (see _WALK_SHARE): for a
        large add, every such node of the graph, by walking its links (`_graph_links`, whose cost
        is the graph's size whatever the vectors); for a small one, the `ids` whose own vector a
        search does not find (a cost that grows with the rows and how hard they are to search).
        The second is also the way when usearch's saved layout is not the one `_graph_links` reads.

        Parameters:
            ids: the rows just added.
            vectors: their vectors, one per id.

        Returns:
            The unreachable nodes' ids (uint64).
        """
        ids = np.asarray(ids, dtype=np.uint64)
        if len(ids) * _WALK_SHARE >= len(self._index):
            keys = self._unreachable_by_links()
            if keys is not None:
                # a removed node stays in the graph as a waypoint, its key cleared: only live ones count
                return (
                    keys[np.asarray(self._index.contains(keys), dtype=bool).reshape(-1)]
                    if len(keys)
                    else keys
                )
            _warn_layout_once()
        return self._not_found_by_own_vector(ids, vectors)

    def _unreachable_by_links(self) -> np.ndarray | None:
        """`unreachable_keys` of the graph's saved form, written to a temporary file (in `TMPDIR`)
        and mapped rather than made into bytes: the walk reads the nodes' links, so the vectors,
        most of the form, never enter this process's memory (200,000 rows: a peak of 129 MB more
        against 278 to 293, benchmarks/graph_check.py). The file is private to this call and
        just written, which is what makes mapping it safe (a mapped file cut short under a reader
        is a crash, not an error). It is unlinked once mapped, before the walk: a process killed
        from then on leaves nothing in `TMPDIR` (1.3 GB at 1M rows). Where no temporary file can
        be written, the bytes it is."""
        try:
            with tempfile.TemporaryDirectory(prefix="livevec-walk-", ignore_cleanup_errors=True) as folder:
                path = Path(folder) / "graph.usearch"
                self._index.save(str(path))
                with open(path, "rb") as file:
                    mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
                try:
                    with contextlib.suppress(OSError):  # the mapping outlives the name (where the OS allows)
                        path.unlink()
                    return unreachable_keys(mapped)  # arrays of its own: no view outlives the walk
                finally:
                    # unless the walk failed: its traceback still holds views, so closing would raise
                    # BufferError over the walk's own error; the mapping then goes with the traceback
                    with contextlib.suppress(BufferError):
                        mapped.close()
        except (OSError, RuntimeError) as exc:  # usearch reports a failed write as RuntimeError
            logging.getLogger("livevec").info(
                "livevec: walking the graph's links in memory (no temporary file: %s)", exc
            )
            return unreachable_keys(self._index.save())

    def _not_found_by_own_vector(self, ids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """The ids that a search for their own vector does not find."""
        if not len(ids):
            return ids
        # a narrow search finds most nodes cheaply, the few it misses get a wider one, then a wide
        # one (at 200,000 rows: 8,449 missed at 4, 445 at 64, 53 at 512; 6.6 s in all against 9.6
        # to 11.9 for 8 then 512)
        missed = ids
        for breadth, k in ((4, 4), (64, 10), (max(512, self.breadth), 10)):
            self._index.expansion_search = breadth
            queries = _as_given(vectors).reshape(len(ids), self.dimensions)
            queries = queries[np.isin(ids, missed)]
            found = self._index.search(queries, k, threads=0).keys.reshape(len(queries), -1)
            missed = missed[~(found == missed[:, None]).any(axis=1)]
            if not len(missed):
                break
        return missed

    def repair(self, ids: np.ndarray, vectors: np.ndarray) -> int:
        """Add again, one by one on this thread, the nodes no search can reach (those among `ids`
        with their given vectors, any other with the vector the graph holds); how many there were."""
        ids = np.asarray(ids, dtype=np.uint64)
        missed = self.unreachable(ids, vectors)
        if not len(missed):
            return 0
        given = np.isin(ids, missed)
        others = missed[~np.isin(missed, ids)]
        held = np.vstack(self._index.get(others)) if len(others) else None
        self._index.remove(missed)
        if given.any():
            vectors = _as_given(vectors).reshape(len(ids), self.dimensions)
            self._index.add(ids[given], vectors[given], threads=1)
        if held is not None:
            self._index.add(others, held, threads=1)
        return len(missed)

    def contents(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of every node, by id, the vectors as the graph holds them (float16, int8
        or float32): added to a new graph, they make the same nodes, to rebuild it in one call.

        By id, which is the order the rows were written in: usearch lists its keys in the order of
        its hash table, and a graph built in that order found 0.968 of the true top 10 against 0.987
        (200,000 Icecat rows and variants, ef 128).
        """
        ids = np.sort(np.asarray(self._index.keys, dtype=np.uint64))
        vectors = np.empty((len(ids), self.dimensions), dtype=_NUMPY_TYPE[self.precision])
        for start in range(0, len(ids), 65_536):  # usearch returns one array per key: in parts
            part = ids[start : start + 65_536]
            vectors[start : start + len(part)] = np.vstack(self._index.get(part))
        return ids.astype(np.int64), vectors

    def joined(self, ids: np.ndarray, vectors: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """This graph's nodes and the given rows (which replace nodes of the same id), as the
        (ids, vectors) parts to add to a new graph to build it anew: one part, by id, when the
        graph holds float16 or float32 (the rows are rounded as the graph would round them); the
        nodes then the rows for int8, whose rounding only usearch knows.

        Parameters:
            ids: the rows' ids.
            vectors: their float32 vectors, one per id.

        Returns:
            A list of (ids, vectors) to add in turn, each in one call.
        """
        own_ids, own = self.contents()
        ids = np.asarray(ids, dtype=np.int64)
        replaced = np.isin(own_ids, ids)
        if replaced.any():  # rarely: the rows' old entries are gone from the graph before a build
            own_ids, own = own_ids[~replaced], own[~replaced]
        vectors = _as_given(vectors).reshape(len(ids), self.dimensions)
        if own.dtype == np.int8:
            return [(own_ids, own), (ids, vectors)]
        every = np.concatenate([own_ids, ids])
        held = np.concatenate([own, vectors.astype(own.dtype)])
        del own
        if np.any(every[1:] < every[:-1]):  # a load's rows come after the graph's: no copy then
            order = np.argsort(every, kind="stable")
            every, held = every[order], held[order]
        return [(every, held)]

    def remove(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.uint64)
        if len(ids):
            present = np.atleast_1d(self._index.contains(ids))
            if present.any():
                self._index.remove(ids[present])

    def contains(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.uint64)
        return np.atleast_1d(self._index.contains(ids)) if len(ids) else np.zeros(0, dtype=bool)

    def search(
        self,
        query: np.ndarray,
        k: int,
        *,
        max_distance: float | None = None,
        min_distance: float | None = None,
        exact: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        query = np.asarray(query, dtype=np.float32)
        # a quantized distance is off by up to `tolerance`: a scan keeps every row within twice that
        # of the k-th, which holds all the truly nearest, for the caller's exact re-rank
        slack = 2 * self.tolerance
        count = min(len(self._index), k if not (exact and slack) else 4 * k)
        if count == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        self._index.expansion_search = self.breadth
        matches = self._index.search(query, count, threads=1, exact=exact)
        found = matches.distances.astype(np.float32)
        if self.distance == "l2":
            found = np.sqrt(np.maximum(found, 0.0))
        ids, found = within_bounds(
            matches.keys.astype(np.int64), found, max_distance, min_distance, self.tolerance
        )
        return nearest(ids, found, k, slack) if exact else (ids, found)

    def save(self, path: Path) -> None:
        """Write the graph to `path`. usearch holds the GIL while it writes (2 s at a million rows,
        which every search in the process waited for): its progress callback lets them in."""
        self._index.save(str(path), progress=_yielding)

    def load(self, path: Path) -> None:
        """Replace the contents with a saved index; raises ValueError if it was built differently."""
        Index = _usearch_index()  # noqa: N806 (a class)
        meta = Index.metadata(str(path))
        if meta is None or meta["dimensions"] != self.dimensions:
            raise ValueError(f"{path} does not hold a {self.dimensions}-d index")
        loaded = Index.restore(str(path))
        if loaded is None or loaded.dtype.name.lower() != self.precision:
            raise ValueError(f"{path} does not hold a {self.precision} index")
        loaded.expansion_search = self.options.expansion_search or 128
        self._index = loaded


_NUMPY_TYPE = {"f32": np.float32, "f16": np.float16, "i8": np.int8}


@functools.cache
def _warn_layout_once() -> None:
    logging.getLogger("livevec").warning(
        "livevec: this usearch's saved graph is not laid out as livevec reads it; unreachable nodes are "
        "found by searching for each new row instead (slower on large loads)"
    )


def _as_given(vectors: np.ndarray) -> np.ndarray:
    """Vectors as usearch takes them: a graph's own float16 or int8 ones as they are (no rounding
    twice), anything else as float32."""
    vectors = np.asarray(vectors)
    return vectors if vectors.dtype in (np.float16, np.int8, np.float32) else vectors.astype(np.float32)


def _callback(function: Callable[[int, int], bool]) -> Callable[[int, int], bool]:
    """`function(done, total)` as a usearch progress callback (True to go on): usearch checks its
    annotations, as types, where this module's are strings."""
    function.__annotations__ = {"done": int, "total": int, "return": bool}
    return function


@_callback
def _yielding(done, total):
    """Lets other Python threads run every 1,024 nodes."""
    if done % 1024 == 0:
        time.sleep(0)  # releases the GIL, which usearch holds while it saves
    return True


def _progress(stopping: Callable[[], bool] | None) -> Callable[[int, int], bool] | None:
    """`stopping` as usearch's progress callback."""
    return None if stopping is None else _callback(lambda done, total: not stopping())


def candidates_to_fetch(limit: int, selectivity: float, tolerance: float) -> int:
    """How many graph neighbours to fetch so that `limit` of them likely pass a filter and a re-rank."""
    fetch = limit / max(selectivity, 1e-6)
    if selectivity < 1.0:
        fetch *= 1.5  # matches are not spread evenly among the neighbours
    if tolerance:
        fetch *= 2  # quantized distances shuffle the order near the k-th: re-rank from a wider pool
    return max(limit, math.ceil(fetch))
