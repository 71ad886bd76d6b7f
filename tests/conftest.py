"""Shared fixtures. Server tests get one real Rasa server and one real action
server per test session, started from the model `make test` trained."""
from __future__ import annotations

import socket
import uuid

import pytest

from bot.db.engine import unit_of_work
from bot.db.migrate import upgrade
from bot.db.seed import seed
from bot.launch import running_bot, write_endpoints
from bot.settings import get_settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session", autouse=True)
def demo_agent_password():
    """Seeding in tests never writes the local demo-password file under var/."""
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("BOT_DEMO_AGENT_PASSWORD", "test-demo-agent-password")
        yield "test-demo-agent-password"


@pytest.fixture(scope="session")
def settings():
    return get_settings()


@pytest.fixture(scope="session")
def app_database_url(tmp_path_factory) -> str:
    """The servers' application database: a real SQLite file, migrated and
    loaded with the demo data, as `make run` does."""
    url = f"sqlite:///{tmp_path_factory.mktemp('appdb') / 'app.db'}"
    upgrade(url)
    with unit_of_work(url) as session:
        seed(session)
    return url


@pytest.fixture(scope="session")
def bot(tmp_path_factory, settings, app_database_url):
    if not settings.model_path.exists():
        pytest.fail(f"no trained model at {settings.model_path}: run the tests with `make test`")
    workdir = tmp_path_factory.mktemp("bot")
    action_port = free_port()
    endpoints = write_endpoints(workdir / "endpoints.yml", action_port)
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("DATABASE_URL", app_database_url)
        with running_bot(free_port(), action_port, endpoints=endpoints, log_dir=workdir) as running:
            running.endpoints = endpoints
            running.log_dir = workdir
            running.database_url = app_database_url
            yield running


@pytest.fixture
def sender():
    return f"test-{uuid.uuid4().hex[:12]}"


def parse(bot, text: str) -> dict:
    """Rasa's NLU result for `text` from the running server (POST /model/parse)."""
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{bot.rasa_url}/model/parse",
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)
