"""MkDocs hooks: pages made when the site is built, from the code and the benchmark results.

- `reference/http.md`, from the shop's OpenAPI document;
- `benchmarks/RESULTS.md`, `benchmarks/QUALITY.md` and the chart they show, from `benchmarks/`, so
  the site links to the very files the benchmarks write.

And a check after the build: no page loads a script or a style sheet from another host.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

sys.path.insert(0, str(Path(__file__).parent))
from openapi_page import render  # a sibling module, found once its folder is on the path

ROOT = Path(__file__).resolve().parents[2]
BENCHMARK_FILES = ("RESULTS.md", "QUALITY.md", "quality.png")


def _openapi() -> dict:
    from livevec.web import create_app

    # the app opens its database only when served: the file named here is never created
    with tempfile.TemporaryDirectory() as folder:
        return create_app(Path(folder) / "shop.db").openapi()


def on_files(files: Files, config) -> Files:
    files.append(File.generated(config, "reference/http.md", content=render(_openapi())))
    for name in BENCHMARK_FILES:
        files.append(
            File.generated(config, f"benchmarks/{name}", abs_src_path=str(ROOT / "benchmarks" / name))
        )
    return files


# a <script src> or <link href> that names a host: the site must work offline and leak no visit
_REMOTE = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//", re.I)


def on_post_build(config) -> None:
    remote = [
        str(page.relative_to(config["site_dir"]))
        for page in Path(config["site_dir"]).rglob("*.html")
        if _REMOTE.search(page.read_text(encoding="utf-8"))
    ]
    if remote:
        raise PluginError(f"pages that load a script or style from another host: {', '.join(sorted(remote))}")
