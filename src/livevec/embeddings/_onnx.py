"""A sentence-transformers model run by ONNX Runtime instead of PyTorch: the same vectors, faster.

Either a package ships the transformer as an ONNX file (the default model: no PyTorch anywhere), or
it ships PyTorch weights, and the first use exports the transformer to an ONNX file with torch
(offline: from the installed weights) and keeps it in the user's cache folder, named after the model
files; later processes load the file without importing torch. An exported file that ONNX Runtime
cannot load (cut short, damaged) is exported again. Texts are tokenized by the `tokenizers` library
from the model's `tokenizer.json`; pooling and normalisation, the two sentence-transformers modules
after the transformer, are done here with numpy.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import EmbeddingError

# bump when the exported graph changes shape (inputs, outputs, opset): old files are then ignored
_EXPORT_FORMAT = 1
_OPSET = 17
_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


def cache_dir() -> Path:
    """Where exported models are kept: `$LIVEVEC_CACHE_DIR`, else the user's cache folder."""
    if os.environ.get("LIVEVEC_CACHE_DIR"):
        return Path(os.environ["LIVEVEC_CACHE_DIR"])
    import platformdirs

    return platformdirs.user_cache_path("livevec")


def missing(export: bool) -> list[str]:
    """The packages this runner needs that are not installed: ONNX Runtime and `tokenizers`, and to
    export a model from its PyTorch weights, torch, transformers and `onnx` too."""
    from importlib.util import find_spec

    needed = ["onnxruntime", "tokenizers"] + (["torch", "transformers", "onnx"] if export else [])
    return [name for name in needed if find_spec(name) is None]


def pipeline(model_dir: Path) -> dict[str, Any] | None:
    """The model's modules as this runner needs them, or None if it cannot run them.

    Supported: a transformer, mean or CLS pooling, and an optional normalisation, in that order.
    """
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        types = [m["type"] for m in modules]
        if types not in ([_TRANSFORMER, _POOLING], [_TRANSFORMER, _POOLING, _NORMALIZE]):
            return None
        pooling = json.loads((model_dir / modules[1]["path"] / "config.json").read_text())
        st_config = model_dir / modules[0]["path"] / "sentence_bert_config.json"
        settings = json.loads(st_config.read_text()) if st_config.is_file() else {}
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v}
    if modes not in ({"pooling_mode_mean_tokens"}, {"pooling_mode_cls_token"}):
        return None
    return {
        "transformer": model_dir / modules[0]["path"],
        "pooling": "mean" if "pooling_mode_mean_tokens" in modes else "cls",
        "normalize": len(modules) == 3,
        "max_length": settings.get("max_seq_length"),
        "lower_case": bool(settings.get("do_lower_case", False)),
    }


