"""A provider for tables whose rows bring their own vectors: no model runs, any size of vector.

Child processes that open such a table register it too: they run `source(...)` first.
"""

from __future__ import annotations

import textwrap


def source(prefix: str, dimensions: int) -> str:
    """Python that registers the provider `prefix/...` of `dimensions`-long vectors."""
    return textwrap.dedent(
        f"""
        import livevec
        from livevec.embeddings import EmbeddingProvider

        class GivenVectors(EmbeddingProvider):
            dimensions = {dimensions}

            def embed(self, texts):
                raise AssertionError("the rows bring their vectors")

        livevec.register_provider({prefix!r}, GivenVectors)
        """
    )
