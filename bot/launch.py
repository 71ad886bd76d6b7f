"""Start the action server and the Rasa server, wait until both answer.

    python -m bot.launch            # what `make run` does; Ctrl-C stops both

Tests use :func:`running_bot` to start the same processes on free ports.
The scale-out deployment (bot.scaleout) starts the same processes, several
of each, through :class:`ProcessGroup` and :func:`wiring`.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Dict, Iterator, List, Optional

from bot.settings import ROOT, Settings, get_settings

READY_TIMEOUT = 180.0
PYTHON = sys.executable
# Our Rasa server (Rasa's CLI with bot.rasa_server's changes); the load
# benchmark starts the plain recipe's bot with Rasa's own module instead.
OUR_RASA_SERVER = "bot.rasa_server"
PLAIN_RASA_SERVER = "rasa"


@dataclass
class Bot:
    rasa_url: str
    action_url: str
    processes: List[subprocess.Popen]
    console_url: Optional[str] = None
    widget_url: Optional[str] = None


def _environment(**settings: str) -> dict:
    env = dict(os.environ)
    env.update(settings)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    return env


class ProcessGroup:
    """Processes started together and stopped together (SIGINT, then SIGKILL
    after 15 s), each writing to its own log file under `log_dir`."""

    def __init__(self, log_dir: Optional[Path], environment: Dict[str, str]):
        self.log_dir = log_dir
        self.environment = environment
        self.processes: List[subprocess.Popen] = []
        self._logs: List[IO[bytes]] = []

    def start(self, name: str, args: List[str]) -> subprocess.Popen:
        output = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = open(self.log_dir / f"{name}.log", "ab")
            self._logs.append(output)
        process = subprocess.Popen(
            args, cwd=ROOT, env=_environment(**self.environment),
            stdout=output, stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def wait_until_ready(self, url: str, timeout: float = READY_TIMEOUT) -> None:
        """Until `url` answers 200; fails at once when a process of the group exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args[:4]} exited with {process.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{url} not ready after {timeout:.0f}s")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for handle in self._logs:
            handle.close()


def wiring(settings: Settings, rasa_url: str, console_port: Optional[int]) -> Dict[str, str]:
    """How the parts find each other: the console reaches customers through
    Rasa (`rasa_url`: one server, or the load balancer in front of several);
    Rasa's handoff relay reaches the console with a shared secret (random per
    start unless configured). Without a console the relay is off."""
    environment = {
        "BOT_RASA_URL": rasa_url,
        "BOT_CONSOLE_URL": f"http://127.0.0.1:{console_port}" if console_port else "",
        "BOT_INTERNAL_TOKEN": (settings.internal_token or secrets.token_urlsafe(32))
        if console_port else "",
    }
    if settings.demo_clock_start and settings.demo_clock_anchor is None:
        environment["BOT_DEMO_CLOCK_ANCHOR"] = str(time.time())  # one demo clock for all
    return environment


def action_server_args(port: int) -> List[str]:
    return [PYTHON, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)]


def rasa_server_args(
    settings: Settings, port: int, endpoints: Path, credentials: Optional[Path], host: str,
    server_module: str = OUR_RASA_SERVER,
) -> List[str]:
    auth = ["--auth-token", settings.rasa_token] if settings.rasa_token else []
    return [
        PYTHON, "-m", server_module, "run",
        "--model", str(settings.model_path),
        "--endpoints", str(endpoints),
        "--credentials", str(credentials or ROOT / "credentials.yml"),
        "--interface", host, "--port", str(port),
        "--enable-api", "--cors", "*", *auth,
    ]


def rasa_status_url(settings: Settings, rasa_url: str) -> str:
    token = f"?token={settings.rasa_token}" if settings.rasa_token else ""
    return f"{rasa_url}/status{token}"


