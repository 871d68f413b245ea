"""HAR export: valid HAR 1.2 (npm har-validator), readable by mitmdump, masked, with extras."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from omniroute.inspector.har import export_har, har_bytes
from omniroute.inspector.masking import mask_headers, mask_text, mask_url
from omniroute.inspector.model import InterceptedRequest, encode_body
from tests.support.inspector_support import har_validator_script, mitmdump_reads

CANARY = "sk-ant-api03-HARCANARY0123456789abcdefghijk"
T0 = 1_760_000_000.0


def _rows() -> list[InterceptedRequest]:
    url = mask_url(f"/v1/messages?beta=true&key={CANARY}")
    path, _, query = url.partition("?")
    body, enc, trunc = encode_body(
        mask_text(json.dumps({"model": "claude-sonnet-4-5", "note": f"key {CANARY}",
                              "system": "You are Claude Code"})).encode())
    sse = ('event: message_start\ndata: {"type":"message_start","message":{"id":"m"}}\n\n'
           'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    png, penc, _ = encode_body(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00")
    return [
        InterceptedRequest(
            id="11111111-1111-1111-1111-111111111111", source="agent-bridge",
            agent="claude-code", method="POST", host="api.anthropic.com", path=path,
            query=query, started_at=T0, http_version="HTTP/2.0",
            request_headers=mask_headers([("content-type", "application/json"),
                                          ("x-api-key", CANARY),
                                          ("cookie", f"sid={CANARY}")]),
            request_body=body, request_body_encoding=enc, request_truncated=trunc,
            request_size=300,
            response_headers=mask_headers([("content-type", "text/event-stream"),
                                           ("content-encoding", "gzip"),
                                           ("set-cookie", f"a={CANARY}; Path=/")]),
            response_body=sse, response_size=len(sse), status=200, stream=True,
            merged={"format": "anthropic", "message": {"id": "m"}, "events": 2, "error": None},
            request_end_at=T0 + 0.002, response_start_at=T0 + 0.350, response_end_at=T0 + 1.2,
            source_model="claude-sonnet-4-5", mapped_model="gpt-5", context_key="a3f9c2b1d5e4",
            detected_kind="llm", annotation="first call", server_ip="160.79.104.10"),
        InterceptedRequest(
            id="22222222-2222-2222-2222-222222222222", source="http-proxy", method="GET",
            host="cdn.example.com", path="/logo.png", started_at=T0 + 2, status=200,
            response_headers={"content-type": "image/png"}, response_body=png,
            response_body_encoding=penc, response_size=4096, response_truncated=True,
            request_end_at=T0 + 2.001, response_start_at=T0 + 2.05, response_end_at=T0 + 2.06),
        InterceptedRequest(
            id="33333333-3333-3333-3333-333333333333", source="http-proxy", method="POST",
            host="api.openai.com", path="/v1/responses", started_at=T0 + 3,
            request_headers={"content-type": "application/octet-stream"},
            request_body=base64.b64encode(b"\x00\x01\xff").decode(),
            request_body_encoding="base64", request_size=3),
        InterceptedRequest(
            id="44444444-4444-4444-4444-444444444444", source="system-proxy", method="GET",
            host="example.org", path="/", started_at=T0 + 4, status="error",
            error="connection reset by peer", request_end_at=T0 + 4.01, response_end_at=T0 + 4.5),
    ]


def test_entries_carry_timings_extras_and_masked_data() -> None:
    har = export_har(_rows())
    log = har["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "OmniRoute"
    e0, e1, e2, e3 = log["entries"]
    assert e0["_source"] == "agent-bridge" and e0["_agent"] == "claude-code"
    assert e0["_contextKey"] == "a3f9c2b1d5e4" and e0["_sourceModel"] == "claude-sonnet-4-5"
    assert e0["_mappedModel"] == "gpt-5" and e0["_annotation"] == "first call"
    assert e0["request"]["httpVersion"] == "HTTP/2.0"
    assert e0["serverIPAddress"] == "160.79.104.10"
    t = e0["timings"]
    assert t["send"] == pytest.approx(2, abs=0.01) and t["wait"] == pytest.approx(348, abs=0.01)
    assert t["receive"] == pytest.approx(850, abs=0.01)
    assert e0["time"] == pytest.approx(1200, abs=0.05)
    assert e0["response"]["content"]["text"].startswith("event: message_start")  # SSE as text
    assert e0["response"]["_merged"]["format"] == "anthropic"
    assert not any(h["name"].lower() == "content-encoding" for h in e0["response"]["headers"])
    assert e1["response"]["content"]["encoding"] == "base64"
    assert e1["response"]["content"]["_truncated"] and e1["response"]["bodySize"] == 4096
    assert base64.b64decode(e1["response"]["content"]["text"]).startswith(b"\x89PNG")
    assert e2["request"]["postData"]["_encoding"] == "base64"
    assert e2["response"]["_status"] == "in-flight" and e2["response"]["content"]["size"] == 0
    assert e3["response"]["_error"] == "connection reset by peer"
    assert CANARY not in json.dumps(har) and "HARCANARY" not in json.dumps(har)


@pytest.fixture(scope="module")
def har_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("har") / "export.har"
    path.write_bytes(har_bytes(_rows()))
    return path


def test_mitmdump_reads_it_back(har_file: Path) -> None:
    proc = mitmdump_reads(har_file)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    out = proc.stdout
    assert "POST https://api.anthropic.com/v1/messages?beta=true" in out
    assert "GET https://cdn.example.com/logo.png" in out and "200" in out
    assert CANARY not in out


@pytest.fixture(scope="session")
def har_validator() -> Path:
    return har_validator_script()


def test_passes_npm_har_validator(har_file: Path, har_validator: Path) -> None:
    proc = subprocess.run(["node", str(har_validator), str(har_file)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0 and "valid" in proc.stdout, proc.stderr


def test_validator_rejects_broken_har(tmp_path: Path, har_validator: Path) -> None:
    """The validator check is not vacuous: a HAR without required fields fails it."""
    har = export_har(_rows())
    del har["log"]["entries"][0]["response"]["content"]["mimeType"]
    bad = tmp_path / "bad.har"
    bad.write_text(json.dumps(har))
    proc = subprocess.run(["node", str(har_validator), str(bad)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode != 0


def test_encode_body_text_binary_and_cap() -> None:
    assert encode_body(None) == (None, "text", False)
    assert encode_body("héllo".encode()) == ("héllo", "text", False)
    # A cap inside a multi-byte character keeps text, minus the partial character.
    assert encode_body("ééé".encode(), cap=3) == ("é", "text", True)
    text, enc, trunc = encode_body(b"\x89PNG\x00\xff" * 10, cap=8)
    assert enc == "base64" and trunc and base64.b64decode(text) == b"\x89PNG\x00\xff\x89P"


def test_tunnel_rows_export_and_read_back(tmp_path: Path) -> None:
    tunnel = InterceptedRequest(id="55555555-5555-5555-5555-555555555555", source="http-proxy",
                                method="CONNECT", host="api2.cursor.sh", path="", port=443,
                                started_at=T0, status=200, response_end_at=T0 + 3,
                                note="TLS tunnel: bypassed, not decrypted")
    har = export_har([tunnel])
    assert har["log"]["entries"][0]["request"]["url"] == "https://api2.cursor.sh:443/"
    path = tmp_path / "t.har"
    path.write_bytes(har_bytes([tunnel]))
    proc = mitmdump_reads(path)
    assert proc.returncode == 0, proc.stderr
