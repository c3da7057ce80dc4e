"""The service's blocking work runs on pools of its own, and a stream that a client leaves while it
is starting leaves nothing open (issue 21, findings 5 and 6). In process, with the app's lifespan."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from livevec import StorageError
from livevec.web import create_app
from livevec.web._workers import open_handle

from .conftest import run


class Handle:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_a_handle_opened_for_a_caller_that_left_is_closed():
    release, opened = threading.Event(), []

    def opener():
        assert release.wait(10)
        opened.append(Handle())
        return opened[-1], None

    async def scenario() -> None:
        with ThreadPoolExecutor(1) as pool:
            task = asyncio.ensure_future(open_handle(pool, opener))
            await asyncio.sleep(0.05)
            task.cancel()  # the client disconnects while the query is being opened
            with pytest.raises(asyncio.CancelledError):
                await task
            release.set()
        assert opened and opened[0].closed

    run(scenario())


def test_a_handle_opened_for_a_caller_still_there_is_its_own():
    async def scenario() -> None:
        with ThreadPoolExecutor(1) as pool:
            handle, extra = await open_handle(pool, lambda: (Handle(), 7))
        assert not handle.closed and extra == 7

    run(scenario())


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app(tmp_path_factory.mktemp("workers") / "shop.db")
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def test_readyz_answers_while_every_import_thread_is_busy(client):
    shop = client.app.state.shop
    release = threading.Event()
    busy = [shop.workers.imports.submit(release.wait, 30) for _ in range(6)]  # and queued behind
    try:
        answer = client.get("/readyz")
        assert answer.status_code == 200, answer.text
    finally:
        release.set()
        for future in busy:
            future.result(30)


def test_readyz_says_why_the_database_does_not_answer(client, monkeypatch):
    shop = client.app.state.shop

    def broken() -> int:
        raise StorageError("cannot open SQLite database 'x': disk I/O error")

    monkeypatch.setattr(shop.db, "last_change", broken)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["detail"] == (
        "the database does not answer: StorageError: cannot open SQLite database 'x': disk I/O error"
    )
