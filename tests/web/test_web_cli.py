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


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "shop.example.com"])
@pytest.mark.parametrize("command", ["demo", "serve"])
def test_listening_beyond_loopback_needs_a_token(tmp_path, command, host):
    db = tmp_path / "shop.db"
    if command == "serve":
        db.touch()
    result = CliRunner().invoke(cli, [command, "--db", str(db), "--host", host], env={"LIVEVEC_TOKEN": ""})
    assert isinstance(result.exception, LivevecError)
    message = str(result.exception)
    assert f"--host {host}" in message and "LIVEVEC_TOKEN" in message and "--token" in message
    assert command == "serve" or not db.exists()  # refused before the demo loads its catalog


def test_with_a_token_it_listens_beyond_loopback(tmp_path):
    db = tmp_path / "shop.db"
    db.touch()
    with socket.create_server(("0.0.0.0", 0)) as taken:  # a busy port: it gets as far as listening
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli,
            ["serve", "--db", str(db), "--host", "0.0.0.0", "--port", str(port)],
            env={"LIVEVEC_TOKEN": "t0k"},
        )
    assert isinstance(result.exception, LivevecError)
    assert f"cannot listen on 0.0.0.0:{port}" in str(result.exception)


@pytest.mark.parametrize("token", ["", "has space", "naïve"])
def test_a_token_that_cannot_travel_in_a_header_is_refused(tmp_path, token):
    db = tmp_path / "shop.db"
    db.touch()
    result = CliRunner().invoke(cli, ["serve", "--db", str(db), "--token", token])
    assert isinstance(result.exception, LivevecError)
    assert "the token must be visible ASCII" in str(result.exception)


@pytest.mark.parametrize("size", ["0", "-1", "lots", "5 parsecs", "1.5MB"])
def test_body_limits_are_sizes(tmp_path, size):
    db = tmp_path / "shop.db"
    db.touch()
    result = CliRunner().invoke(cli, ["serve", "--db", str(db), "--max-body", size])
    assert result.exit_code == 2 and "is not a size such as" in result.output


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_the_exposure_options_are_documented(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    for option in ("--token", "LIVEVEC_TOKEN", "--allowed-host", "--max-body", "--max-import"):
        assert option in result.output
