"""Bodies of `omniroute connect TOOL --direct` and `omniroute disconnect TOOL`.

With a server running for this home, the change goes through its API (`/api/cli-tools`), so
the per-tool key it makes is known to it at once; with none, the settings and the key are
written here, and a server started later reads the key from the database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omniroute.cli_bridge import CommandError, open_db, running_api
from omniroute.clitools.formats import SettingsFileError
from omniroute.clitools.service import CliTools, user_home
from omniroute.clitools.tools import UnknownTool, writer_for
from omniroute.config import Settings

Echo = Callable[[str], None]


def connect(settings: Settings, tool: str, model: str | None, small_model: str | None, echo: Echo) -> None:
    writer = _writer(tool)
    body = {k: v for k, v in (("model", model), ("smallModel", small_model)) if v}
    state = _through_api(settings, "post", f"/api/cli-tools/{writer.slug}-settings", body)
    if state is None:
        state = _locally(settings, lambda tools: tools.connect(writer, model, small_model))
    echo(f"{writer.name} now calls OmniRoute directly at {state['baseUrl']} (no proxy, no CA).")
    echo(f"settings written: {', '.join(state['files'])} (backed up first; undo with: omniroute disconnect {writer.id})")
    echo(f"map its models with: omniroute map {writer.agent} '*=CONNECTION/MODEL'")


def disconnect(settings: Settings, tool: str, echo: Echo) -> None:
    writer = _writer(tool)
    state = _through_api(settings, "delete", f"/api/cli-tools/{writer.slug}-settings", None)
    if state is None:
        state = _locally(settings, lambda tools: tools.disconnect(writer))
    echo(f"{writer.name} settings reset: {', '.join(state['files'])}")


def _writer(tool: str) -> Any:
    try:
        return writer_for(tool)
    except UnknownTool as exc:
        raise CommandError(str(exc), 2) from None


def _through_api(settings: Settings, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any] | None:
    api = running_api(settings)
    if api is None:
        return None
    try:
        reply = api.request(method.upper(), path, json=body)
    finally:
        api.close()
    if reply.status_code != 200:
        try:
            message = reply.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = reply.text[:300]
        raise CommandError(message, 1)
    return reply.json()  # type: ignore[no-any-return]


def _locally(settings: Settings, action: Callable[[CliTools], dict[str, Any]]) -> dict[str, Any]:
    from omniroute.api.tool_keys import ToolKeys

    db = open_db(settings)
    try:
        keys = ToolKeys(db)
        keys.reload()
        return action(CliTools(settings, keys, user_home()))
    except SettingsFileError as exc:
        raise CommandError(str(exc), 1) from None
    finally:
        db.dispose()
