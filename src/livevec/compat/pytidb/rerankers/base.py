"""pytidb's reranker interface, for code that declares its own; livevec's searches never call one
(`Search.rerank()` raises `NotSupportedError`)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import pydantic


class RerankResult(pydantic.BaseModel):
    """One document of a rerank: its position in the input and its new score."""

    index: int
    relevance_score: float


class BaseReranker(ABC):
    """A reranker as pytidb declares one: `rerank(query, documents, top_n)`."""

    @abstractmethod
    def rerank(self, query: str, documents: list[str], top_n: int | None = None) -> list[RerankResult]:
        """The documents' positions and scores, best first."""


__all__ = ["BaseReranker", "RerankResult"]
