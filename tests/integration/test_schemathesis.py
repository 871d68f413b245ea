"""Schemathesis against our own OpenAPI document and against the OmniRoute API specification.

Our ``/openapi.json``: no 5xx, no response that breaks its schema, no status it does not
declare. The specification (``docs/omniroute-openapi.yaml``), on its in-scope operations (the
table in docs/API.md): no 5xx and no response that breaks the specification's schemas; its
statuses are not checked, as most of its operations list only 200 while each can answer 400,
401 or 404 (docs/API.md says so).

Runs the schemathesis CLI (bounded: a few examples per operation and a time budget) against a
real process whose only provider is the local mock, so nothing leaves the machine. Excluded, because fuzzing them changes the machine rather than the API's state:
listener start/stop (binds ports), capture modes (system proxy settings), API key creation
(the first admin key closes management to the rest of the run). The model-calling ``/v1``
POSTs are excluded too: with a provider they only reach the mock, but they are covered by
``test_bad_input.py`` with precise expectations and would spend the budget on the mock.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.support.api_table import SPEC, spec_operations
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

ST = Path(sys.executable).parent / "schemathesis"
# One regex: the CLI keeps only the last --exclude-path-regex it is given.
EXCLUDED = "|".join([  # noqa: FLY002
    r"^/(api/)?v1(beta)?/.*(completions|messages|responses|embeddings|chat|models/.+)$",
    r"/agent-bridge/server",
    r"/capture-modes",
    r"^/api/keys",
    r"/internal/ingest",
])
# Writes of the upstream proxy (its own route, or PATCH /api/settings): every later provider
# call would go through a proxy the fuzzer made up, fail, open breakers and answer 503 for
# the rest of the run. test_settings_shaping.py covers them with precise expectations.
PROXY_WRITES = r"^(PATCH|PUT) /api/settings(/proxy)?$"


def _fuzz(tmp_path: Path, target: Callable[[OmniRouteProcess], list[str]], checks: str, examples: int) -> None:
    """Schemathesis on ``target(process)`` (the schema and which operations) against a real
    process whose only provider is the mock; fails on any failed check or unhandled error."""
    # HOME is a temporary one: fuzzing /api/cli-tools writes agents' settings files there.
    agents_home = tmp_path / "agents-home"
    agents_home.mkdir()
    with MockProvider() as mock, OmniRouteProcess(tmp_path / "home", bridge=False, env={"HOME": str(agents_home)}) as proc:
        proc.add_provider("openai", "mk", f"{mock.url}/v1", api_key="sk-schemathesis-0001")
        cmd = [str(ST), "run", *target(proc), "--checks", checks,
               "--max-examples", str(examples), "--max-time", "120", "--workers", "2",
               "--phases", "examples,coverage,fuzzing", "--request-timeout", "20",
               "--seed", "20128", "--no-color", "--warnings", "off",
               "--report", "junit", "--report-dir", str(tmp_path / "report")]
        result = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=220, cwd=tmp_path)
        log = proc.log()
    output = result.stdout[-6000:] + result.stderr[-2000:]
    assert "Traceback" not in log.split("unhandled error")[0] or "unhandled error" not in log, log[-3000:]
    assert result.returncode == 0, output
    shutil.rmtree(tmp_path / "report", ignore_errors=True)


@pytest.mark.skipif(not ST.exists(), reason="schemathesis is not installed in this venv")
@pytest.mark.timeout(240)
def test_openapi_fuzz_finds_no_server_errors(tmp_path: Path) -> None:
    # The CLI keeps one exclusion: the proxy's paths go out whole here (their reads are fuzzed
    # against the specification below).
    _fuzz(tmp_path, lambda proc: [f"{proc.api_url}/openapi.json", "--exclude-path-regex",
                                  EXCLUDED + r"|^/api/settings(/proxy)?$"],
          "not_a_server_error,response_schema_conformance,status_code_conformance", 20)


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


def _spec_operations_regex() -> str:
    """The in-scope operations, by schemathesis' operation name ("GET /api/combos"), minus the
    paths excluded above for changing the machine rather than the API's state."""
    excluded, proxy_writes = re.compile(EXCLUDED), re.compile(PROXY_WRITES)
    names = [f"{method} {path}" for method, path, _ in spec_operations()
             if not excluded.search(path) and not proxy_writes.search(f"{method} {path}")]
    return "^(" + "|".join(re.escape(name) for name in names) + ")$"


@pytest.mark.skipif(not ST.exists(), reason="schemathesis is not installed in this venv")
@pytest.mark.timeout(240)
def test_the_specification_in_scope_finds_no_server_errors_or_broken_shapes(tmp_path: Path) -> None:
    spec = documented_spec(tmp_path)
    _fuzz(tmp_path, lambda proc: [str(spec), "--url", proc.api_url, "--include-name-regex", _spec_operations_regex()],
          "not_a_server_error,response_schema_conformance", 5)
