"""OmniRoute's mitmproxy addons: `omniroute run` adds them to its master, and
`mitmdump -s addons/omniroute_addons.py` loads them into a plain mitmdump.

They share one `RuntimeHost`, which builds the runtime from the `omniroute_*` options.
"""

from __future__ import annotations

from omniroute import message_check
from omniroute.addons.agent_bridge import AgentBridge
from omniroute.addons.commands import Commands
from omniroute.addons.inspector import Inspector
from omniroute.addons.listener_limits import ListenerLimits
from omniroute.addons.runtime_host import RuntimeHost


def make_addons() -> list[object]:
    """The addons in the order they must run (the host first: the others read its runtime).
    Also puts a type check that leaves no garbage in place of mitmproxy's (`message_check`)."""
    message_check.install()
    host = RuntimeHost()
    # The Inspector records each request before the AgentBridge rewrites it.
    return [host, ListenerLimits(host), Inspector(host), AgentBridge(host), Commands(host)]
