"""The built wheel, installed into a fresh virtualenv outside the checkout, runs the product:
`omniroute run --demo` from another directory serves `/v1`, the UI and the proxy.

The wheel is installed without its dependencies; those come from this checkout's virtualenv
through a `.pth` line (its own `.pth` files, such as the editable install of this checkout,
are not read from there), so the test stays offline and quick.
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from tests.support.harness import REPO_ROOT, OmniRouteProcess

UV = REPO_ROOT / ".venv" / "bin" / "uv"


class InstalledOmniRoute(OmniRouteProcess):
    def __init__(self, venv: Path, home: Path) -> None:
        super().__init__(home, demo=True, bridge=False)
        self.venv = venv
        self.cwd = home.parent  # neither the checkout nor anything on sys.path

    def command(self) -> list[str]:
        return [str(self.venv / "bin" / "omniroute"), *super().command()[1:]]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstalledOmniRoute]:
    root = tmp_path_factory.mktemp("installed")
    dist, venv = root / "dist", root / "venv"
    subprocess.run([str(UV), "build", "--wheel", "--out-dir", str(dist), str(REPO_ROOT)],
                   check=True, capture_output=True, timeout=300)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    wheel = next(dist.glob("omniroute-*.whl"))
    subprocess.run([str(UV), "pip", "install", "--no-deps", "--python", str(python), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "checkout-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    (root / "run").mkdir()
    process = InstalledOmniRoute(venv, root / "run" / "home")
    with process:
        yield process


def test_the_package_is_imported_from_the_fresh_virtualenv(installed: InstalledOmniRoute) -> None:
    found = subprocess.run([str(installed.venv / "bin" / "python"), "-c", "import omniroute; print(omniroute.__file__)"],
                           check=True, capture_output=True, text=True, cwd=installed.cwd).stdout.strip()
    assert Path(found).is_relative_to(installed.venv), found
    assert str(REPO_ROOT) not in found


def test_v1_answers_with_the_demo_provider_in_two_formats(installed: InstalledOmniRoute) -> None:
    client = openai.OpenAI(base_url=f"{installed.api_url}/v1", api_key="unused", max_retries=0)
    chat = client.chat.completions.create(model="demo/echo", messages=[{"role": "user", "content": "hello wheel"}])
    assert chat.choices[0].message.content == "demo reply from echo: hello wheel"
    stream = client.chat.completions.create(model="demo/echo", stream=True,
                                            messages=[{"role": "user", "content": "streamed"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "demo reply from echo: streamed"
    claude = anthropic.Anthropic(base_url=installed.api_url, api_key="unused", max_retries=0)
    message = claude.messages.create(model="demo/echo", max_tokens=32, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "demo reply from echo: hi"  # type: ignore[union-attr]


def test_the_ui_page_and_every_asset_it_loads(installed: InstalledOmniRoute) -> None:
    with installed.api() as api:
        page = api.get("/", follow_redirects=True)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assets = set(re.findall(r'(?:src|href)="(/static/[^"?]+)', page.text))
        assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets), assets
        for asset in assets:
            response = api.get(asset)
            assert response.status_code == 200 and response.content, asset


def test_a_mapped_agent_call_through_the_proxy_port(installed: InstalledOmniRoute) -> None:
    installed.map_models("codex", {"*": "demo/echo"})
    http_client = httpx.Client(proxy=installed.proxy_url, verify=installed.ssl_context(), trust_env=False, timeout=30)
    client = openai.OpenAI(base_url="https://api.openai.com/v1", api_key="sk-agent-own-key-0001",
                           http_client=http_client, max_retries=0)
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "via the proxy"}])
    assert reply.choices[0].message.content == "demo reply from echo: via the proxy"
