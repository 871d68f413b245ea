from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from omniroute.bridge import hostsfile as hf
from omniroute.bridge.hostsfile import (
    BEGIN,
    END,
    HostsFile,
    HostsFileError,
    HostsFileNotWritable,
    flush_dns,
    flush_dns_commands,
    parse,
)

ORIGINAL = (
    "127.0.0.1 localhost\n::1 localhost ip6-localhost\n# a comment the user wrote\n"
    "10.0.0.5 nas.lan\n"
)
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def hosts_path(tmp_path: Path) -> Path:
    path = tmp_path / "hosts"
    path.write_text(ORIGINAL)
    path.chmod(0o644)
    return path


def test_enable_writes_block_for_both_loopbacks(hosts_path: Path) -> None:
    hosts = HostsFile(hosts_path)
    assert hosts.enable("claude-code", ["api.anthropic.com"]) is True
    text = hosts_path.read_text()
    assert text.startswith(ORIGINAL)
    assert text[len(ORIGINAL) :] == (
        f"{BEGIN}\n"
        "127.0.0.1 api.anthropic.com # omniroute:claude-code\n"
        "::1 api.anthropic.com # omniroute:claude-code\n"
        f"{END}\n"
    )
    assert hosts.entries() == {"claude-code": ["api.anthropic.com"]}
    assert hosts.is_enabled("claude-code") and not hosts.is_enabled("codex")


def test_idempotent_enable_disable_and_round_trip(hosts_path: Path) -> None:
    hosts = HostsFile(hosts_path)
    assert hosts.enable("codex", ["chatgpt.com", "API.OpenAI.com."])
    after_enable = hosts_path.read_bytes()
    inode = hosts_path.stat().st_ino
    assert hosts.enable("codex", ["api.openai.com", "chatgpt.com"]) is False
    assert hosts_path.read_bytes() == after_enable
    assert hosts_path.stat().st_ino == inode  # nothing rewritten
    assert hosts.disable("codex") is True
    assert hosts.disable("codex") is False
    assert hosts_path.read_text() == ORIGINAL


def test_per_agent_entries_share_hosts_independently(hosts_path: Path) -> None:
    hosts = HostsFile(hosts_path)
    hosts.enable("claude-code", ["api.anthropic.com"])
    hosts.enable("kiro", ["q.us-east-1.amazonaws.com", "api.anthropic.com"])
    assert hosts.entries() == {
        "claude-code": ["api.anthropic.com"],
        "kiro": ["api.anthropic.com", "q.us-east-1.amazonaws.com"],
    }
    hosts.disable("claude-code")
    assert hosts.entries() == {"kiro": ["api.anthropic.com", "q.us-east-1.amazonaws.com"]}
    hosts.enable("kiro", ["prod.kiro.aws"])  # replaces the agent's list
    assert hosts.entries() == {"kiro": ["prod.kiro.aws"]}
    assert hosts.remove_all() is True
    assert hosts_path.read_text() == ORIGINAL
    assert hosts.remove_all() is False


def test_block_in_the_middle_is_updated_in_place(hosts_path: Path) -> None:
    hosts_path.write_text(
        f"127.0.0.1 localhost\n{BEGIN}\n127.0.0.1 old.example # omniroute:zed\n"
        f"junk line\n{END}\n10.0.0.5 nas.lan\n"
    )
    hosts = HostsFile(hosts_path)
    assert hosts.entries() == {"zed": ["old.example"]}
    hosts.enable("zed", ["llm.zed.dev"])
    lines = hosts_path.read_text().splitlines()
    assert lines[0] == "127.0.0.1 localhost" and lines[-1] == "10.0.0.5 nas.lan"
    assert "junk line" not in lines and hosts.entries() == {"zed": ["llm.zed.dev"]}


def test_missing_trailing_newline_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text("127.0.0.1 localhost")
    HostsFile(path).enable("zed", ["llm.zed.dev"])
    assert path.read_text().startswith(f"127.0.0.1 localhost\n{BEGIN}\n")
    fresh = HostsFile(tmp_path / "new-hosts")
    assert fresh.entries() == {}
    fresh.enable("zed", ["llm.zed.dev"])
    assert fresh.entries() == {"zed": ["llm.zed.dev"]}


def test_mode_kept_and_backup_made_once(hosts_path: Path) -> None:
    hosts_path.chmod(0o640)
    hosts = HostsFile(hosts_path)
    hosts.enable("codex", ["api.openai.com"])
    assert stat.S_IMODE(hosts_path.stat().st_mode) == 0o640
    assert hosts.backup_path.read_text() == ORIGINAL
    assert stat.S_IMODE(hosts.backup_path.stat().st_mode) == 0o640
    hosts.enable("zed", ["llm.zed.dev"])
    hosts.remove_all()
    assert hosts.backup_path.read_text() == ORIGINAL  # never overwritten


def test_invalid_input_and_unbalanced_block(hosts_path: Path) -> None:
    hosts = HostsFile(hosts_path)
    with pytest.raises(ValueError, match="wildcard"):
        hosts.enable("x", ["*.example.com"])
    with pytest.raises(ValueError, match="no hosts"):
        hosts.enable("trae", [])
    with pytest.raises(ValueError, match="invalid agent id"):
        hosts.enable("bad id", ["a.example"])
    hosts_path.write_text(ORIGINAL + BEGIN + "\n127.0.0.1 a.example # omniroute:x\n")
    with pytest.raises(HostsFileError, match="unbalanced"):
        hosts.enable("codex", ["api.openai.com"])
    assert hosts_path.read_text().endswith("# omniroute:x\n")  # left alone


