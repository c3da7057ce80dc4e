"""The bounds on what streams hold, in process: the message cache in bytes, the stream slots."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from livevec.web._streams import MessageCache, StreamSlots


def test_the_message_cache_holds_at_most_its_bytes_the_least_recently_used_going_first():
    cache = MessageCache(max_bytes=1000)
    for i in range(10):
        cache.put(("q", i), "x" * 300)
        assert cache.size <= 1000
    assert cache.get(("q", 9)) is not None and cache.get(("q", 0)) is None
    cache.get(("q", 7))  # used: kept over 8
    cache.put(("q", 10), "y" * 300)
    assert cache.get(("q", 7)) is not None and cache.get(("q", 8)) is None
    cache.put(("big",), "z" * 5000)  # larger than the whole cache: not kept, nothing evicted
    assert cache.get(("big",)) is None and cache.get(("q", 10)) is not None


def test_stream_slots_per_client_and_in_all():
    slots = StreamSlots(per_client=2, total=3)
    slots.take("a")
    slots.take("a")
    with pytest.raises(HTTPException) as refused:
        slots.take("a")
    assert refused.value.status_code == 429 and refused.value.headers == {"Retry-After": "5"}
    slots.take("b")
    with pytest.raises(HTTPException) as refused:
        slots.take("c")
    assert refused.value.status_code == 503
    slots.give_back("a")
    slots.take("c")
    assert slots.open == 3