class OnnxModel:
    """Encodes texts like `SentenceTransformer.encode`, with the transformer run by ONNX Runtime.

    `onnx_file`: the transformer as an ONNX file a package ships (inputs input_ids, attention_mask,
    token_type_ids; output last_hidden_state); None exports it from the folder's PyTorch weights.
    """

    def __init__(self, steps: dict[str, Any], onnx_file: Path | None = None) -> None:
        self.steps = steps
        self.transformer_dir = Path(steps["transformer"])
        self.max_length = steps["max_length"] or min(_model_max_length(self.transformer_dir), 512)
        self.tokenizer = _tokenizer(self.transformer_dir, self.max_length)
        self.shipped = onnx_file is not None
        self.path = (
            onnx_file or cache_dir() / "onnx" / f"{self.transformer_dir.resolve().name}-{self._key()}.onnx"
        )
        self._lock = threading.Lock()
        self.session = self._session()
        self.input_names = [i.name for i in self.session.get_inputs()]

    def _key(self) -> str:
        """Names the export by the model files' path, size and time, as a build cache would: another
        version of the model gets another file, without reading its weights at every start."""
        h = hashlib.blake2b(f"{_EXPORT_FORMAT}|{self.max_length}".encode(), digest_size=8)
        for name in ("config.json", *_WEIGHTS):
            path = self.transformer_dir / name
            if path.is_file():
                stat = path.stat()
                h.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
        return h.hexdigest()

    def _session(self) -> Any:
        import onnxruntime

        for attempt in (1, 2):
            if not self.path.is_file() and not self.shipped:
                self._export()
            try:
                options = onnxruntime.SessionOptions()
                # idle threads sleep instead of spinning: a spinning pool holds the cores that the
                # server's searches and other processes need (one text: 24 ms against 36 ms while
                # the machine is busy, benchmarks/RESULTS.md)
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                return onnxruntime.InferenceSession(
                    str(self.path), options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # ONNX Runtime raises its own exception types for a bad file
                if self.shipped:  # a package's file is not ours to replace
                    raise EmbeddingError(
                        f"cannot load the model file {self.path}: {exc}; reinstall the package that ships it"
                    ) from exc
                if attempt == 2:
                    raise EmbeddingError(f"cannot load the exported model {self.path}: {exc}") from exc
                self.path.unlink(missing_ok=True)  # damaged: export it again
        raise AssertionError("unreachable")

    def _export(self) -> None:
        """Export the transformer from its PyTorch weights (needs torch, once per model and machine)."""
        import torch
        from transformers import AutoModel, AutoTokenizer

        model = AutoModel.from_pretrained(str(self.transformer_dir), local_files_only=True).eval()
        tokenizer = AutoTokenizer.from_pretrained(str(self.transformer_dir), local_files_only=True)
        names = list(tokenizer("an example", return_tensors="pt").keys())

        class LastHiddenState(torch.nn.Module):
            # the exporter passes inputs by position; the model's forward takes them by name
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
                return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

        example = tokenizer(["an example", "a longer example text"], padding=True, return_tensors="pt")
        axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
        try:
            with torch.no_grad(), warnings.catch_warnings():
                # the tracer warns of shapes it fixes as constants; the graph is checked against
                # PyTorch's vectors at several lengths and paddings (tests/test_embedding.py)
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    LastHiddenState(),
                    tuple(example[n] for n in names),
                    str(temp),
                    input_names=names,
                    output_names=["last_hidden_state"],
                    dynamic_axes=axes,
                    opset_version=_OPSET,
                    dynamo=False,
                )
            os.replace(temp, self.path)  # atomic: another process never sees half a file
        finally:
            temp.unlink(missing_ok=True)

    def _tokens(self, texts: list[str]) -> tuple[int, dict[str, np.ndarray]]:
        """(how many texts were cut to `max_length`, the model's inputs): padded to the longest text
        of the batch, as transformers' `padding=True, truncation=True` does."""
        encodings = self.tokenizer.encode_batch(texts)
        cut = sum(1 for e in encodings if e.overflowing)
        columns = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        return cut, {name: columns[name] for name in self.input_names}

    def encode(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, int]:
        """One float32 vector per text, in order, and how many texts were cut to `max_length` tokens.

        Texts run sorted by length so batches pad little.
        """
        order = np.argsort([-len(t) for t in texts], kind="stable")
        batches = [
            self._encode_batch([texts[i] for i in order[start : start + batch_size]])
            for start in range(0, len(texts), batch_size)
        ]
        if not batches:
            return np.empty((0, 0), dtype=np.float32), 0
        out = np.empty((len(texts), batches[0][0].shape[1]), dtype=np.float32)
        out[order] = np.vstack([vectors for vectors, _ in batches])
        return out, sum(cut for _, cut in batches)

    def _encode_batch(self, texts: list[str]) -> tuple[np.ndarray, int]:
        if self.steps["lower_case"]:
            texts = [t.lower() for t in texts]
        cut, feed = self._tokens(texts)
        with self._lock:  # one run at a time: ONNX Runtime already uses every core for one batch
            hidden = self.session.run(None, feed)[0]
        if self.steps["pooling"] == "cls":
            vectors = hidden[:, 0]
        else:
            mask = feed["attention_mask"][..., None].astype(np.float32)
            vectors = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        if self.steps["normalize"]:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.astype(np.float32), cut


def truncated(tokens: Any) -> int:
    """How many texts a tokenizer call cut: the fast (Rust) tokenizer keeps what it cut off each text
    in `overflowing` at no extra cost. A slow (Python) tokenizer keeps nothing: 0."""
    return sum(1 for encoding in tokens.encodings or () if encoding.overflowing)


def _tokenizer(model_dir: Path, max_length: int) -> Any:
    """The model's fast tokenizer from its `tokenizer.json`, with the `tokenizers` library alone:
    transformers' AutoTokenizer wraps the same one but imports PyTorch, which made a fresh process's
    first embedding take 2 s instead of a few tenths."""
    from tokenizers import Tokenizer

    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise EmbeddingError(f"{model_dir} has no tokenizer.json: the ONNX runtime needs a fast tokenizer")
    tokenizer = Tokenizer.from_file(str(path))
    # the file may fix its own lengths (all-MiniLM-L6-v2's pads and cuts to 128): the model's window
    # is `max_length`, and a batch is padded to its longest text
    pad = _pad_token(model_dir)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id(pad) or 0, pad_token=pad)
    tokenizer.enable_truncation(max_length)
    return tokenizer


def _model_max_length(model_dir: Path) -> int:
    config_path = model_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    return int(config.get("model_max_length") or 512)


def _pad_token(model_dir: Path) -> str:
    config_path = model_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    pad = config.get("pad_token") or "[PAD]"
    return pad["content"] if isinstance(pad, dict) else pad