def start_console(group: ProcessGroup, host: str, port: int) -> str:
    group.start("console", [PYTHON, "-m", "bot.console", "--host", host, "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    group.wait_until_ready(f"{url}/login")
    return url


def start_widget(group: ProcessGroup, host: str, port: int, browser_rasa_url: str) -> str:
    group.start("widget", [
        PYTHON, "-m", "bot.widget", "--host", host, "--port", str(port),
        "--rasa-url", browser_rasa_url,
    ])
    url = f"http://127.0.0.1:{port}"
    group.wait_until_ready(f"{url}/health")
    return url


def write_endpoints(path: Path, action_port: int) -> Path:
    """An endpoints file like ours, pointing at an action server on another port."""
    text = (ROOT / "endpoints.yml").read_text(encoding="utf-8")
    default = f"{get_settings().action_host}:{get_settings().action_port}/webhook"
    path.write_text(text.replace(default, f"127.0.0.1:{action_port}/webhook"), encoding="utf-8")
    return path


@contextlib.contextmanager
def running_bot(
    rasa_port: int,
    action_port: int,
    endpoints: Optional[Path] = None,
    log_dir: Optional[Path] = None,
    host: str = "127.0.0.1",
    console_port: Optional[int] = None,
    credentials: Optional[Path] = None,
    widget_port: Optional[int] = None,
    server_module: str = OUR_RASA_SERVER,
) -> Iterator[Bot]:
    settings = Settings()  # the environment as it is now: the processes inherit it
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    action_url = f"http://127.0.0.1:{action_port}"
    group = ProcessGroup(log_dir, wiring(settings, rasa_url, console_port))
    try:
        group.start("actions", action_server_args(action_port))
        group.start("rasa", rasa_server_args(
            settings, rasa_port, endpoints or ROOT / "endpoints.yml", credentials, host,
            server_module,
        ))
        group.wait_until_ready(f"{action_url}/health")
        console_url = start_console(group, host, console_port) if console_port else None
        widget_url = (
            start_widget(group, host, widget_port, settings.widget_rasa_url or rasa_url)
            if widget_port else None
        )
        group.wait_until_ready(rasa_status_url(settings, rasa_url))
        yield Bot(
            rasa_url=rasa_url, action_url=action_url, processes=group.processes,
            console_url=console_url, widget_url=widget_url,
        )
    finally:
        group.stop()


def announce(bot: Bot, started: float, log_dir: Path) -> None:
    print(
        f"\n金融客服助手 is ready ({time.monotonic() - started:.0f}s).\n"
        f"  Rasa server (REST + socket.io): {bot.rasa_url}\n"
        f"  Action server:                  {bot.action_url}\n"
        f"  Agents' console:                {bot.console_url}  (demo agents: make run listed them above)\n"
        f"  Web chat widget (demo page):    {bot.widget_url}/\n"
        f"  Logs:                           {log_dir}\n\n"
        "Talk to it over REST:\n"
        f"  curl -s {bot.rasa_url}/webhooks/rest/webhook -H 'Content-Type: application/json' "
        "-d '{\"sender\": \"demo\", \"message\": \"人工服务几点上班\"}'\n"
        "Or interactively, in another terminal:\n"
        "  make shell\n\n"
        "Ctrl-C stops all servers.",
        flush=True,
    )


def serve_until_interrupted(bot: Bot) -> None:
    try:
        while all(process.poll() is None for process in bot.processes):
            time.sleep(1)
    except KeyboardInterrupt:
        pass


def main() -> int:
    settings = get_settings()
    if not settings.model_path.exists():
        print(f"No trained model at {settings.model_path}; run `make run`.", file=sys.stderr)
        return 1
    started = time.monotonic()
    with running_bot(
        settings.rasa_port,
        settings.action_port,
        log_dir=settings.var_dir / "log",
        console_port=settings.console_port,
        widget_port=settings.widget_port,
    ) as bot:
        announce(bot, started, settings.var_dir / "log")
        serve_until_interrupted(bot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
