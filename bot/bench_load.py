"""The load benchmark's conversation driver and latency statistics.

N simulated customers talk to Rasa's REST channel (POST
/webhooks/rest/webhook) at once, each sending its script's messages in order
and waiting for every answer (a closed loop: a customer waits). When a
conversation ends its customer starts a new one. The level runs for a
duration, or until a number of conversations have been run, after a warm-up
that lasts at least ``warmup`` seconds and until every customer has had an
answer (so the server is under the full load before anything is counted).
"""
from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import aiohttp

from bot.bench_script import Turn

# A reply containing this means the conversation went to a person (the bot
# then stays silent): the simulated customer stops there.
HANDOFF_MARK = "服务单"


def percentile(values: Sequence[float], p: float) -> Optional[float]:
    """The p-th percentile (0-100) by linear interpolation between the closest
    ranks (numpy's default); None for no values."""
    if not 0 <= p <= 100:
        raise ValueError("p must be within 0-100")
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Sample:
    kind: str
    started: float  # monotonic seconds
    seconds: float
    error: Optional[str] = None  # None: HTTP 200 with a JSON list


@dataclass
class LevelRun:
    """What happened during one level (measured messages only)."""

    concurrency: int
    samples: List[Sample] = field(default_factory=list)
    conversations: int = 0  # measured conversations finished or cut at the end
    handoffs: int = 0
    checks: Dict[str, List[int]] = field(default_factory=dict)  # kind -> [worked, tried]
    warmup_seconds: float = 0.0

    def check(self, kind: str, worked: bool) -> None:
        counts = self.checks.setdefault(kind, [0, 0])
        counts[0] += int(worked)
        counts[1] += 1


def summarize(run: LevelRun) -> dict:
    """Throughput, latency percentiles (ms, answered messages) and errors."""
    answered = [s for s in run.samples if s.error is None]
    failed = [s for s in run.samples if s.error is not None]
    errors: Dict[str, int] = {}
    for sample in failed:
        errors[sample.error] = errors.get(sample.error, 0) + 1
    window = 0.0
    if run.samples:
        window = max(s.started + s.seconds for s in run.samples) - min(s.started for s in run.samples)
    latencies = [s.seconds * 1000 for s in answered]

    def rounded(value: Optional[float]) -> Optional[float]:
        return None if value is None else round(value, 1)

    return {
        "concurrency": run.concurrency,
        "messages": len(answered),
        "conversations": run.conversations,
        "seconds": round(window, 2),
        "throughput": round(len(answered) / window, 2) if window > 0 else None,
        "p50_ms": rounded(percentile(latencies, 50)),
        "p95_ms": rounded(percentile(latencies, 95)),
        "p99_ms": rounded(percentile(latencies, 99)),
        "mean_ms": rounded(sum(latencies) / len(latencies)) if latencies else None,
        "max_ms": rounded(max(latencies)) if latencies else None,
        "errors": len(failed),
        "errors_by_kind": errors,
        "handoffs": run.handoffs,
        "checks": {kind: {"worked": w, "tried": t} for kind, (w, t) in sorted(run.checks.items())},
        "warmup_seconds": round(run.warmup_seconds, 2),
    }


