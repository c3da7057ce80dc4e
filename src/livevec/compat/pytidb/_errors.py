"""The errors of the compat layer: what only TiDB does, and bad input as pytidb reports it."""

from __future__ import annotations

from ..._errors import LivevecError, ValidationError


class NotSupportedError(LivevecError):
    """A pytidb feature that needs TiDB or a hosted service; the message says what to use instead."""


class ArgumentError(ValidationError, ValueError):
    """Bad input where pytidb raises `ValueError`: still a livevec `ValidationError`, so code written
    for either catches it."""


def tidb_only(what: str, instead: str) -> NotSupportedError:
    return NotSupportedError(f"{what} needs TiDB, which livevec does not use: {instead}")


# pytidb's embedding providers (its `configure_embedding_provider` names)
PYTIDB_PROVIDERS = ("openai", "jina_ai", "cohere", "huggingface", "nvidia_nim", "gemini")


def provider_missing(provider: str) -> NotSupportedError:
    """A pytidb provider livevec has none of, with what to use instead."""
    return NotSupportedError(
        f"livevec has no {provider} provider: use an openai/ model (api_base= any OpenAI-compatible "
        "server), a local/ model, or livevec.register_provider()"
    )
