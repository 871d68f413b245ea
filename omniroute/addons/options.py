"""OmniRoute's mitmproxy options and how they become `Settings` (one way: options → Settings).

mitmproxy's own options stay the user's: the HTTP_PROXY listener is whichever `regular` mode
mitmproxy runs (`--listen-host`, `--listen-port`, `--mode`), so its port is read from there, and
its authentication is mitmproxy's `proxyauth`.
`omniroute_*` options carry only what mitmproxy has no option for; unset ones leave the
environment and the config file in charge (`Settings` precedence).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mitmproxy import exceptions
from mitmproxy.proxy.mode_specs import ProxyMode, RegularMode, ReverseMode
from pydantic import ValidationError

from omniroute.config import Settings
from omniroute.listeners import bridge_mode, is_bridge_mode

# option → Settings field
OPTION_FIELDS = {
    "omniroute_home": "home",
    "omniroute_host": "host",
    "omniroute_api_port": "api_port",
    "omniroute_demo": "demo",
    "omniroute_config": "config_file",
    "omniroute_allow_open_proxy": "allow_open_proxy",
    "omniroute_allow_open_v1": "allow_open_v1",
}
BRIDGE_OPTION = "omniroute_bridge_port"
OPTIONS = frozenset([*OPTION_FIELDS, BRIDGE_OPTION])


def add_options(loader: Any) -> None:
    loader.add_option("omniroute_home", str | None, None, "OmniRoute home directory (db, certs, logs).")
    loader.add_option("omniroute_host", str | None, None, "Address the OmniRoute API listens on.")
    loader.add_option("omniroute_api_port", int | None, None, "Port of the OmniRoute API; 0 disables it.")
    loader.add_option(
        BRIDGE_OPTION, int | None, None,
        "Port of the DNS-mode listener, added to mitmproxy's modes; unset or 0: none.",
    )
    loader.add_option("omniroute_demo", bool, False, "Register the built-in offline demo provider.")
    loader.add_option("omniroute_config", str | None, None,
                      "OmniRoute config file (YAML): applied at start and on SIGHUP.")
    loader.add_option("omniroute_allow_open_proxy", bool, False, "Beyond loopback: proxy listeners without authentication.")
    loader.add_option("omniroute_allow_open_v1", bool, False, "Beyond loopback: /v1 without REQUIRE_API_KEY.")


def modes_with_bridge(modes: Sequence[str], bridge_port: int | None) -> list[str]:
    """mitmproxy's modes plus the DNS-mode listener when `omniroute_bridge_port` asks for one."""
    modes = list(modes)
    if bridge_port and not any(is_bridge_mode(m) for m in modes):
        modes.append(bridge_mode(bridge_port))
    return modes


def listener_ports(modes: Sequence[str], listen_port: int | None) -> tuple[int, int]:
    """(HTTP_PROXY port, DNS-mode port) of the listeners mitmproxy runs; 0 for one it does not."""
    proxy_port = bridge_port = 0
    for spec in modes:
        mode = ProxyMode.parse(spec)
        port = mode.listen_port(listen_port) or 0
        if isinstance(mode, ReverseMode) and is_bridge_mode(mode.data):
            bridge_port = bridge_port or port
        elif isinstance(mode, RegularMode):
            proxy_port = proxy_port or port
    return proxy_port, bridge_port


def settings_from(options: Any) -> Settings:
    """The `Settings` these options describe; `OptionsError` names a value that cannot be used."""
    fields: dict[str, Any] = {
        field: value
        for option, field in OPTION_FIELDS.items()
        if (value := getattr(options, option)) is not None and value is not False
    }
    modes = modes_with_bridge(options.mode, options.omniroute_bridge_port)
    fields["proxy_port"], fields["bridge_port"] = listener_ports(modes, options.listen_port)
    fields["proxy_auth"] = options.proxyauth or None  # mitmproxy's own option guards the proxy
    try:
        return Settings(**fields)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise exceptions.OptionsError(f"OmniRoute setting {where}: {problem['msg']}") from None