def test_sudo_command_names_path_only_when_not_default(tmp_path: Path) -> None:
    default = HostsFile("/etc/hosts")
    assert default.sudo_command("dns claude-code on") == "sudo omniroute dns claude-code on"
    custom = HostsFile(tmp_path / "my hosts", command="/opt/omniroute/bin/omniroute")
    assert custom.sudo_command("dns codex off") == (
        f"sudo env OMNIROUTE_HOSTS_FILE='{tmp_path}/my hosts' "
        "/opt/omniroute/bin/omniroute dns codex off"
    )


def _enable_as_unprivileged(path: str, queue: multiprocessing.queues.Queue[str]) -> None:
    if os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)
    try:
        HostsFile(path).enable("claude-code", ["api.anthropic.com"])
        queue.put("no error")
    except HostsFileNotWritable as exc:
        queue.put(f"{exc}\n{exc.command}")


def test_not_writable_error_gives_exact_sudo_command() -> None:
    directory = Path(tempfile.mkdtemp(prefix="omniroute-ro-"))
    try:
        directory.chmod(0o755)
        path = directory / "hosts"
        path.write_text(ORIGINAL)
        path.chmod(0o644)
        if os.geteuid() != 0:
            directory.chmod(0o555)
            path.chmod(0o444)
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        proc = ctx.Process(target=_enable_as_unprivileged, args=(str(path), queue))
        proc.start()
        message = queue.get(timeout=30)
        proc.join(30)
        expected = f"sudo env OMNIROUTE_HOSTS_FILE={path} omniroute dns claude-code on"
        assert expected in message, message
        assert f"cannot write {path}" in message
        assert path.read_text() == ORIGINAL
    finally:
        directory.chmod(0o755)
        shutil.rmtree(directory)


def test_concurrent_toggles_from_threads_lose_nothing(hosts_path: Path) -> None:
    agents = [f"agent-{i}" for i in range(8)]
    errors: list[BaseException] = []

    def toggle(agent: str) -> None:
        try:
            hosts = HostsFile(hosts_path)  # own instance: nothing shared but the file
            for round_ in range(15):
                hosts.enable(agent, [f"{agent}.example", f"r{round_}.{agent}.example"])
                if round_ % 3 == 0:
                    hosts.disable(agent)
            hosts.enable(agent, [f"{agent}.example"])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=toggle, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert HostsFile(hosts_path).entries() == {a: [f"{a}.example"] for a in agents}
    assert hosts_path.read_text().startswith(ORIGINAL)


def _process_toggles(path: str, agent: str) -> None:
    hosts = HostsFile(path)
    for round_ in range(20):
        hosts.enable(agent, [f"{agent}.example", f"r{round_}.{agent}.example"])
        if round_ % 4 == 0:
            hosts.disable(agent)
    hosts.enable(agent, [f"{agent}.example"])


def test_concurrent_toggles_from_processes_lose_nothing(hosts_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    agents = [f"proc-{i}" for i in range(6)]
    procs = [ctx.Process(target=_process_toggles, args=(str(hosts_path), a)) for a in agents]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert HostsFile(hosts_path).entries() == {a: [f"{a}.example"] for a in agents}
    assert hosts_path.read_text().startswith(ORIGINAL)


WRITER = textwrap.dedent(
    """
    import sys
    from omniroute.bridge.hostsfile import HostsFile
    hosts = HostsFile(sys.argv[1])
    many = [f"h{i}.crash.example" for i in range(400)]  # a big block: writes take time
    print("ready", flush=True)
    while True:
        hosts.enable("crash", many)
        hosts.disable("crash")
    """
)


def test_kill_9_mid_write_always_leaves_a_valid_file(hosts_path: Path) -> None:
    big = [f"h{i}.crash.example" for i in range(400)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rng = random.Random(1234)
    for _ in range(25):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(hosts_path)], stdout=subprocess.PIPE, env=env
        )
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.05))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
        text = hosts_path.read_text()
        assert text.count(BEGIN) == text.count(END) <= 1
        before, entries, after = parse(text)
        assert before == ORIGINAL and after == ""
        assert entries in ({}, {"crash": sorted(big)})  # the old or the new file, never a mix
        assert stat.S_IMODE(hosts_path.stat().st_mode) == 0o644
    # Temp files of killed writers are cleaned up by the next successful change.
    hosts = HostsFile(hosts_path)
    hosts.enable("zed", ["llm.zed.dev"])
    hosts.disable("zed")
    assert not list(hosts_path.parent.glob(".hosts.omniroute-*.tmp"))


def test_flush_dns_commands_per_os() -> None:
    assert flush_dns_commands("darwin") == [
        ["dscacheutil", "-flushcache"], ["killall", "-HUP", "mDNSResponder"],
    ]
    assert flush_dns_commands("win32") == [["ipconfig", "/flushdns"]]
    assert flush_dns_commands("linux") == [
        ["resolvectl", "flush-caches"], ["systemd-resolve", "--flush-caches"],
    ]
    assert flush_dns_commands("plan9") == []


def test_flush_dns_is_best_effort(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hf.shutil, "which", lambda name: None)
    results = flush_dns("linux")
    assert [outcome for _, outcome in results] == ["not installed", "not installed"]
