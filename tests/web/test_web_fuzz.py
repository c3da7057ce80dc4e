"""Schemathesis fuzzes the OpenAPI of a real server: no answer is a 5xx, and every answer is one the
schema documents (status, content type, body). Bounded: a few examples per operation, about a minute."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from livevec.web import create_app

from .conftest import TOKEN, ServerProcess

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def fuzzed_shop(tmp_path_factory) -> ServerProcess:
    """`livevec serve --token` on a database of its own: the fuzzer's writes touch no other test's data."""
    db = tmp_path_factory.mktemp("fuzz") / "shop.db"
    db.touch()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LIVEVEC_TOKEN": TOKEN}
    # heads of up to 1 MB: the fuzzer's long values, percent-encoded, would be a 431 (test_web_limits)
    # before the routes' own checks could refuse them
    server = ServerProcess(["serve", "--db", str(db), "--port", "0", "--max-head", "1MB"], env).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzzed_shop):
    return schemathesis.openapi.from_url(f"{fuzzed_shop.url}openapi.json")


# every operation but the event streams (/events), which answer until the client leaves
OPERATIONS = [
    (method.upper(), path)
    for path, methods in create_app("unused.db").openapi()["paths"].items()
    for method, operation in methods.items()
    if "text/event-stream" not in operation["responses"].get("200", {}).get("content", {})
]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_api_answers_every_request_as_documented(api_schema, method, path):
    operation = api_schema[path][method]
    # requests the schema allows, and ones it does not (where it constrains something to break)
    cases = st.one_of(operation.as_strategy(mode) for mode in GenerationMode)

    @given(case=cases)
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,  # the same cases in every run: CI fails for a change, not for luck
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def answered_as_documented(case):
        case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)

    answered_as_documented()
