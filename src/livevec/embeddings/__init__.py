"""Embedding providers behind one interface, chosen by the model name's prefix."""

from ._base import EmbeddingProvider, get_provider, register_provider, registered_providers
from ._function import DEFAULT_MODEL, EmbeddingCache, EmbeddingFunction
from .local import LocalProvider
from .openai import OpenAIProvider

register_provider("local", LocalProvider)
register_provider("openai", OpenAIProvider)

__all__ = [
    "DEFAULT_MODEL",
    "EmbeddingCache",
    "EmbeddingFunction",
    "EmbeddingProvider",
    "LocalProvider",
    "OpenAIProvider",
    "get_provider",
    "register_provider",
    "registered_providers",
]
