"""Start the action server and the Rasa server, wait until both answer.

    python -m bot.launch            # what `make run` does; Ctrl-C stops both

Tests use :func:`running_bot` to start the same processes on free ports.
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
from typing import Iterator, List, Optional

from bot.settings import ROOT, Settings, get_settings

READY_TIMEOUT = 180.0


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


def _wait_until_ready(url: str, processes: List[subprocess.Popen], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
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


def _stop(processes: List[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
) -> Iterator[Bot]:
    settings = Settings()  # the environment as it is now: the processes inherit it
    python = sys.executable
    logs = []

    def output(name: str):
        if log_dir is None:
            return None
        log_dir.mkdir(parents=True, exist_ok=True)
        handle = open(log_dir / f"{name}.log", "ab")
        logs.append(handle)
        return handle

    # How the parts find each other: the console reaches customers through
    # this Rasa; Rasa's handoff relay reaches this console with a shared
    # secret (random per start unless configured). Without a console the
    # relay is off.
    wiring = {
        "BOT_RASA_URL": f"http://127.0.0.1:{rasa_port}",
        "BOT_CONSOLE_URL": f"http://127.0.0.1:{console_port}" if console_port else "",
        "BOT_INTERNAL_TOKEN": (settings.internal_token or secrets.token_urlsafe(32))
        if console_port else "",
    }
    if settings.demo_clock_start and settings.demo_clock_anchor is None:
        wiring["BOT_DEMO_CLOCK_ANCHOR"] = str(time.time())  # one demo clock for all
    auth = ["--auth-token", settings.rasa_token] if settings.rasa_token else []
    processes: List[subprocess.Popen] = []
    try:
        actions = subprocess.Popen(
            [python, "-m", "rasa_sdk", "--actions", "actions", "--port", str(action_port)],
            cwd=ROOT, env=_environment(**wiring), stdout=output("actions"), stderr=subprocess.STDOUT,
        )
        processes.append(actions)
        rasa = subprocess.Popen(
            [
                python, "-m", "bot.rasa_server", "run",
                "--model", str(settings.model_path),
                "--endpoints", str(endpoints or ROOT / "endpoints.yml"),
                "--credentials", str(credentials or ROOT / "credentials.yml"),
                "--interface", host, "--port", str(rasa_port),
                "--enable-api", "--cors", "*", *auth,
            ],
            cwd=ROOT, env=_environment(**wiring), stdout=output("rasa"), stderr=subprocess.STDOUT,
        )
        processes.append(rasa)
        action_url = f"http://127.0.0.1:{action_port}"
        rasa_url = f"http://127.0.0.1:{rasa_port}"
        _wait_until_ready(f"{action_url}/health", processes, READY_TIMEOUT)
        console_url = None
        if console_port is not None:
            processes.append(subprocess.Popen(
                [python, "-m", "bot.console", "--host", host, "--port", str(console_port)],
                cwd=ROOT, env=_environment(**wiring), stdout=output("console"),
                stderr=subprocess.STDOUT,
            ))
            console_url = f"http://127.0.0.1:{console_port}"
            _wait_until_ready(f"{console_url}/login", processes, READY_TIMEOUT)
        token = f"?token={settings.rasa_token}" if settings.rasa_token else ""
        widget_url = None
        if widget_port is not None:
            browser_rasa_url = settings.widget_rasa_url or rasa_url
            processes.append(subprocess.Popen(
                [python, "-m", "bot.widget", "--host", host, "--port", str(widget_port),
                 "--rasa-url", browser_rasa_url],
                cwd=ROOT, env=_environment(**wiring), stdout=output("widget"),
                stderr=subprocess.STDOUT,
            ))
            widget_url = f"http://127.0.0.1:{widget_port}"
            _wait_until_ready(f"{widget_url}/health", processes, READY_TIMEOUT)
        _wait_until_ready(f"{rasa_url}/status{token}", processes, READY_TIMEOUT)
        yield Bot(
            rasa_url=rasa_url, action_url=action_url, processes=processes,
            console_url=console_url, widget_url=widget_url,
        )
    finally:
        _stop(processes)
        for handle in logs:
            handle.close()


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
        print(
            f"\n金融客服助手 is ready ({time.monotonic() - started:.0f}s).\n"
            f"  Rasa server (REST + socket.io): {bot.rasa_url}\n"
            f"  Action server:                  {bot.action_url}\n"
            f"  Agents' console:                {bot.console_url}  (demo agents: make run listed them above)\n"
            f"  Web chat widget (demo page):    {bot.widget_url}/\n"
            f"  Logs:                           {settings.var_dir / 'log'}\n\n"
            "Talk to it over REST:\n"
            f"  curl -s {bot.rasa_url}/webhooks/rest/webhook -H 'Content-Type: application/json' "
            "-d '{\"sender\": \"demo\", \"message\": \"人工服务几点上班\"}'\n"
            "Or interactively, in another terminal:\n"
            "  make shell\n\n"
            "Ctrl-C stops all servers.",
            flush=True,
        )
        try:
            while all(process.poll() is None for process in bot.processes):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
