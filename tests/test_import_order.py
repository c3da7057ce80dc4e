"""Every import order works (issue 23): usearch, onnxruntime, tokenizers, numpy, pandas and livevec imported in
several orders by fresh processes, each then embedding with the default model and searching.

usearch 2.26.2 and later load their SIMD library (numkong) with RTLD_GLOBAL, and ONNX Runtime imported
after it crashes the process (SIGSEGV) in its module initialisation: pyproject keeps usearch below
2.26.2, and this test proves the pair that is installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# every package with native code in the default install: usearch (and numkong), onnxruntime,
# tokenizers, numpy, pandas
ORDERS = [
    ["usearch.index", "onnxruntime", "numpy", "pandas", "livevec"],
    ["onnxruntime", "usearch.index", "livevec"],
    ["livevec", "usearch.index", "onnxruntime"],
    ["numpy", "pandas", "usearch.index", "livevec", "onnxruntime"],
    ["pandas", "livevec", "onnxruntime", "usearch.index"],
    ["tokenizers", "usearch.index", "onnxruntime", "livevec"],
    ["usearch.index", "tokenizers", "livevec", "onnxruntime"],
    ["onnxruntime", "tokenizers", "pandas", "usearch.index", "livevec"],
]


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
def test_any_import_order_then_embed_and_search(order, tmp_path):
    program = textwrap.dedent(
        f"""
        import importlib
        for name in {order!r}:
            importlib.import_module(name)
        import livevec
        from livevec import EmbeddingFunction, Field, TableModel

        class Item(TableModel):
            __tablename__ = "items"
            id: int = Field(primary_key=True)
            text: str
            vec: list[float] | None = EmbeddingFunction().VectorField("text")

        db = livevec.connect({str(tmp_path / "items.db")!r})
        table = db.create_table(Item)
        table.insert([{{"id": 1, "text": "a yoga mat"}}, {{"id": 2, "text": "a cooking pot"}}])
        print(table.search("exercise at home").limit(1).to_list()[0]["id"])
        db.close()
        """
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stderr[-2000:]}"
    assert done.stdout.strip().splitlines()[-1] == "1"
