"""`livevec serve` and `livevec demo` refuse what they cannot serve, before loading anything."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from livevec import LivevecError
from livevec.cli import cli


def test_serve_needs_an_existing_database_file(tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "missing.db")])
    assert result.exit_code == 2
    assert "no database file" in result.output and "missing.db" in result.output
    assert not (tmp_path / "missing.db").exists()


def test_a_busy_port_is_a_clear_error(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        db = tmp_path / "shop.db"
        db.touch()
        result = CliRunner().invoke(cli, ["serve", "--db", str(db), "--port", str(port)])
    assert isinstance(result.exception, LivevecError)
    assert f"cannot listen on 127.0.0.1:{port}" in str(result.exception)
    assert "pick another --port" in str(result.exception)


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_the_server_commands_document_their_options(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    for option in ("--db", "--host", "--port"):
        assert option in result.output
