"""`openai/<model>`: OpenAI's embeddings API or any server that speaks it (`base_url=`)."""

from __future__ import annotations

import os
import time
from functools import cached_property

import httpx

from .._errors import EmbeddingError
from ._base import EmbeddingProvider

KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAIProvider(EmbeddingProvider):
    """POSTs batches to `{base_url}/embeddings`, retrying 429/5xx and dropped connections with backoff."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        dimensions: int | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        batch_size: int = 256,
    ) -> None:
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip(
            "/"
        )
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self._dimensions = dimensions
        self.timeout = timeout
        self.max_retries = max_retries
        self.batch_size = batch_size

    @cached_property
    def _client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=self.timeout)

    @cached_property
    def dimensions(self) -> int:
        if self._dimensions:
            return self._dimensions
        if self.model in KNOWN_DIMENSIONS:
            return KNOWN_DIMENSIONS[self.model]
        return len(self.embed(["dimension probe"])[0])

    def embed(self, texts: list[str]) -> list[list[float]]:
        body: dict = {"model": self.model, "input": texts}
        if self._dimensions:
            body["dimensions"] = self._dimensions
        data = self._post(body)["data"]
        if len(data) != len(texts):
            raise EmbeddingError(f"openai/{self.model}: sent {len(texts)} texts, got {len(data)} vectors")
        return [item["embedding"] for item in sorted(data, key=lambda item: item["index"])]

    def _post(self, body: dict) -> dict:
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = self._client.post("/embeddings", json=body)
            except httpx.TransportError as exc:
                if last:
                    raise EmbeddingError(f"openai/{self.model}: {self.base_url} unreachable: {exc}") from exc
                time.sleep(self._backoff(attempt, None))
                continue
            if response.status_code in _RETRY_STATUS and not last:
                time.sleep(self._backoff(attempt, response.headers.get("retry-after")))
                continue
            if response.is_error:
                raise EmbeddingError(
                    f"openai/{self.model}: HTTP {response.status_code} from {self.base_url}: {response.text[:300]}"
                )
            return response.json()
        raise AssertionError("unreachable")

    @staticmethod
    def _backoff(attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), 60.0)
            except ValueError:
                pass
        return min(0.5 * 2**attempt, 20.0)
