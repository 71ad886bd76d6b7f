"""Demo agents and canned replies for the handoff console.

    python -m bot.handoff.seed            # migrate, then add what is missing
    python -m bot.handoff.seed --list     # the same, then print the demo accounts

``bot.db.seed.seed()`` calls :func:`seed_handoff` too, so ``make run``'s
demo database has them. Idempotent: an agent whose username exists is left
alone (its password too), canned replies are added only to an empty table.

The demo password is ``BOT_DEMO_AGENT_PASSWORD`` when set; else a random one
made on first use and kept in ``var/demo-agent-password`` (readable by its
owner only), so no password is ever in the repository. These are accounts
for a local demo: change them (or deactivate them) before anyone else can
reach the console.
"""
from __future__ import annotations

import argparse
import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import List, Optional, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.engine import unit_of_work
from bot.db.migrate import upgrade
from bot.db.models import utcnow
from bot.handoff.models import Agent, AgentRole, CannedReply
from bot.handoff.repositories import AgentRepository
from bot.settings import get_settings

PASSWORD_VARIABLE = "BOT_DEMO_AGENT_PASSWORD"
PASSWORD_FILE_NAME = "demo-agent-password"
DEMO_WARNING = (
    "警告：以上为本地演示账号，密码为演示密码，任何他人可访问的部署必须先修改密码或停用这些账号。"
)

# username, display name, role
DEMO_AGENTS = [
    ("agent1", "李娜", AgentRole.AGENT),
    ("agent2", "王强", AgentRole.AGENT),
    ("supervisor", "陈主管", AgentRole.SUPERVISOR),
]

# title, text ({name}: the agent's display name)
CANNED_REPLIES = [
    ("问候", "您好，我是客服{name}，很高兴为您服务。"),
    ("稍候", "请稍等，我为您查询一下。"),
    ("核实身份", "为保障您的账户安全，需要先核实您的身份，请提供预留手机号的后四位。"),
    ("已记录", "您反映的问题我已详细记录，会跟进处理到底，处理结果将第一时间告知您。"),
    ("转专员", "这个问题需要专业同事协助处理，我已为您联系，请您稍候，您的问题仍由我负责跟进。"),
    ("安全提示", "温馨提示：银行工作人员不会向您索要密码和短信验证码，请勿向任何人透露。"),
    ("结束语", "请问还有其他可以帮您的吗？感谢您的耐心，祝您生活愉快！"),
]


def password_file() -> Path:
    return get_settings().var_dir / PASSWORD_FILE_NAME


def demo_password() -> str:
    """The password of newly seeded demo agents (read when seeding, never at
    import): the environment's, else the local file's, made on first use."""
    if os.environ.get(PASSWORD_VARIABLE):
        return os.environ[PASSWORD_VARIABLE]
    path = password_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(12), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


def seed_handoff(
    session: Session, now: Optional[datetime] = None, password: Optional[str] = None
) -> bool:
    """Add the demo agents and canned replies that are missing; True when it added any."""
    now = now or utcnow()
    agents = AgentRepository(session)
    added = False
    for username, display_name, role in DEMO_AGENTS:
        if agents.by_username(username) is None:
            agents.create(username, display_name, password or demo_password(), role=role, at=now)
            added = True
    if session.execute(select(CannedReply.id).limit(1)).first() is None:
        session.add_all(
            CannedReply(title=title, text=text, active=True) for title, text in CANNED_REPLIES
        )
        session.flush()
        added = True
    return added


def demo_agents(session: Session) -> List[Agent]:
    usernames = [username for username, _name, _role in DEMO_AGENTS]
    return list(
        session.execute(
            select(Agent).where(Agent.username.in_(usernames)).order_by(Agent.id)
        ).scalars()
    )


def format_agents(agents: Sequence[Agent], password_source: str) -> str:
    lines = ["用户名\t姓名\t角色"]
    lines += [f"{a.username}\t{a.display_name}\t{a.role.label}" for a in agents]
    lines.append(f"密码：{password_source}")
    lines.append(DEMO_WARNING)
    return "\n".join(lines)


def _password_source() -> str:
    if os.environ.get(PASSWORD_VARIABLE):
        return f"环境变量 {PASSWORD_VARIABLE} 的值"
    return f"{demo_password()}（本机随机生成，保存在 {password_file()}；可用环境变量 {PASSWORD_VARIABLE} 指定）"


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: DATABASE_URL or var/app.db)")
    parser.add_argument("--list", action="store_true", help="print the demo accounts")
    args = parser.parse_args(argv)
    upgrade(args.url)
    with unit_of_work(args.url) as session:
        added = seed_handoff(session)
    print("demo agents and canned replies added" if added else "handoff demo data already present")
    if args.list:
        with unit_of_work(args.url) as session:
            print(format_agents(demo_agents(session), _password_source()))


if __name__ == "__main__":
    main()
