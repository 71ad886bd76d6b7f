"""The demo applications the README lists are the ones the seed creates,
whatever day it is seeded on."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from bot.db.engine import unit_of_work
from bot.db.migrate import upgrade
from bot.db.repositories import ApplicationRepository
from bot.db.seed import seed
from bot.settings import ROOT

ROW = re.compile(r"^\| (SQ\d{12}) \| (\S+) \| (\d{4}) \| (\S+) \|$", re.MULTILINE)


def readme_rows():
    return ROW.findall((ROOT / "README.md").read_text(encoding="utf-8"))


@pytest.mark.parametrize("seeded_on", [datetime(2026, 11, 29, 6, tzinfo=timezone.utc), datetime(2027, 3, 1, 6, tzinfo=timezone.utc)])
def test_readme_demo_applications_exist_as_listed(tmp_path, seeded_on):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    with unit_of_work(url) as session:
        seed(session, now=seeded_on)
    rows = readme_rows()
    assert len(rows) == 6
    with unit_of_work(url) as session:
        applications = ApplicationRepository(session)
        found = [
            (a.number, a.status.label, a.customer.phone[-4:], a.service_type.name)
            for a in (applications.by_number(number) for number, *_ in rows)
        ]
    assert found == rows
