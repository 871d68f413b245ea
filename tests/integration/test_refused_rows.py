"""A usage row the database refuses never stops usage recording (issue #15, item 2).

``{"model": "m/\\ud800"}`` is answered 400, and its usage row holds an unpaired surrogate that
has no UTF-8 form: SQLite's driver refuses the row on every retry. It must be repaired (stored
with U+FFFD) and counted, and the rows of the calls after it written; before, the writer
retried it forever and every later row queued behind it. Real `omniroute run`, real sockets.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.harness import OmniRouteProcess, wait_until
from tests.support.mock_provider import MockProvider

POISON = b'{"model": "m/\\ud800", "messages": [{"role": "user", "content": "hi"}]}'
MSG = [{"role": "user", "content": "after the bad row"}]


def usage_rows(api: httpx.Client) -> list[dict[str, Any]]:
    return list(api.get("/api/usage/call-logs", params={"limit": 1000}).json()["items"])


def test_a_row_the_database_refuses_is_repaired_counted_and_holds_back_nothing(mock: MockProvider) -> None:
    with OmniRouteProcess(proxy=False, bridge=False) as proc, proc.api() as api:
        proc.add_provider("openai", "mk", f"{mock.url}/v1", api_key="sk-mk-refused-rows-01")
        refused = api.post("/v1/chat/completions", content=POISON, headers={"content-type": "application/json"})
        assert refused.status_code == 400, refused.text
        good = [api.post("/v1/chat/completions", json={"model": "mk/m", "messages": MSG}) for _ in range(20)]
        assert [r.status_code for r in good] == [200] * 20
        good_ids = {r.headers["x-omniroute-request-id"] for r in good}

        wait_until(lambda: len(usage_rows(api)) == 21, 20.0, lambda: f"rows written: {len(usage_rows(api))} of 21")
        rows = usage_rows(api)
        poison = [row for row in rows if row["requestId"] not in good_ids]
        assert [(row["modelRequested"], row["status"]) for row in poison] == [("m/\ufffd", 400)]  # repaired
        assert sorted(row["requestId"] for row in rows if row["status"] == 200) == sorted(good_ids)
        counted = api.get("/api/monitoring/health").json()["usageRows"]
        assert counted == {"repaired": 1, "dropped": 0}
        assert "usage row repaired" in proc.log()
