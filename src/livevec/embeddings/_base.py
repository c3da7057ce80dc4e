"""The provider interface and the registry that maps a model name's prefix to a provider."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._errors import EmbeddingError


class EmbeddingProvider(ABC):
    """Turns texts into vectors. Subclass it and `register_provider("prefix", YourClass)`.

    An instance is made once per process for each (model, options) and shared, so heavy state (a
    loaded model, an HTTP connection pool) belongs on the instance and may be created lazily.

    Usage:
        ```python
        class Letters(livevec.EmbeddingProvider):
            dimensions = 26

            def embed(self, texts):
                return [[text.lower().count(chr(97 + i)) + 1 for i in range(26)] for text in texts]

        livevec.register_provider("letters", Letters)
        embed = livevec.EmbeddingFunction("letters/v1")
        ```

    Parameters:
        model: the model's name, after the prefix (`EmbeddingFunction("prefix/model")`).
        **options: the `EmbeddingFunction`'s other keyword options; this base class takes none.
    """

    #: how many texts one `embed` call should receive
    batch_size: int = 64
    #: instructions the model was trained with, put before each search text / stored text by
    #: `EmbeddingFunction` unless it is given others (e5: "query: " / "passage: ")
    query_prefix: str = ""
    document_prefix: str = ""
    #: which weights of the model make its vectors, when one name has had several (the embedding
    #: cache keeps their vectors apart); "" for the model's only ones
    weights: str = ""

    def __init__(self, model: str, **options: Any) -> None:
        if options:
            raise EmbeddingError(f"{type(self).__name__} takes no options, got {sorted(options)}")
        self.model = model

    @property
    @abstractmethod
    def dimensions(self) -> int:
        """Length of the vectors this model returns."""

    @abstractmethod
    def embed(self, texts: list[str]) -> Sequence[Sequence[float]] | np.ndarray:
        """One vector per text, in order.

        Parameters:
            texts: at most `batch_size` texts, instructions (`document_prefix`) already put before them.

        Returns:
            A vector of `dimensions` numbers per text.
        """

    def embed_queries(self, texts: list[str]) -> Sequence[Sequence[float]] | np.ndarray:
        """One vector per search query; for models whose API tells queries from documents itself.

        Parameters:
            texts: search texts, `query_prefix` already put before them.

        Returns:
            A vector of `dimensions` numbers per text; `embed(texts)` unless overridden.
        """
        return self.embed(texts)


_registry: dict[str, type[EmbeddingProvider]] = {}
_instances: dict[tuple, EmbeddingProvider] = {}
_lock = threading.Lock()


def registered_providers() -> list[str]:
    """The prefixes of the providers registered ("local", "openai", and any `register_provider` added)."""
    return sorted(_registry)


def register_provider(prefix: str, provider: type[EmbeddingProvider]) -> None:
    """Make `EmbeddingFunction("prefix/model")` use `provider(model, **options)`.

    Parameters:
        prefix: the word before the `/` of model names (replaces a provider registered under it).
        provider: an `EmbeddingProvider` subclass.

    Raises:
        EmbeddingError: `prefix` is empty or holds a `/`, or `provider` is not an `EmbeddingProvider`
            subclass.
    """
    if not prefix or "/" in prefix:
        raise EmbeddingError(f"a provider prefix is a non-empty word without '/', got {prefix!r}")
    if not (isinstance(provider, type) and issubclass(provider, EmbeddingProvider)):
        raise EmbeddingError(f"{provider!r} is not an EmbeddingProvider subclass")
    _registry[prefix] = provider


def get_provider(model_name: str, options: dict[str, Any]) -> EmbeddingProvider:
    """The process-wide provider instance for this model name and options."""
    prefix, sep, model = model_name.partition("/")
    if not sep or not model:
        raise EmbeddingError(
            f"model name {model_name!r} must look like 'provider/model', e.g. 'local/all-MiniLM-L6-v2'"
        )
    if prefix not in _registry:
        raise EmbeddingError(f"unknown embedding provider {prefix!r}; registered: {sorted(_registry)}")
    key = (model_name, tuple(sorted((k, repr(v)) for k, v in options.items())))
    with _lock:
        if key not in _instances:
            _instances[key] = _registry[prefix](model, **options)
        return _instances[key]
