"""The shop as users run it: `livevec demo` and `livevec serve` server processes on one database file."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import expect

expect.set_options(timeout=20_000)  # a change shows within a second; leave room for a busy machine

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_TIMEOUT = 600  # the first run embeds the whole catalog on a busy 2-core machine
TOKEN = "test-token-8f3a1c"
T = TypeVar("T")  # the token of the servers started with one


def run(scenario: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` in a thread of its own: the browser tests' Playwright keeps a loop running in this one."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, scenario).result()


@dataclass
class ServerProcess:
    """A `livevec` server command running in a child process, with everything it printed."""

    args: list[str]
    env: dict[str, str]
    process: subprocess.Popen = field(init=False)
    url: str = field(init=False)
    output: list[str] = field(default_factory=list)

    def start(self) -> ServerProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "livevec", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            for line in self.process.stdout:
                self.output.append(line)
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        while True:  # the command prints the address once the server answers
            try:
                line = lines.get(timeout=STARTUP_TIMEOUT)
            except queue.Empty:
                self.stop()
                pytest.fail(f"livevec {' '.join(self.args)} printed no address:\n{''.join(self.output)}")
            if line is None:
                pytest.fail(f"livevec {' '.join(self.args)} exited:\n{''.join(self.output)}")
            found = re.search(r"Open (http://\S+/)", line)
            if found:
                self.url = found.group(1)
                return self

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # as Ctrl+C does
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture(scope="session")
def data_home(tmp_path_factory) -> Path:
    """The user data folder of the server processes (where `livevec demo` keeps its database)."""
    return tmp_path_factory.mktemp("data-home")


@pytest.fixture(scope="session")
def shop(data_home) -> ServerProcess:
    """`livevec demo` on a fresh machine: it loads the catalog into the default database and serves it."""
    env = {**os.environ, "XDG_DATA_HOME": str(data_home), "HF_HUB_OFFLINE": "1"}
    server = ServerProcess(["demo", "--port", "0"], env).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shop_db(shop, data_home) -> Path:
    path = data_home / "livevec" / "shop.db"
    assert path.is_file(), f"livevec demo made no database at {path}"
    return path


@pytest.fixture(scope="session")
def second_shop(shop, shop_db) -> ServerProcess:
    """`livevec serve` in another process on the same database file."""
    server = ServerProcess(["serve", "--db", str(shop_db), "--port", "0"], shop.env).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def guarded_shop(shop, shop_db) -> ServerProcess:
    """`livevec serve` as exposed for real: a token (LIVEVEC_TOKEN), a public name behind a proxy and
    small body limits, on the demo's database."""
    args = ["serve", "--db", str(shop_db), "--port", "0", "--allowed-host", "shop.example.com"]
    args += ["--max-body", "20kB", "--max-import", "200kB"]
    server = ServerProcess(args, {**shop.env, "LIVEVEC_TOKEN": TOKEN}).start()
    yield server
    server.stop()


@pytest.fixture
def api(shop) -> httpx.Client:
    with httpx.Client(base_url=shop.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def test_output(pytestconfig) -> Path:
    folder = pytestconfig.rootpath / "test-output"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (CI must have it: .ci/run installs it)."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, shop):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the admin's "Delete ...?" confirmation
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(shop.url)
    expect(page.locator("#live")).to_have_attribute("data-state", "on")
    expect(page.locator("#recs .card").first).to_be_visible()
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    yield page
    assert page.evaluate("window.sameDocument") is True, "the page reloaded"
    assert errors == []
    context.close()
