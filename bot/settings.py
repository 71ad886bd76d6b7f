"""Every setting of the bot, read in one place (pydantic v1 BaseSettings).

Values come from the environment (prefix ``BOT_``), never from the repository
for anything secret. Paths default to this checkout's layout.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import List, Optional

from pydantic import BaseSettings, Field

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    faq_dir: Path = ROOT / "faq"
    # The cleaned handbook, the source of every fact (a verbatim copy of
    # ../shared/handbook/handbook.zh-Hans.md so a fresh clone is complete).
    handbook_path: Path = ROOT / "faq" / "source" / "handbook.zh-Hans.md"
    nlu_dir: Path = ROOT / "data" / "nlu"
    responses_dir: Path = ROOT / "data" / "responses"
    heldout_dir: Path = ROOT / "tests" / "heldout"
    models_dir: Path = ROOT / "models"
    model_name: str = "bot"
    var_dir: Path = ROOT / "var"

    rasa_host: str = "127.0.0.1"
    rasa_port: int = 5005
    action_host: str = "127.0.0.1"
    action_port: int = 5055

    # Application data (customers, applications, appointments). SQLite under
    # var/ by default; the scale-out deployment sets DATABASE_URL to PostgreSQL.
    database_url: str = Field(
        default=f"sqlite:///{ROOT / 'var' / 'app.db'}", env="DATABASE_URL"
    )
    # Customers' local time: every date and time they write is read in it.
    timezone: str = "Asia/Shanghai"
    # Holidays for years chinese-calendar does not know yet (operator-edited).
    holiday_file: Path = ROOT / "config" / "holidays.yml"
    # Demos and end-to-end tests only: the bot's clock starts at this local
    # time (e.g. "2026-11-27T10:00") when a process starts and runs on in real
    # time, so the service hours can be shown at any hour. Unset in production.
    demo_clock_start: Optional[datetime] = None
    # The real moment (Unix seconds) the demo clock stands at its start; the
    # launcher sets one for all its processes so their clocks agree. Unset:
    # the moment the process first asks.
    demo_clock_anchor: Optional[float] = None
    # How long before an appointment the customer is reminded (预约提醒).
    reminder_lead_minutes: int = 60

    # The agents' handoff console (aiohttp).
    console_host: str = "127.0.0.1"
    console_port: int = 5080
    # Fernet key (32 url-safe base64 bytes) that encrypts the console's session
    # cookies; from the environment in production. Unset, a random key is made
    # at start (sessions then end when the console restarts).
    console_secret_key: Optional[str] = None
    # Session cookie only over HTTPS (`Secure`); unset: on unless the console
    # listens on a loopback address (a local demo over plain HTTP).
    console_cookie_secure: Optional[bool] = None
    # Origins allowed to open the console's websocket (besides its own).
    console_allowed_origins: List[str] = []

    # How the parts reach each other. The console speaks to customers through
    # Rasa's HTTP API (BOT_RASA_URL; behind a load balancer in scale-out). Rasa
    # runs with --auth-token BOT_RASA_TOKEN when it is set (production: always).
    rasa_url: Optional[str] = None
    rasa_token: Optional[str] = None
    # Rasa's handoff relay tells the console about customers' messages
    # (BOT_CONSOLE_URL), signed with a shared secret (BOT_INTERNAL_TOKEN;
    # `make run` makes a random one per start when it is unset).
    console_url: Optional[str] = None
    internal_token: Optional[str] = None
    # How often the console checks first-response deadlines (seconds; 0: never).
    sla_check_seconds: float = 30.0

    # The web chat widget's demo page and script (bot.widget).
    widget_host: str = "127.0.0.1"
    widget_port: int = 5081
    # The Rasa server as customers' browsers reach it (behind a load balancer
    # this differs from rasa_url); unset: rasa_base_url.
    widget_rasa_url: Optional[str] = None

    # The WeChat official account channel (bot.channels.wechat). Secrets come
    # from the environment only: BOT_WECHAT_TOKEN, BOT_WECHAT_APP_SECRET,
    # BOT_WECHAT_ENCODING_AES_KEY (safe mode). Unset token: the channel refuses.
    wechat_token: Optional[str] = None
    wechat_app_id: Optional[str] = None
    wechat_app_secret: Optional[str] = None
    wechat_encoding_aes_key: Optional[str] = None
    # WeChat's API (the tests point it at their simulator on loopback).
    wechat_api_base: str = "https://api.weixin.qq.com"

    # Shared caches (WeChat message de-duplication and access token, console
    # presence) in Redis for the scale-out deployment; unset: in process.
    redis_url: Optional[str] = None
    # Every key and pub/sub channel this deployment uses in Redis starts with
    # this, so several deployments (or test runs) can share one Redis.
    redis_key_prefix: str = "jrkf:"

    # The scale-out deployment (`make run-scaled`, bot.scaleout): Rasa's
    # tracker store in this database (an SQLAlchemy URL; PostgreSQL), the lock
    # store in Redis (redis_url), and this many Rasa and action-server
    # replicas behind nginx on rasa_port and action_port.
    tracker_store_url: Optional[str] = None
    # NLU parses each Rasa process keeps for repeated messages (bot.parse_cache;
    # about 2.4 KB each); 0 turns the cache off.
    parse_cache_size: int = Field(default=20_000, ge=0)
    # Conversations whose tracker the embedded deployment's in-memory store
    # keeps as objects (bot.tracker_store), and conversations whose policy
    # states each Rasa process keeps per argument set (bot.policy_states);
    # 0 turns either off (Rasa's own behaviour).
    tracker_cache_size: int = Field(default=2_000, ge=0)
    policy_state_cache_size: int = Field(default=4_000, ge=0)
    rasa_replicas: int = 2
    action_replicas: int = 2
    nginx_path: Path = Path("/usr/sbin/nginx")

    class Config:
        env_prefix = "BOT_"

    @property
    def model_path(self) -> Path:
        return self.models_dir / f"{self.model_name}.tar.gz"

    @property
    def rasa_base_url(self) -> str:
        return (self.rasa_url or f"http://{self.rasa_host}:{self.rasa_port}").rstrip("/")

    @property
    def console_base_url(self) -> str:
        return (self.console_url or f"http://{self.console_host}:{self.console_port}").rstrip("/")


@lru_cache(maxsize=None)
def get_settings() -> Settings:
    return Settings()
