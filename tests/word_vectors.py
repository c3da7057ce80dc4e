"""A fast, deterministic embedding model for tests: `words/<dimensions>` hashes each word of a text
into one of the dimensions (a bag of words), so a text is nearest to the texts sharing its words.

Importing this module registers the provider (subprocesses of tests import it too). Option `delay`:
seconds each call sleeps, to make a long job that a test can interrupt; `fail_on`: a word whose
text makes the call fail.
"""

from __future__ import annotations

import hashlib
import re
import time

import numpy as np

import livevec
from livevec import EmbeddingProvider

CALLS: list[list[str]] = []  # every call's texts, in this process


class WordVectors(EmbeddingProvider):
    batch_size = 16

    def __init__(self, model: str, delay: float = 0.0, fail_on: str | None = None) -> None:
        self.model = model
        self._dimensions = int(model)
        self.delay = delay
        self.fail_on = fail_on

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def embed(self, texts: list[str]) -> np.ndarray:
        CALLS.append(list(texts))
        if self.delay:
            time.sleep(self.delay)
        return self.vectors(texts)

    def vectors(self, texts: list[str]) -> np.ndarray:
        """What `embed` returns, without counting a call."""
        out = np.zeros((len(texts), self._dimensions), dtype=np.float32)
        for i, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower())
            if self.fail_on is not None and self.fail_on in words:
                raise RuntimeError(f"the model cannot read {self.fail_on!r}")
            out[i, 0] = 0.01  # never a zero vector
            for word in words:
                slot = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
                out[i, slot % self._dimensions] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


livevec.register_provider("words", WordVectors)
