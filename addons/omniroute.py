"""OmniRoute's mitmproxy addons: `mitmdump -s addons/omniroute.py` (what `omniroute run` loads).

mitmproxy puts this folder first on sys.path while loading a script, where this file's own
name would shadow the `omniroute` package; so the package is imported with the folder
hidden, then the sibling hook modules are imported normally.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

_here = Path(__file__).resolve().parent
if "omniroute" not in sys.modules or not hasattr(sys.modules["omniroute"], "__path__"):
    _saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    try:
        sys.modules.pop("omniroute", None)
        importlib.import_module("omniroute")
    finally:
        sys.path[:] = _saved
if str(_here) not in sys.path:
    sys.path.insert(0, str(_here))

from agent_bridge import AgentBridge  # noqa: E402
from inspector import Inspector  # noqa: E402
from listener_limits import ListenerLimits  # noqa: E402
from runtime_host import RuntimeHost  # noqa: E402

_runtime_host = RuntimeHost()

# Order matters: the Inspector records each request before the AgentBridge rewrites it.
addons = [
    _runtime_host,
    ListenerLimits(_runtime_host),
    Inspector(_runtime_host),
    AgentBridge(_runtime_host),
]
