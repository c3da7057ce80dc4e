"""pytidb's `BaseEmbeddingFunction`: subclass it to embed with your own code.

    class HashEmbedding(BaseEmbeddingFunction):
        def get_query_embedding(self, query, source_type="text", **kwargs): ...
        def get_source_embedding(self, source, source_type="text", **kwargs): ...
        def get_source_embeddings(self, sources, source_type="text", **kwargs): ...

    embed_fn = HashEmbedding(model_name="hash", dimensions=64)
    vec: list[float] = embed_fn.VectorField(source_field="text")

livevec calls `get_source_embeddings` on insert and update and `get_query_embedding` on search; a
table declared with it is reopened with the class that declares it (`open_table(Model)`, or by name
in the process that declared it).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from typing import Any, Literal

import numpy as np
import pydantic

from ...._errors import SchemaError
from ....embeddings import EmbeddingFunction as _EmbeddingFunction
from ....embeddings import EmbeddingProvider

EmbeddingSourceType = Literal["text", "image"]


class BaseEmbeddingFunction(pydantic.BaseModel, ABC):
    """An embedding model of your own, with pytidb's fields and abstract methods."""

    provider: str = "openai"
    model_name: str | None = None
    dimensions: int | None = None
    use_server: bool = False
    additional_json_options: dict[str, Any] | None = None

    def VectorField(  # noqa: N802 - pytidb's name
        self, source_field: str | None = None, source_type: EmbeddingSourceType = "text", **kwargs: Any
    ) -> Any:
        """A `list[float]` field embedded from `source_field` by this function.

        Raises:
            SchemaError: `dimensions` is not set, or `use_server=True` (TiDB's own embedding).
        """
        from ..schema import VectorField

        if self.use_server:
            raise SchemaError(
                "use_server=True: server-side embedding is TiDB's; livevec embeds in this process"
            )
        if not isinstance(self.dimensions, int) or self.dimensions < 1:
            raise SchemaError(
                f"{type(self).__name__}: set dimensions, a positive int, to declare a VectorField"
            )
        return VectorField(
            source_field=source_field, embed_fn=_Adapter(self), source_type=source_type, **kwargs
        )

    @abstractmethod
    def get_query_embedding(
        self, query: Any, source_type: EmbeddingSourceType = "text", **kwargs: Any
    ) -> list[float]:
        """The vector of a search query."""

    @abstractmethod
    def get_source_embedding(
        self, source: Any, source_type: EmbeddingSourceType = "text", **kwargs: Any
    ) -> list[float]:
        """The vector of one stored value."""

    @abstractmethod
    def get_source_embeddings(
        self, sources: list[Any], source_type: EmbeddingSourceType = "text", **kwargs: Any
    ) -> list[list[float]]:
        """The vectors of several stored values, in order."""


class _Provider(EmbeddingProvider):
    """livevec's provider interface over a `BaseEmbeddingFunction`."""

    def __init__(self, function: BaseEmbeddingFunction) -> None:
        self.model = str(function.model_name)
        self.function = function

    @property
    def dimensions(self) -> int:
        return int(self.function.dimensions)  # type: ignore[arg-type] - checked by VectorField

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.function.get_source_embeddings(texts, "text"), dtype=np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.asarray([self.function.get_query_embedding(t, "text") for t in texts], dtype=np.float32)


class _Adapter(_EmbeddingFunction):
    """A livevec `EmbeddingFunction` whose provider is a `BaseEmbeddingFunction`, not a registered one."""

    def __init__(self, function: BaseEmbeddingFunction) -> None:
        # livevec's __init__ looks the model up among registered providers: this one is given
        self._provider = _Provider(function)
        self.model_name = f"custom/{function.model_name or type(function).__name__}"
        self.options = {}
        self._query_cache = OrderedDict()
        self._query_lock = threading.Lock()
        self.default_prefixes = ("", "")
        self.query_prefix = self.document_prefix = ""

    @property
    def provider(self) -> EmbeddingProvider:
        return self._provider


__all__ = ["BaseEmbeddingFunction", "EmbeddingSourceType"]
