"""Write what each ```python block of a docs page prints into the ```text block right after it.

    PYTHONPATH=src python docs/_tools/outputs.py docs/guides/search.md [...]

The blocks run as tests/test_docs_examples.py runs them (page by page, in order, in a temporary
folder, sharing one namespace; blocks marked `<!-- not run: ... -->` are skipped), so the output a
page shows is the output its code gives. A block that prints but has no text block after it is
reported, not changed. Run it after editing a page's code, and read the diff.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

import livevec  # noqa: E402
from test_docs_examples import _FENCE, _NOT_RUN  # noqa: E402 - the test's own reading of a page

_OUTPUT = re.compile(r"\n\n```text\n(.*?)```\n", re.S)


def fill(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    edits = []
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            for match in _FENCE.finditer(text):
                before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
                if _NOT_RUN.search(before):
                    continue
                line = text.count("\n", 0, match.start()) + 1
                printed = io.StringIO()
                with contextlib.redirect_stdout(printed):
                    exec(compile(textwrap.dedent(match["code"]), f"{page.name}:{line}", "exec"), namespace)
                after = _OUTPUT.match(text, match.end())
                if after:
                    edits.append((after.start(1), after.end(1), printed.getvalue()))
                elif printed.getvalue():
                    print(f"{page}:{line} prints but has no ```text block after it", file=sys.stderr)
        finally:
            for value in namespace.values():
                if isinstance(value, livevec.Database):
                    value.close()
            os.chdir(here)
    for start, end, output in reversed(edits):
        text = text[:start] + output + text[end:]
    page.write_text(text, encoding="utf-8")
    print(f"{page}: {len(edits)} outputs written")


if __name__ == "__main__":
    for name in sys.argv[1:]:
        fill(Path(name).resolve())
