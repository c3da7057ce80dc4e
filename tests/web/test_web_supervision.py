"""A supervisor's view of a real server process: /healthz says the process answers, /readyz whether its
database does, through a PostgreSQL stop and restart."""

from __future__ import annotations

import os
import time

import httpx

from ..test_postgres import PrivateServer
from .conftest import ServerProcess


def test_readiness_follows_the_database_and_health_the_process():
    with PrivateServer() as database:
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        shop = ServerProcess(["serve", "--db", database.url, "--port", "0"], env).start()
        try:
            with httpx.Client(base_url=shop.url, timeout=60) as api:
                assert api.get("/readyz").json() == {"status": "ready"}
                database.stop()
                down = api.get("/readyz")
                assert down.status_code == 503 and down.json()["detail"].startswith(
                    "the database does not answer"
                )
                assert api.get("/healthz").json() == {"status": "ok"}
                database.start()
                deadline = time.monotonic() + 60
                while (ready := api.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
                    time.sleep(0.5)
                assert ready.json() == {"status": "ready"}
                assert api.get("/products").status_code == 200
        finally:
            shop.stop()
