"""Throughput of 1, 2 and 4 instances behind a loopback nginx, sharing PostgreSQL and Redis.

This is the deployment docs/DEPLOY.md describes for teams: every instance runs the `/v1` router
with the same `DATABASE_URL`, `REDIS_URL` and `secret.key`, and a load balancer spreads the
clients over them. One nginx per instance count (its upstream block lists the first N
instances, keep-alive to each) so the counts run interleaved in rounds, like every other arm.

Run alone with ``python -m benchmarks.scale_out``; ``./scripts/bench`` runs it too and puts
the table into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from benchmarks import targets as t
from benchmarks.figures import RoundTotals
from benchmarks.load import generate_load
from tests.support.harness import OmniRouteProcess, free_port
from tests.support.servers import PostgresServer, RedisServer

MODEL = "mock/gpt-4o-mini"
# The name the balancer sends as Host; each instance lists it in `allowed_hosts`, as an
# operator does for the load balancer's name (docs/DEPLOY.md).
LB_NAME = "omniroute.lb"
BODY = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "scale out"}]}

NGINX_CONF = """\
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream omniroute {{
{servers}
        keepalive 128;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://omniroute;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host {lb_name};
            proxy_buffering off;
        }}
    }}
}}
"""


def nginx_conf(prefix: Path, port: int, backends: Sequence[int]) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{p};" for p in backends)
    return NGINX_CONF.format(prefix=prefix, port=port, servers=servers, lb_name=LB_NAME)


def start_nginx(work: Path, name: str, backends: Sequence[int]) -> tuple[t.Proc, str]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise RuntimeError("nginx not found: install it with `apt-get install -y nginx`")
    prefix = work / name
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_conf(prefix, port, backends))
    proc = t.Proc(name, [binary, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"], work)
    proc.wait_until(lambda: t.port_open(port), 30)
    return proc, f"http://127.0.0.1:{port}"


class ScaleOut:
    """The shared servers, N instances and one nginx per instance count."""

    def __init__(self, work: Path, mock_url: str, counts: Sequence[int], log: Callable[[str], None]) -> None:
        self.work, self.mock_url, self.counts, self.log = work, mock_url, sorted(set(counts)), log
        self.procs: list[Any] = []
        self.instances: list[OmniRouteProcess] = []
        self.balancers: dict[int, tuple[t.Proc, str]] = {}

    def start(self) -> None:
        postgres, redis = PostgresServer().start(), RedisServer().start()
        self.procs += [postgres, redis]
        key = Fernet.generate_key()
        env = {"DATABASE_URL": postgres.url, "REDIS_URL": redis.url, "OMNIROUTE_ALLOWED_HOSTS": LB_NAME}
        for i in range(max(self.counts)):
            home = self.work / f"instance-{i}"
            home.mkdir(parents=True)
            (home / "secret.key").write_bytes(key)
            (home / "secret.key").chmod(0o600)
            self.instances.append(OmniRouteProcess(home, proxy=False, bridge=False, env=env))
        # The first one migrates the database; the others start together after it.
        self.instances[0].start(timeout=180)
        with ThreadPoolExecutor(len(self.instances)) as pool:
            list(pool.map(lambda p: p.start(timeout=180), self.instances[1:]))
        self.procs += self.instances
        self.instances[0].add_provider("openai", "mock", f"{self.mock_url}/v1", api_key="sk-bench-0001")
        for proc in self.instances:  # each learns of the provider through Redis
            _wait_routable(proc)
        for count in self.counts:
            backends = [p.api_port for p in self.instances[:count]]
            self.balancers[count] = start_nginx(self.work, f"nginx-{count}", backends)
            self.procs.append(self.balancers[count][0])

    def arms(self) -> list[dict[str, Any]]:
        return [{"name": f"instances_{n}", "urls": [f"{url}/v1/chat/completions"], "body": BODY, "kind": "http"}
                for n, (_, url) in self.balancers.items()]

    def pids(self, count: int) -> list[int]:
        nginx = self.balancers[count][0]
        return [*(p.process.pid for p in self.instances[:count] if p.process), nginx.pid]

    def measure(self, requests: int, concurrency: int, rounds: int, max_seconds: float) -> dict[str, Any]:
        totals = {n: RoundTotals() for n in self.counts}
        arms = {n: arm for n, arm in zip(self.counts, self.arms(), strict=True)}
        for r in range(rounds):
            for count in self.counts:
                self.log(f"scale-out: {count} instance(s) behind nginx, {concurrency} clients (round {r + 1}/{rounds})")
                pids = self.pids(count)
                cpu0 = sum(t.cpu_seconds(p) for p in pids)
                spec = {"arms": [arms[count]], "requests": requests // rounds, "concurrency": concurrency,
                        "processes": 2, "rounds": 1, "max_seconds": max_seconds / rounds,
                        "warmup": max(5, concurrency)}
                raw = generate_load(spec, self.log)[arms[count]["name"]]
                totals[count].add(raw, sum(t.cpu_seconds(p) for p in pids) - cpu0)
        return {str(count): total.summary() for count, total in totals.items()}

    def stop(self) -> None:
        t.stop_all(self.procs, self.log)


def _wait_routable(proc: OmniRouteProcess, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        reply = httpx.post(f"{proc.api_url}/v1/chat/completions", json=BODY, timeout=30)
        if reply.status_code == 200:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"instance on port {proc.api_port} cannot route {MODEL}: {reply.text[:300]}")
        time.sleep(0.2)


def run_scale_out(work: Path, mock_url: str, *, counts: Sequence[int] = (1, 2, 4), requests: int = 4000,
                  concurrency: int = 64, rounds: int = 2, max_seconds: float = 120.0,
                  log: Callable[[str], None] = print) -> dict[str, Any]:
    """Requests per second (and latency, CPU) per instance count; ``{"error": ...}`` when the
    set-up cannot be built here (no nginx, no PostgreSQL), so the report says so plainly."""
    bench = ScaleOut(work / "scale-out", mock_url, counts, log)
    try:
        bench.start()
        return {"counts": bench.measure(requests, concurrency, rounds, max_seconds), "concurrency": concurrency,
                "nginx": _nginx_version()}
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return {"error": str(exc).splitlines()[0]}
    finally:
        bench.stop()


def _nginx_version() -> str:
    done = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=False)
    return done.stderr.strip().removeprefix("nginx version: ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale_out", description=__doc__.split("\n")[0])
    parser.add_argument("--instances", default="1,2,4", help="instance counts, comma-separated")
    parser.add_argument("--requests", type=int, default=4000, help="requests per instance count")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--delay-ms", type=float, default=5.0, help="mock provider delay")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="omniroute-scale-"))
    mock, mock_url = t.start_mock(work, args.delay_ms, 0)
    try:
        result = run_scale_out(work, mock_url, counts=[int(n) for n in args.instances.split(",")],
                               requests=args.requests, concurrency=args.concurrency,
                               log=lambda m: print(f"[scale-out {time.strftime('%H:%M:%S')}] {m}", file=sys.stderr))
    finally:
        mock.stop()
    print(json.dumps(result, indent=1))
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
