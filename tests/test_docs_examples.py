"""Every ```python block of the docs and the README runs as written: page by page, in order, in a
temporary folder, offline, with the default model.

A block that cannot run here (a server, PostgreSQL, an endless loop) is marked by an HTML comment on
the line before it, `<!-- not run: the reason -->`; at most a fifth of the blocks may be.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

import livevec

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# a fence may be indented (inside a list item); its body is dedented by the fence's indent
_FENCE = re.compile(r"^(?P<indent>[ ]*)```python[ ]*\n(?P<code>.*?)^(?P=indent)```[ ]*$", re.M | re.S)
_NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<reason>.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    code: str
    not_run: str | None  # the reason, for a block marked not run


def blocks_of(page: Path) -> list[Block]:
    """The page's python blocks, in order, each with the reason it is not run (if it is marked)."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marked = _NOT_RUN.search(before)
        found.append(
            Block(
                page=page,
                line=text.count("\n", 0, match.start()) + 1,
                code=textwrap.dedent(match["code"]),
                not_run=marked["reason"] if marked else None,
            )
        )
    return found


ALL_BLOCKS = [block for page in PAGES for block in blocks_of(page)]


def test_the_pages_have_examples_and_few_are_not_run():
    not_run = [block for block in ALL_BLOCKS if block.not_run is not None]
    assert len(ALL_BLOCKS) >= 20
    assert all(block.not_run for block in not_run), "a block marked not run gives no reason"
    assert len(not_run) * 5 <= len(ALL_BLOCKS), [f"{b.page.name}:{b.line}" for b in not_run]


@pytest.fixture
def offline(monkeypatch):
    """Refuse every connection but loopback and local sockets: the examples must not reach a network."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise OSError(f"an example tried to reach {host}: the docs' examples run offline")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.mark.parametrize(
    "page",
    [page for page in PAGES if any(b.page == page and b.not_run is None for b in ALL_BLOCKS)],
    ids=lambda page: str(page.relative_to(ROOT)),
)
def test_the_page_runs(page: Path, tmp_path, monkeypatch, offline):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    ran = 0
    try:
        for block in blocks_of(page):
            if block.not_run is not None:
                continue
            code = compile(block.code, f"{page.relative_to(ROOT)}:{block.line}", "exec")
            exec(code, namespace)
            ran += 1
    finally:  # close what the page opened, so its threads and files go with the test
        for value in namespace.values():
            if isinstance(value, livevec.Database):
                value.close()
    assert ran > 0
