"""Local embedding throughput: sentences/second for bulk inserts and single-text latency.

    .venv/bin/python benchmarks/embedding_speed.py [--texts 2000]

Real Icecat product texts through all-MiniLM-L6-v2 on the CPU. Compares the model batch size, how
many texts one provider call receives (sentence-transformers sorts by length within a call, so a
bigger call pads less), and torch's thread count. Every variant's vectors are compared with the
reference (the library's settings) by cosine similarity, so a faster variant cannot lose quality.
"""

from __future__ import annotations

import argparse
import copy
import time
import warnings

import numpy as np
import torch

from _data import icecat_texts
from _report import percentile_ms, table
from livevec import EmbeddingFunction
from livevec.embeddings.local import LocalProvider


def run(
    texts: list[str], per_call: int, model_batch: int, threads: int, model=None
) -> tuple[float, np.ndarray]:
    torch.set_num_threads(threads)
    model = model or EmbeddingFunction().provider._model
    out = []
    started = time.perf_counter()
    for start in range(0, len(texts), per_call):
        out.append(
            model.encode(texts[start : start + per_call], batch_size=model_batch, convert_to_numpy=True)
        )
    return len(texts) / (time.perf_counter() - started), np.vstack(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # torch.ao's deprecation notices
    _, texts = icecat_texts()
    texts = texts[: args.texts]
    cores = torch.get_num_threads()
    provider = EmbeddingFunction().provider
    assert isinstance(provider, LocalProvider)
    provider.embed(["load the model outside the timings"])
    # the library's own path first: EmbeddingFunction.embed_documents with its settings
    fn = EmbeddingFunction()
    started = time.perf_counter()
    reference = fn.embed_documents(texts)
    library_rate = len(texts) / (time.perf_counter() - started)
    rows = [
        [
            f"livevec embed_documents (per call {provider.batch_size}, batch {provider.model_batch_size})",
            f"{library_rate:.0f}",
            "1.00000",
        ]
    ]
    for per_call, model_batch, threads in [
        (64, 64, cores),
        (512, 64, cores),
        (512, 32, cores),
        (512, 16, cores),
        (512, 8, cores),
        (2000, 32, cores),
        (512, 32, 1),
    ]:
        rate, vectors = run(texts, per_call, model_batch, threads)
        similarity = float(np.min(np.sum(vectors * reference, axis=1)))
        rows.append(
            [
                f"encode: per call {per_call}, batch {model_batch}, {threads} threads",
                f"{rate:.0f}",
                f"{similarity:.5f}",
            ]
        )
    torch.set_num_threads(cores)
    # int8 dynamic quantization of the Linear layers: the quantized path torch offers without extra
    # packages; kept only if the vectors stay close to the float32 ones
    quantized = torch.ao.quantization.quantize_dynamic(
        copy.deepcopy(provider._model), {torch.nn.Linear}, dtype=torch.qint8
    )
    rate, vectors = run(texts, 512, 32, cores, quantized)
    cosines = np.sum(vectors * reference, axis=1)
    rows.append(
        [
            f"int8 dynamic quantization, per call 512, batch 32, {cores} threads",
            f"{rate:.0f}",
            f"{float(np.min(cosines)):.5f} (mean {float(np.mean(cosines)):.3f})",
        ]
    )
    latencies = []
    for text in texts[:200]:
        started = time.perf_counter()
        fn._call([text])  # uncached: embed_query keeps an LRU of repeated queries
        latencies.append(time.perf_counter() - started)
    print(
        f"{len(texts)} Icecat texts (mean {np.mean([len(t) for t in texts]):.0f} chars), "
        f"torch {torch.__version__}, {cores} threads"
    )
    print(table(["variant", "sentences/s", "min cosine vs livevec"], rows))
    print(f"\nsingle text: p50 {percentile_ms(latencies, 50)} ms, p99 {percentile_ms(latencies, 99)} ms")


if __name__ == "__main__":
    main()
