"""pytidb's `EmbeddingFunction`, on livevec's providers: texts are embedded in this process.

embed_fn = EmbeddingFunction(model_name="openai/text-embedding-3-small")   # OpenAI-compatible API
embed_fn = EmbeddingFunction("local/all-MiniLM-L6-v2")                     # offline, no key
text_vec: list[float] = embed_fn.VectorField(source_field="text")
"""

from __future__ import annotations

from typing import Any

from ...._errors import EmbeddingError
from ....embeddings import EmbeddingFunction as _EmbeddingFunction
from ....embeddings import registered_providers
from .._errors import PYTIDB_PROVIDERS, provider_missing, tidb_only
from ..schema import VectorField

# pytidb's short names
_ALIASES = {
    name: f"openai/{name}"
    for name in ("text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002")
}
# keys given to TiDBClient.configure_embedding_provider, by provider: used by functions made after it
provider_api_keys: dict[str, str] = {}


class EmbeddingFunction(_EmbeddingFunction):
    """An embedding model named `provider/model`: `openai/...` (`api_key`, `api_base`, `dimensions`,
    `timeout` go to livevec's OpenAI-compatible provider), `local/...` (which, needing no key, ignores
    `api_key`), or a registered provider (which gets `api_key`).

    Server-side embedding (`use_server=True`) and images (`multimodal=True`) are TiDB's and raise.
    `caching` is moot (livevec always keeps each text's vector in the database), and so is
    `additional_json_options`, which pytidb too sends only to TiDB's server-side embedding.
    """

    def __init__(
        self,
        model_name: str,
        dimensions: int | None = None,
        api_key: str | None = None,
        api_base: str | None = None,
        timeout: float | None = None,
        caching: bool = True,
        use_server: bool | None = None,
        additional_json_options: dict[str, Any] | None = None,
        multimodal: bool = False,
        **kwargs: Any,
    ) -> None:
        if use_server:
            raise tidb_only(
                "server-side embedding (use_server=True)",
                "livevec embeds on insert and search in this process; leave use_server out",
            )
        if multimodal:
            raise EmbeddingError("multimodal=True: livevec embeds text only")
        model_name = _ALIASES.get(model_name, model_name)
        provider = model_name.partition("/")[0]
        if provider in PYTIDB_PROVIDERS and provider not in registered_providers():
            raise provider_missing(provider)
        options = dict(kwargs)
        if model_name.startswith("openai/"):
            options.update(api_key=api_key or provider_api_keys.get("openai"), base_url=api_base)
            options.update(dimensions=dimensions, timeout=timeout)
        elif api_base:
            raise EmbeddingError(
                f"{model_name}: api_base is for openai/ models (an OpenAI-compatible server)"
            )
        elif not model_name.startswith("local/"):
            options.update(api_key=api_key)  # a registered provider's own concern
        # a local model needs no key: one given is ignored, so that a program ported from pytidb by
        # changing only its model name runs
        super().__init__(model_name, **{name: value for name, value in options.items() if value is not None})
        if dimensions is not None and dimensions != self.dimensions:
            raise EmbeddingError(f"{model_name} makes {self.dimensions}-d vectors, not {dimensions}")

    @property
    def use_server(self) -> bool:
        return False

    def VectorField(self, source_field: str | None = None, source_type: str = "text", **kwargs: Any) -> Any:  # noqa: N802
        """A `list[float]` field embedded from `source_field` on insert (and its query on search)."""
        return VectorField(source_field=source_field, embed_fn=self, source_type=source_type, **kwargs)

    def get_query_embedding(self, query: str, source_type: str = "text", **kwargs: Any) -> list[float]:
        return self.embed_query(query).tolist()

    def get_source_embedding(self, source: str, source_type: str = "text", **kwargs: Any) -> list[float]:
        return self.embed_documents([source])[0].tolist()

    def get_source_embeddings(
        self, sources: list[str], source_type: str = "text", **kwargs: Any
    ) -> list[list[float]]:
        return self.embed_documents(sources).tolist()


__all__ = ["EmbeddingFunction"]