async def send(
    session: aiohttp.ClientSession, url: str, sender: str, text: str, timeout: float
) -> tuple:
    """(seconds, error or None, reply text) of one message over the REST channel."""
    started = time.monotonic()
    try:
        async with session.post(
            f"{url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            body = await response.read()
            if response.status != 200:
                return time.monotonic() - started, f"http_{response.status}", ""
            try:
                messages = json.loads(body)
            except ValueError:
                return time.monotonic() - started, "bad_json", ""
            if not isinstance(messages, list):
                return time.monotonic() - started, "bad_json", ""
            reply = "\n".join(str(m.get("text") or "") for m in messages if isinstance(m, dict))
            return time.monotonic() - started, None, reply
    except asyncio.TimeoutError:
        return time.monotonic() - started, "timeout", ""
    except aiohttp.ClientError as error:
        return time.monotonic() - started, type(error).__name__, ""


class _Level:
    """Shared state of the customers of one level."""

    def __init__(self, concurrency: int, warmup: float, duration: Optional[float],
                 conversations: Optional[int]):
        self.run = LevelRun(concurrency)
        self.warmup, self.duration, self.limit = warmup, duration, conversations
        self.started = time.monotonic()
        self.answered_once: set = set()
        self.warm = False
        self.deadline = math.inf
        self.counted_started = 0
        self.all_answered = asyncio.Event()

    def first_answer(self, customer: int) -> None:
        self.answered_once.add(customer)
        if len(self.answered_once) >= self.run.concurrency:
            self.all_answered.set()

    async def end_warmup(self) -> None:
        await asyncio.sleep(self.warmup)
        await self.all_answered.wait()
        self.warm = True
        self.run.warmup_seconds = time.monotonic() - self.started
        if self.duration is not None:
            self.deadline = time.monotonic() + self.duration

    def over(self) -> bool:
        if self.duration is not None:
            return time.monotonic() >= self.deadline
        return self.warm and self.counted_started >= self.limit

    def start_conversation(self) -> Optional[bool]:
        """Whether the next conversation is measured; None: stop."""
        if self.over():
            return None
        if self.duration is None and self.warm:
            self.counted_started += 1
            return True
        return self.warm


async def _customer(
    number: int, level: _Level, session: aiohttp.ClientSession, url: str,
    make_script: Callable[[], List[Turn]], timeout: float, label: str,
) -> None:
    run = level.run
    while True:
        counted = level.start_conversation()
        if counted is None:
            return
        sender = f"bench-{label}-{run.concurrency}-{uuid.uuid4().hex[:12]}"
        for turn in make_script():
            if level.duration is not None and level.over():
                break  # time is up (by count, a started conversation runs to its end)
            measured = level.warm if level.duration is not None else counted
            started = time.monotonic()
            seconds, error, reply = await send(session, url, sender, turn.text, timeout)
            level.first_answer(number)
            if measured:
                run.samples.append(Sample(turn.kind, started, seconds, error))
                if turn.expect is not None and error is None:
                    run.check(turn.kind, turn.expect in reply)
            if error is not None:
                break  # the conversation's state is unknown: start a new one
            if HANDOFF_MARK in reply:
                run.handoffs += int(measured)
                break  # handed to a person: this customer now waits for an agent
        if counted or (level.duration is not None and level.warm):
            run.conversations += 1


async def run_level(
    url: str,
    concurrency: int,
    make_script: Callable[[], List[Turn]],
    *,
    duration: Optional[float] = 30.0,
    conversations: Optional[int] = None,
    warmup: float = 3.0,
    timeout: float = 30.0,
    label: str = "bot",
) -> LevelRun:
    """Drive ``concurrency`` customers against ``url``; exactly one of
    ``duration`` (seconds measured) and ``conversations`` (measured
    conversations) bounds the level."""
    if (duration is None) == (conversations is None):
        raise ValueError("give exactly one of duration and conversations")
    url = url.rstrip("/")
    level = _Level(concurrency, warmup, duration, conversations)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        warmup_task = asyncio.create_task(level.end_warmup())
        try:
            await asyncio.gather(*(
                _customer(i, level, session, url, make_script, timeout, label)
                for i in range(concurrency)
            ))
        finally:
            warmup_task.cancel()
    return level.run


async def first_answer_seconds(url: str, timeout: float = 120.0) -> tuple:
    """(seconds, error) of one greeting: part of a server's time to ready."""
    async with aiohttp.ClientSession() as session:
        seconds, error, _reply = await send(
            session, url.rstrip("/"), f"bench-ready-{uuid.uuid4().hex[:8]}", "你好", timeout
        )
    return seconds, error
