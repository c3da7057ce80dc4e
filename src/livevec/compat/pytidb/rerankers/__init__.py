"""pytidb's rerankers call a hosted model API; livevec has none to call."""

from __future__ import annotations

from typing import Any

from .._errors import NotSupportedError
from .base import BaseReranker, RerankResult


class Reranker:
    """Raises: livevec ranks with its own vector, full-text and hybrid searches only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotSupportedError(
            "rerankers call a hosted API, which livevec does not use: "
            'table.search(text, search_type="hybrid").fusion(...) is the nearest thing'
        )


LiteLLMReranker = Reranker

__all__ = ["BaseReranker", "LiteLLMReranker", "RerankResult", "Reranker"]
