"""Which nodes of a usearch graph no search can reach, read from the graph's own links.

usearch's add on every core leaves a few nodes per ten thousand that no other node links to: no
search can return them. Asking a search for each node's own vector finds them too, but its cost grows
with how hard the vectors are to search (at a million clustered 384-d vectors, 266 s: 29% of the
build), while a walk along the links costs the graph's size whatever the vectors (5.4 s there).
usearch does not hand out its links, so they are read from the graph's saved form (`Index.save()`,
as bytes or a file mapped into memory), whose layout is fixed by the library's file format:

    [u32 rows][u32 bytes per vector][the vectors]        the dense index's matrix
    [64-byte head: b"usearch", versions, kinds, counts]   `index_dense_head_t`
    [u64 size, connectivity, connectivity_base, max_level, entry_slot]
    [i16 level of each node]
    each node: [u64 key][i16 level][u32 count][u32 slot x connectivity_base]
               then per upper level [u32 count][u32 slot x connectivity]

A layout that does not check out in every part is refused (None), never guessed at.
"""

from __future__ import annotations

import numpy as np

_MAGIC = b"usearch"
_HEAD_BYTES = 64
_U32_KIND, _U64_KIND = 15, 14  # usearch's scalar_kind_t for the slot and key types read below
_NODE_HEAD = 10  # the key (u64) and the level (i16)
_CHUNK = 16_384  # nodes gathered at once (keeps the gather's index array near 30 MB)


def unreachable_keys(serialized: bytes | np.ndarray) -> np.ndarray | None:
    """The keys of the nodes that a walk along the bottom level's links from the graph's entry does
    not reach; None if `serialized` is not laid out as this module reads it.

    The bottom level holds every node and is where every search ends, starting from the node the
    upper levels lead it to: a node it cannot reach from the entry is one a search finds only if
    it starts past the gap. Such a node is reported too (adding it again costs one add), so the
    walk errs on the side of mending. Removed nodes stay in a usearch graph as waypoints and are
    walked through like the rest.

    Parameters:
        serialized: what `usearch.index.Index.save()` returns, or the file it writes, mapped
            (any buffer: only the parts read are brought into memory).

    Returns:
        The unreachable nodes' keys (uint64), or None for a layout it does not recognise.
    """
    data = np.frombuffer(serialized, dtype=np.uint8)
    if len(data) < 8:
        return None
    rows, row_bytes = (int(x) for x in data[:8].view(np.uint32))
    head = 8 + rows * row_bytes
    if len(data) < head + _HEAD_BYTES + 40 or data[head : head + 7].tobytes() != _MAGIC:
        return None
    if data[head + 15] != _U64_KIND or data[head + 16] != _U32_KIND:
        return None
    start = head + _HEAD_BYTES
    size, connectivity, connectivity_base, _, entry = (
        int(x) for x in data[start : start + 40].view(np.uint64)
    )
    start += 40
    if size == 0:
        return np.empty(0, dtype=np.uint64)
    if entry >= size or len(data) < start + 2 * size:
        return None
    levels = data[start : start + 2 * size].view(np.int16).astype(np.int64)
    start += 2 * size
    base_bytes = _NODE_HEAD + 4 + 4 * connectivity_base
    sizes = base_bytes + levels * (4 + 4 * connectivity)
    if levels.min() < 0 or start + int(sizes.sum()) != len(data):
        return None
    starts = start + np.concatenate(([0], np.cumsum(sizes[:-1])))

    keys = np.empty(size, dtype=np.uint64)
    links = np.empty((size, connectivity_base), dtype=np.int32)
    key_bytes = np.arange(8)
    link_bytes = np.arange(4 + 4 * connectivity_base) + _NODE_HEAD
    for first in range(0, size, _CHUNK):
        at = starts[first : first + _CHUNK, None]
        keys[first : first + len(at)] = data[at + key_bytes].view(np.uint64).ravel()
        part = data[at + link_bytes].view(np.uint32)
        counts, slots = part[:, 0], part[:, 1:]
        if counts.max() > connectivity_base:
            return None
        # a slot past a node's count is unused: point it at the entry, which is reached already
        slots = np.where(np.arange(connectivity_base) < counts[:, None], slots, entry)
        if slots.max() >= size:
            return None
        links[first : first + len(at)] = slots

    reached = np.zeros(size, dtype=bool)
    reached[entry] = True
    frontier = np.array([entry])
    while len(frontier):
        ahead = links[frontier].ravel()
        ahead = np.unique(ahead[~reached[ahead]])
        reached[ahead] = True
        frontier = ahead
    return keys[~reached]
