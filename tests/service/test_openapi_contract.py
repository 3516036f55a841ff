"""The OpenAPI description tells the truth (issue 16, item 10): every status each operation
answers, with its body; the 422 shape the service really sends; Idempotency-Key required when the
settings require it; /metrics as text/plain; a 405's Allow listing every method of the path. Then
schemathesis, as an outside tester, fuzzes the running service (SQLite and PostgreSQL) against
that description: no server error, no undocumented status, no body or header that breaks it."""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from service.settings import Settings
from service.system_clock import SystemClock
from tests.service.conftest import API_KEYS, scratch_postgres
from tests.service.live_stack import REPO, ProcessReaper, Provider, Service, start_service

KEY = next(iter(API_KEYS))

# What each operation can answer, read from the routes, flows and error handlers.
EXPECTED_STATUSES = {
    ("post", "/v1/appointments"): {"201", "202", "400", "401", "408", "409", "422", "503"},
    ("get", "/v1/appointments"): {"200", "401", "422", "503"},
    ("get", "/v1/appointments/{appointment_id}"): {"200", "401", "404", "503"},
    ("post", "/v1/appointments/{appointment_id}/cancel"): {
        "200", "400", "401", "404", "408", "409", "422", "503",
    },
    ("post", "/v1/appointments/{appointment_id}/reschedule"): {
        "200", "202", "400", "401", "404", "408", "409", "422", "503",
    },
    ("get", "/healthz"): {"200"},
    ("get", "/readyz"): {"200", "503"},
    ("get", "/metrics"): {"200", "503"},
    ("post", "/v1/admin/crash"): {"200", "400", "401", "403", "408", "422"},
    ("post", "/v1/admin/reconcile"): {"200", "401", "503"},
    ("get", "/v1/admin/outbox"): {"200", "401", "503"},
    ("get", "/v1/admin/sagas/{appointment_id}"): {"200", "401", "503"},
}  # fmt: skip
MUTATIONS = [op for op in EXPECTED_STATUSES if op[0] == "post" and "admin" not in op[1]]


def _document(**settings: Any) -> dict[str, Any]:
    app = create_app(Settings(**settings), SystemClock(), random.Random(1))
    document: dict[str, Any] = app.openapi()
    return document


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    if not ref:
        return schema
    resolved: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return resolved


def test_every_operation_documents_exactly_the_statuses_it_answers() -> None:
    operations = _operations(_document(api_keys=API_KEYS))
    found = {op: set(operation["responses"]) for op, operation in operations.items()}
    assert found == EXPECTED_STATUSES


def test_errors_are_documented_with_the_bodies_the_service_sends() -> None:
    document = _document(api_keys=API_KEYS)
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    for (method, path), operation in _operations(document).items():
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")) or path in ("/readyz", "/v1/admin/crash"):
                continue
            schema = _resolve(document, response["content"]["application/json"]["schema"])
            assert {"error", "message"} <= set(schema["required"]), (method, path, status)
            if status == "422":
                assert "detail" in schema["required"]
                item = _resolve(document, schema["properties"]["detail"]["items"])
                assert set(item["properties"]) == {"field", "message", "type"}
            if status == "503":
                assert "Retry-After" in response["headers"], (method, path)


def test_idempotency_key_is_a_required_header_when_the_settings_require_it() -> None:
    for required in (True, False):
        operations = _operations(_document(require_idempotency_key=required))
        for op in MUTATIONS:
            (header,) = [p for p in operations[op]["parameters"] if p["in"] == "header"]
            assert header["name"] == "Idempotency-Key"
            assert header["required"] is required, op
            assert header["schema"]["maxLength"] == 255


