"""Schemathesis against the staff API, from the document the app serves (/api/openapi.json).

For each operation of the document: generated requests, valid ones and ones that break the
document's schemas, sent to the app in process through its ASGI interface with the API token.
No answer may be a server error, and each must match the document: a declared status, the
declared content type, the declared schema. Bounded and deterministic (``derandomize``): 25
examples per operation and mode, on the whole app of tests/web/conftest.py, seeded with a queued
handoff, a claimed one and an open ticket.

(Schemathesis's own pytest plugin, ``schema.parametrize()``, does not run under pytest 9: it
reads a node attribute pytest no longer has. Hypothesis is driven here directly instead.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sanic import Sanic
from sanic.asgi import ASGIApp, Lifespan
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from assistant.web.openapi import OPERATIONS
from tests.web.conftest import API_TOKEN, seed

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Schemathesis leaves out the operation that serves the document it was loaded from.
FUZZED = sorted(set(OPERATIONS) - {"openapi_document"})
BOUNDED = settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


class ServedByASGI:
    """The app as an ASGI server (uvicorn, say) would call it: what ``Sanic.__call__`` does.
    Not the app itself: once a test has used ``asgi_client``, sanic_testing has replaced
    ``Sanic.__call__`` (for every app) with one that knows no lifespan."""

    def __init__(self, app: Sanic):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            self.app.asgi = True
            self.app._asgi_lifespan = Lifespan(self.app, scope, receive, send)
            await self.app._asgi_lifespan()
        else:
            served = await ASGIApp.create(self.app, scope, receive, send)
            await served()


@pytest.fixture
def api_schema(security_app, handoff_store):
    # Test mode, as sanic_testing sets it: in production mode Sanic rewrites its own methods at
    # start-up ("touch-up"), which fails for the second app of a process (and then its ASGI
    # start-up never answers).
    Sanic.test_mode = True
    seed(handoff_store)
    return schemathesis.openapi.from_asgi("/api/openapi.json", ServedByASGI(security_app))


def test_the_document_loads_and_names_every_operation(api_schema):
    ids = {result.ok().definition.raw.get("operationId") for result in api_schema.get_all_operations()}
    assert ids == set(FUZZED)


# The ids come from the table; test_security checks it matches the route table both ways.
@pytest.mark.parametrize("operation_id", FUZZED)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_the_api_answers_within_its_document(api_schema, operation_id, mode):
    operation = api_schema.find_operation_by_id(operation_id)
    raw = operation.definition.raw
    if mode is GenerationMode.NEGATIVE and not (raw.get("parameters") or raw.get("requestBody")):
        pytest.skip("no parameters and no body: nothing to break")

    @BOUNDED
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        case.call_and_validate(headers=AUTH, checks=CHECKS)

    run()
