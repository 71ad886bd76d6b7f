"""The scale-out deployment: the same code as `make run`, as several Rasa and
action-server replicas behind nginx, on PostgreSQL and Redis.

    python -m bot.scaleout          # what `make run-scaled` does; Ctrl-C stops all

What is shared, and where:

- Rasa's tracker store (every conversation's events) is PostgreSQL
  (``BOT_TRACKER_STORE_URL``), so any replica can take a conversation's next
  message; Rasa's lock store is Redis (``BOT_REDIS_URL``), so two replicas
  never process the same conversation at once (Rasa's ticket lock, with
  atomic changes: bot.lock_store; the second message waits its turn);
- the application data (customers, applications, appointments, cases) is
  PostgreSQL (``DATABASE_URL``), reached by the stateless action servers;
- the shared caches are Redis: WeChat de-duplication and access token, the
  console's events, presence, login limits and logouts; socket.io rooms
  (bot.channels.socketio), so an agent's message appended through any replica
  reaches the customer's socket on whichever replica holds it.

nginx (Debian's package, `.ci/ensure-nginx`) balances round-robin with passive
health checks: a replica that refuses a connection is skipped for
``FAIL_TIMEOUT`` seconds and the request goes to the next one. nginx retries
only requests that never reached a replica (a refused connection), never one
a replica may have processed, so a message cannot be handled twice.
"""
from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional
from urllib.parse import urlsplit

import yaml
from sqlalchemy.engine import make_url

from bot.launch import (
    Bot,
    ProcessGroup,
    action_server_args,
    announce,
    rasa_server_args,
    rasa_status_url,
    serve_until_interrupted,
    start_console,
    start_widget,
    wiring,
)
from bot.settings import ROOT, Settings, get_settings

FAIL_TIMEOUT = 10  # seconds nginx skips a replica that refused a connection
READ_TIMEOUT = 120  # seconds nginx waits for a replica's answer (a queued turn included)


class ScaleOutMisconfigured(RuntimeError):
    pass


@dataclass
class Replica:
    name: str
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class ScaledBot(Bot):
    rasa_replicas: List[Replica] = field(default_factory=list)
    action_replicas: List[Replica] = field(default_factory=list)
    nginx_access_log: Optional[Path] = None


def check_settings(settings: Settings) -> None:
    """Refuse to start a scale-out deployment on in-process state."""
    problems = []
    if not settings.tracker_store_url:
        problems.append("BOT_TRACKER_STORE_URL (PostgreSQL, for the conversations)")
    if not settings.redis_url:
        problems.append("BOT_REDIS_URL (the lock store and the shared caches)")
    if make_url(settings.database_url).get_backend_name() == "sqlite":
        problems.append("DATABASE_URL on PostgreSQL (a SQLite file is one machine's)")
    if problems:
        raise ScaleOutMisconfigured("the scale-out deployment needs " + "; ".join(problems))


def tracker_store_config(tracker_store_url: str) -> dict:
    """Rasa's SQL tracker store section for an SQLAlchemy URL."""
    url = make_url(tracker_store_url)
    config = {
        "type": "SQL",
        "dialect": url.get_backend_name(),
        "url": url.host,
        "port": url.port,
        "db": url.database,
        "username": url.username,
        "password": url.password,
    }
    return {key: value for key, value in config.items() if value is not None}


def lock_store_config(redis_url: str, key_prefix: str) -> dict:
    """The lock store section: Rasa's Redis lock store made atomic across
    replicas (bot.lock_store). Rasa accepts only an alphanumeric key prefix,
    so the deployment's prefix is reduced to its letters and digits."""
    url = urlsplit(redis_url)
    config = {
        "type": "bot.lock_store.AtomicRedisLockStore",
        "url": url.hostname or "127.0.0.1",
        "port": url.port or 6379,
        "db": int(url.path.strip("/") or 0),
        "password": url.password,
        "use_ssl": url.scheme == "rediss",
        "key_prefix": re.sub(r"[^0-9A-Za-z]", "", key_prefix) or None,
    }
    return {key: value for key, value in config.items() if value is not None}


def endpoints_config(settings: Settings, action_url: str) -> dict:
    """endpoints.yml with the shared stores and the actions behind the balancer."""
    config = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    config["action_endpoint"] = {"url": f"{action_url}/webhook"}
    config["tracker_store"] = tracker_store_config(settings.tracker_store_url)
    config["lock_store"] = lock_store_config(settings.redis_url, settings.redis_key_prefix)
    return config