def test_the_api_key_is_a_bearer_scheme_and_401_only_exists_with_keys() -> None:
    with_keys = _document(api_keys=API_KEYS)
    assert with_keys["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    create = _operations(with_keys)[("post", "/v1/appointments")]
    assert create["security"] == [{"bearer": []}]
    assert "authorization" not in {p["name"].lower() for p in create["parameters"]}
    without = _operations(_document())
    assert all("401" not in op["responses"] for op in without.values())
    assert all("security" not in op for op in without.values())


def test_metrics_are_documented_as_prometheus_text() -> None:
    metrics = _operations(_document())[("get", "/metrics")]
    assert list(metrics["responses"]["200"]["content"]) == ["text/plain"]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/v1/appointments", "GET, POST"),
        ("DELETE", "/v1/appointments", "GET, POST"),
        ("PUT", "/v1/appointments/some-id", "GET"),
        ("GET", "/v1/appointments/some-id/cancel", "POST"),
        ("POST", "/metrics", "GET"),
    ],
)
def test_a_405_allows_every_method_of_the_path(
    shared_service: Service, method: str, path: str, allow: str
) -> None:
    with shared_service.client() as client:
        response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json()["error"] == "method_not_allowed"


# --- schemathesis against the running service ---

# Response checks that judge the description, not the data: every request may be refused, but
# only with a documented status and body. (positive_data_acceptance is left out: "start before
# end" and "UTC only" are rules a JSON Schema cannot state, so schema-valid bodies are refused.)
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "ignored_auth",
]
MAX_EXAMPLES = 75  # per operation and phase: ~1,000 requests per database


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def fuzzed_service(
    request: pytest.FixtureRequest,
    session_provider: Provider,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    directory = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    with contextlib.ExitStack() as stack:
        if request.param == "postgres":
            db_url = stack.enter_context(scratch_postgres())
        else:
            db_url = f"sqlite+aiosqlite:///{directory / 'service.db'}"
        reaper = ProcessReaper()
        stack.callback(reaper.close)
        yield start_service(
            reaper,
            db_url=db_url,
            calendar_url=session_provider.url,
            log_path=directory / "service.log",
            api_keys=API_KEYS,
        )


def run_schemathesis(
    service: Service, workdir: Path, max_examples: int, seed: int, timeout_s: float = 300
) -> dict[str, Any]:
    """`st run` against the service's own description; its JSON report."""
    report = workdir / "schemathesis.json"
    argv = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{service.url}/openapi.json",
        "--header", f"Authorization: Bearer {KEY}",
        "--checks", ",".join(CHECKS),
        "--max-examples", str(max_examples),
        "--seed", str(seed),
        "--workers", "1",
        "--request-timeout", "10",
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    # Its own directory: schemathesis and Hypothesis write their databases beside themselves.
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.service.schemathesis_hooks",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout_s
    )
    (workdir / "schemathesis.out").write_text(result.stdout + result.stderr)
    assert report.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    summary: dict[str, Any] = json.loads(report.read_text())
    summary["output"] = result.stdout
    return summary


def served_by_status(service: Service) -> dict[str, int]:
    """Requests the service answered, by status, from its own latency histogram."""
    with httpx.Client(base_url=service.url) as client:
        text = client.get("/metrics").text
    counts: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "http_request_duration_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_count"):
                status = sample.labels["status"]
                counts[status] = counts.get(status, 0) + int(sample.value)
    return counts


@pytest.mark.integration
def test_schemathesis_finds_no_server_error_undocumented_status_or_schema_violation(
    fuzzed_service: Service, tmp_path: Path
) -> None:
    summary = run_schemathesis(fuzzed_service, tmp_path, MAX_EXAMPLES, seed=16)
    cases = summary["test_cases"]
    served = served_by_status(fuzzed_service)
    print(
        f"schemathesis: {cases['generated']} test cases, {sum(served.values())} requests served "
        f"{dict(sorted(served.items()))}, {cases['with_failures']} failing, "
        f"{summary['running_time']:.0f} s"
    )
    assert not any(status.startswith("5") and status != "503" for status in served), served
    assert summary["operations"]["tested"] == len(EXPECTED_STATUSES)
    assert summary["failures"] == [], summary["output"][-6000:]
    assert summary["errors"] == [], summary["output"][-6000:]
    assert cases["generated"] >= 500 and cases["with_failures"] == 0
    assert summary["exit_code"] == 0, summary["output"][-6000:]
    log = fuzzed_service.log_path.read_text()
    assert "Exception in ASGI application" not in log
    assert '"unhandled error"' not in log
    with httpx.Client(base_url=fuzzed_service.url) as client:
        assert client.get("/readyz").status_code == 200  # still standing
