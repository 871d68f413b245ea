"""Schemathesis against our own OpenAPI document and against the OmniRoute API specification.

Our ``/openapi.json``: no 5xx, no response that breaks its schema, no status it does not
declare. The specification (``docs/omniroute-openapi.yaml``), on its in-scope operations (the
table in docs/API.md): no 5xx and no response that breaks the specification's schemas; its
statuses are not checked, as most of its operations list only 200 while each can answer 400,
401 or 404 (docs/API.md says so).

Runs the schemathesis CLI against a real process whose only provider is the local mock, so
nothing leaves the machine; the model calls (chat, messages, responses, embeddings, media)
are fuzzed too and reach the mock. Every request carries an admin API key, so the API keys
routes are fuzzed like the rest (creating keys closes nothing to the run). Each run is one
pass over its operations, bounded by a few examples per operation rather than a time budget,
and its JUnit report must name every included operation: none is left out unseen. The
operations excluded are the writes in `EXCLUDED_WRITES`, each with its reason.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from ruamel.yaml import YAML

from tests.support.api_table import SPEC, spec_operations
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

ST = Path(sys.executable).parent / "schemathesis"
METHODS = ("get", "post", "put", "patch", "delete")
# Operations (schemathesis' names, "METHOD /path") left out of both runs, and why. Only writes:
# every read is fuzzed.
EXCLUDED_WRITES: dict[str, str] = {
    r"POST /api/tools/agent-bridge/server": "starts and stops the MITM listeners: binds ports on the machine",
    r"POST /api/tools/traffic-inspector/capture-modes/http-proxy": "starts and stops the HTTP_PROXY listener: "
                                                                   "binds a port on the machine",
    r"POST /api/tools/traffic-inspector/capture-modes/system-proxy": "applies the machine's system proxy settings",
    # PATCH /api/settings carries the proxy section too. test_settings_shaping.py covers these writes.
    r"(PATCH|PUT) /api/settings(/proxy)?": "every later provider call would go through a proxy the fuzzer "
                                           "made up, fail, open breakers and answer 503 for the rest of the run",
}
EXCLUDED = re.compile("^(" + "|".join(f"(?:{name})" for name in EXCLUDED_WRITES) + ")$")
RUN_CAP_S = 180  # one run's hard limit; a pass takes about a minute here


def _operations(schema: dict[str, Any]) -> list[str]:
    """Schemathesis' names of a schema's operations."""
    return [f"{method.upper()} {path}" for path, item in schema["paths"].items() for method in METHODS
            if method in item]


def _tested(report_dir: Path) -> list[str]:
    """The operations the JUnit report has a test case for (one per operation it ran)."""
    reports = list(report_dir.glob("*.xml"))
    assert len(reports) == 1, reports
    root = ElementTree.parse(reports[0]).getroot()
    cases = root.iter("testcase")
    return [case.attrib["name"] for case in cases if case.find("skipped") is None]


def _fuzz(tmp_path: Path, target: Callable[[OmniRouteProcess], tuple[list[str], list[str]]], checks: str,
          examples: int) -> None:
    """Schemathesis on ``target(process)`` (the CLI's schema arguments, and the operations they
    select) against a real process whose only provider is the mock; fails on any failed check or
    unhandled error, and on any selected operation the report does not show as run."""
    # HOME is a temporary one: fuzzing /api/cli-tools writes agents' settings files there.
    agents_home = tmp_path / "agents-home"
    agents_home.mkdir()
    report = tmp_path / "report"
    with MockProvider() as mock, OmniRouteProcess(tmp_path / "home", bridge=False, env={"HOME": str(agents_home)}) as proc:
        proc.add_provider("openai", "mk", f"{mock.url}/v1", api_key="sk-schemathesis-0001")
        with proc.api() as api:
            admin = api.post("/api/keys", json={"label": "schemathesis", "scope": "admin"}).json()["key"]
        arguments, selected = target(proc)
        cmd = [str(ST), "run", *arguments, "--checks", checks, "--header", f"Authorization: Bearer {admin}",
               "--max-examples", str(examples), "--workers", "2",
               "--phases", "examples,coverage,fuzzing", "--request-timeout", "20",
               "--seed", "20128", "--no-color", "--warnings", "off",
               "--report", "junit", "--report-dir", str(report)]
        started = time.monotonic()
        result = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=RUN_CAP_S, cwd=tmp_path)
        took = time.monotonic() - started
        log = proc.log()
    output = result.stdout[-6000:] + result.stderr[-2000:]
    assert "unhandled error" not in log, log[-3000:]
    assert result.returncode == 0, output
    tested = _tested(report)
    assert len(selected) > 20, selected  # the selection did not silently shrink
    assert sorted(tested) == sorted(selected), (
        f"run for {took:.0f} s; not run: {sorted(set(selected) - set(tested))}; "
        f"not expected: {sorted(set(tested) - set(selected))}")


def _own_operations(proc: OmniRouteProcess) -> tuple[list[str], list[str]]:
    url = f"{proc.api_url}/openapi.json"
    names = [n for n in _operations(httpx.get(url).json()) if not EXCLUDED.match(n)]
    return [url, "--exclude-name-regex", EXCLUDED.pattern], names


@pytest.mark.skipif(not ST.exists(), reason="schemathesis is not installed in this venv")
@pytest.mark.timeout(240)
def test_openapi_fuzz_finds_no_server_errors(tmp_path: Path) -> None:
    _fuzz(tmp_path, _own_operations, "not_a_server_error,response_schema_conformance,status_code_conformance", 20)


def test_the_exclusions_are_writes_with_a_reason_and_leave_every_read() -> None:
    for name, reason in EXCLUDED_WRITES.items():
        assert not re.match(name, "GET " + name.split(" ", 1)[1]), name
        assert len(reason) > 20, name
    reads = ["GET /api/keys", "GET /api/keys/{key_id}", "GET /api/settings", "GET /api/settings/proxy",
             "GET /api/tools/traffic-inspector/capture-modes", "GET /api/tools/traffic-inspector/capture-modes/api-calls"]
    assert not [name for name in reads if EXCLUDED.match(name)]
    assert EXCLUDED.match("PATCH /api/settings/proxy") and not EXCLUDED.match("POST /api/settings/proxy/test")


def documented_spec(directory: Path) -> Path:
    """The specification with the differences docs/API.md documents applied, and only those:
    the inspector's rows come in an object, agent ids are not a closed list, a bypass rule
    may come from the config file, and `/v1` calls and replays have rows of their own."""
    spec: dict[str, Any] = YAML(typ="safe").load(SPEC.read_text())
    listing = spec["paths"]["/api/tools/traffic-inspector/requests"]["get"]["responses"]["200"]["content"]
    rows = listing["application/json"]["schema"]
    listing["application/json"]["schema"] = {"type": "object", "required": ["requests"], "properties": {"requests": rows}}
    schemas = spec["components"]["schemas"]
    schemas["AgentId"].pop("enum")
    schemas["AgentBridgeBypassRow"]["properties"]["source"]["enum"].append("config")
    schemas["CaptureSource"]["enum"] += ["api", "replay"]  # rows of /v1 calls and replays
    row = schemas["InterceptedRequest"]["properties"]
    row["id"].pop("format")  # theirs: the call's request id
    row["agent"] = {"anyOf": [row["agent"], {"type": "null"}]}  # a /v1 client that is no agent
    path = directory / "omniroute-openapi.json"
    path.write_text(json.dumps(spec, default=str))
    return path


def spec_names() -> list[str]:
    """The in-scope operations, by schemathesis' operation name ("GET /api/combos"), minus the
    writes excluded above."""
    return [f"{method} {path}" for method, path, _ in spec_operations() if not EXCLUDED.match(f"{method} {path}")]


@pytest.mark.skipif(not ST.exists(), reason="schemathesis is not installed in this venv")
@pytest.mark.timeout(240)
def test_the_specification_in_scope_finds_no_server_errors_or_broken_shapes(tmp_path: Path) -> None:
    spec = documented_spec(tmp_path)
    names = spec_names()
    regex = "^(" + "|".join(re.escape(name) for name in names) + ")$"
    _fuzz(tmp_path, lambda proc: ([str(spec), "--url", proc.api_url, "--include-name-regex", regex], names),
          "not_a_server_error,response_schema_conformance", 10)