def nginx_config(
    workdir: Path, rasa_port: int, rasa_ports: List[int], action_port: int, action_ports: List[int]
) -> str:
    def upstream(name: str, ports: List[int]) -> str:
        servers = "".join(
            f"        server 127.0.0.1:{port} max_fails=1 fail_timeout={FAIL_TIMEOUT}s;\n"
            for port in ports
        )
        return f"    upstream {name} {{\n{servers}    }}\n"

    def server(port: int, upstream_name: str) -> str:
        return (
            f"    server {{\n"
            f"        listen 127.0.0.1:{port};\n"
            f"        location / {{\n"
            f"            proxy_pass http://{upstream_name};\n"
            f"            proxy_http_version 1.1;\n"
            f"            proxy_set_header Host $host;\n"
            f"            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
            # socket.io's websocket transport
            f"            proxy_set_header Upgrade $http_upgrade;\n"
            f"            proxy_set_header Connection $connection_upgrade;\n"
            f"            proxy_read_timeout {READ_TIMEOUT}s;\n"
            # a refused connection reached no replica: safe to try the next one
            f"            proxy_next_upstream error timeout;\n"
            f"        }}\n"
            f"    }}\n"
        )

    return (
        "worker_processes 1;\n"
        "daemon off;\n"
        f"pid {workdir / 'nginx.pid'};\n"
        f"error_log {workdir / 'error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        # the replicas tried, last the one that answered: "127.0.0.1:5105, 127.0.0.1:5106"
        "    log_format upstreams '$time_iso8601 $request_method $uri $status "
        "$request_time \"$upstream_addr\"';\n"
        f"    access_log {workdir / 'access.log'} upstreams;\n"
        f"    client_body_temp_path {workdir / 'tmp'};\n"
        f"    proxy_temp_path {workdir / 'tmp'};\n"
        # Bodies and answers stay in memory, never in temporary files (nginx's
        # workers may run as another user than the one owning the work dir).
        "    client_max_body_size 1m;\n"
        "    client_body_buffer_size 1m;\n"
        "    proxy_max_temp_file_size 0;\n"
        "    map $http_upgrade $connection_upgrade { default upgrade; '' close; }\n"
        + upstream("rasa", rasa_ports)
        + upstream("actions", action_ports)
        + server(rasa_port, "rasa")
        + server(action_port, "actions")
        + "}\n"
    )


def prepare_tracker_store(tracker_store_url: str) -> None:
    """Create Rasa's events table once, before the replicas start: replicas
    that each create it at the same moment can collide in PostgreSQL's catalog."""
    from sqlalchemy import create_engine
    from rasa.core.tracker_store import SQLTrackerStore

    engine = create_engine(tracker_store_url)
    try:
        SQLTrackerStore.Base.metadata.create_all(engine)
    finally:
        engine.dispose()


@contextlib.contextmanager
def running_scaled_bot(
    rasa_port: int,
    action_port: int,
    rasa_ports: List[int],
    action_ports: List[int],
    workdir: Path,
    console_port: Optional[int] = None,
    widget_port: Optional[int] = None,
    host: str = "127.0.0.1",
) -> Iterator[ScaledBot]:
    """nginx on `rasa_port` and `action_port` in front of a Rasa replica on
    each of `rasa_ports` and an action server on each of `action_ports`.
    Configuration, logs and nginx's files go to `workdir`."""
    settings = Settings()  # the environment as it is now: the processes inherit it
    check_settings(settings)
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    action_url = f"http://127.0.0.1:{action_port}"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    endpoints = workdir / "endpoints.yml"
    endpoints.write_text(
        yaml.safe_dump(endpoints_config(settings, action_url), allow_unicode=True),
        encoding="utf-8",
    )
    nginx_conf = workdir / "nginx.conf"
    nginx_conf.write_text(
        nginx_config(workdir, rasa_port, rasa_ports, action_port, action_ports), encoding="utf-8"
    )
    prepare_tracker_store(settings.tracker_store_url)

    group = ProcessGroup(workdir, wiring(settings, rasa_url, console_port))
    try:
        action_replicas = [
            Replica(f"actions-{i}", port, group.start(f"actions-{i}", action_server_args(port)))
            for i, port in enumerate(action_ports, 1)
        ]
        rasa_replicas = [
            Replica(f"rasa-{i}", port, group.start(
                f"rasa-{i}", rasa_server_args(settings, port, endpoints, None, "127.0.0.1")
            ))
            for i, port in enumerate(rasa_ports, 1)
        ]
        group.start("nginx", [
            str(settings.nginx_path), "-p", str(workdir), "-c", str(nginx_conf),
            "-e", str(workdir / "error.log"),
        ])
        for replica in action_replicas:
            group.wait_until_ready(f"{replica.url}/health")
        console_url = start_console(group, host, console_port) if console_port else None
        widget_url = (
            start_widget(group, host, widget_port, settings.widget_rasa_url or rasa_url)
            if widget_port else None
        )
        for replica in rasa_replicas:
            group.wait_until_ready(rasa_status_url(settings, replica.url))
        group.wait_until_ready(rasa_status_url(settings, rasa_url))
        yield ScaledBot(
            rasa_url=rasa_url, action_url=action_url, processes=group.processes,
            console_url=console_url, widget_url=widget_url,
            rasa_replicas=rasa_replicas, action_replicas=action_replicas,
            nginx_access_log=workdir / "access.log",
        )
    finally:
        group.stop()


def main() -> int:
    settings = get_settings()
    if not settings.model_path.exists():
        print(f"No trained model at {settings.model_path}; run `make run-scaled`.", file=sys.stderr)
        return 1
    try:
        check_settings(settings)
    except ScaleOutMisconfigured as error:
        print(f"{error}. See the README, 'Scale-out'.", file=sys.stderr)
        return 1
    started = time.monotonic()
    base = 5100
    with running_scaled_bot(
        settings.rasa_port,
        settings.action_port,
        rasa_ports=[base + 5 + i for i in range(settings.rasa_replicas)],
        action_ports=[base + 55 + i for i in range(settings.action_replicas)],
        workdir=settings.var_dir / "scaleout",
        console_port=settings.console_port,
        widget_port=settings.widget_port,
    ) as bot:
        announce(bot, started, settings.var_dir / "scaleout")
        print(
            f"Behind nginx ({bot.rasa_url}, {bot.action_url}): "
            + ", ".join(f"{r.name} {r.url}" for r in bot.rasa_replicas + bot.action_replicas)
            + f"\nnginx's access log (which replica took each request): {bot.nginx_access_log}",
            flush=True,
        )
        serve_until_interrupted(bot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
