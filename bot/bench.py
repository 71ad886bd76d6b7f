"""Load benchmark: our bot against the plain Rasa recipe (config/baseline.yml).

    python -m bot.bench                                  # both bots, N = 1 10 50 100, 30 s each
    python -m bot.bench --only ours --levels 1 10 --duration 10
    python -m bot.bench --rasa-url http://127.0.0.1:5005 --rasa-pid 1234   # a running server
    python -m bot.bench --profile                        # + a py-spy flame graph of ours at N=10

Each bot is started in turn (bot.launch.running_bot: its own action server
and Rasa server on free ports; the baseline on plain `rasa run` unless
``--baseline-server ours``, its own freshly migrated and seeded SQLite
application database in a temporary directory) and measured: time to ready
(process start until /status answers and a first message is answered), then
for each N, N customers holding realistic conversations over the REST
channel (bot.bench_script, bot.bench_load) while the Rasa process's VmRSS is
sampled (bot.bench_process). The figures are printed side by side with the
targets (bot.bench_report) and written to ``--out`` (default var/bench):
bench.json, bench.md and latency.png (bot.bench_chart). Server logs go to
``<out>/logs/<bot>/``.

The load client runs on the same machine as the servers and takes some of
its CPU; figures from a machine shared with other work vary.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import shlex
import socket
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from bot.bench_chart import write_chart
from bot.bench_load import first_answer_seconds, run_level, summarize
from bot.bench_process import CpuMeter, Profiler, RssSampler
from bot.bench_report import compare, text_table, write
from bot.bench_script import DemoApplication, ScriptMaker, faq_questions, working_days_ahead
from bot.settings import get_settings

PROFILED_LEVEL = 10
# The README's demo applications: the same in every seeded database (bot.db.seed).
SHOWCASE = {f"SQ2026112000{i:02d}" for i in range(1, 7)}


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="python -m bot.bench", description="Load benchmark: our bot vs the plain Rasa recipe."
    )
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 10, 50, 100],
                        help="numbers of concurrent conversations (default: 1 10 50 100)")
    bound = parser.add_mutually_exclusive_group()
    bound.add_argument("--duration", type=float, default=None,
                       help="seconds measured per level (default 30)")
    bound.add_argument("--conversations", type=int, default=None,
                       help="measured conversations per level instead of a duration")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="warm-up seconds per level, not counted (at least until every "
                             "customer had an answer; default 3)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds before a message counts as timed out (default 30)")
    parser.add_argument("--only", choices=("ours", "baseline"), help="run one bot only")
    parser.add_argument("--model", type=Path, default=settings.model_path,
                        help=f"our model (default {settings.model_path})")
    parser.add_argument("--baseline-model", type=Path,
                        default=settings.models_dir / "baseline.tar.gz",
                        help="the baseline's model (default models/baseline.tar.gz)")
    parser.add_argument("--baseline-server", choices=("plain", "ours"), default="plain",
                        help="the baseline's Rasa server: plain `rasa run`, as the plain recipe "
                             "deploys it (default), or ours (bot.rasa_server: the same server "
                             "code as our bot, so that only the models differ)")
    parser.add_argument("--rasa-url", help="benchmark this running Rasa server instead of "
                                           "starting one (labelled as --only, default ours)")
    parser.add_argument("--rasa-pid", type=int, help="with --rasa-url: the Rasa process whose "
                                                     "memory to sample")
    parser.add_argument("--database-url", help="with --rasa-url: the server's application "
                                               "database, to pick demo applications from "
                                               "(default: the README's demo applications)")
    parser.add_argument("--profile", action="store_true",
                        help=f"record our Rasa server with py-spy at N={PROFILED_LEVEL}")
    parser.add_argument("--out", type=Path, default=settings.var_dir / "bench",
                        help="where to write bench.json, bench.md, latency.png (default var/bench)")
    parser.add_argument("--seed", type=int, default=20261129, help="random seed of the scripts")
    args = parser.parse_args(argv)
    if args.duration is None and args.conversations is None:
        args.duration = 30.0
    if args.rasa_pid and not args.rasa_url:
        parser.error("--rasa-pid goes with --rasa-url")
    if any(n < 1 for n in args.levels):
        parser.error("--levels must be positive")
    for model in (args.model, args.baseline_model):
        if not model.name.endswith(".tar.gz"):
            parser.error(f"{model}: a model file is named <name>.tar.gz")
    return args


# -- preparing the material ---------------------------------------------------


def free_port(taken: tuple = ()) -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in taken:
            return port


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables (inherited by the servers) for a while."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def seeded_database(url: str) -> None:
    """Migrate and load the demo data, as `make run` does."""
    from bot.db.engine import unit_of_work
    from bot.db.migrate import upgrade
    from bot.db.seed import seed

    upgrade(url)
    # Seeding never writes the local demo password file under var/.
    password = os.environ.get("BOT_DEMO_AGENT_PASSWORD") or secrets.token_urlsafe(12)
    with environment(BOT_DEMO_AGENT_PASSWORD=password), unit_of_work(url) as session:
        seed(session)


def applications_in(url: str, showcase_only: bool = False) -> List[DemoApplication]:
    from bot.db.engine import unit_of_work
    from bot.db.seed import demo_applications

    with unit_of_work(url) as session:
        rows = demo_applications(session, per_status=10 if showcase_only else 3)
    found = [DemoApplication(r.number, r.phone_last4) for r in rows]
    if showcase_only:
        found = [a for a in found if a.number in SHOWCASE] or found
    return found


def readme_applications() -> List[DemoApplication]:
    """The demo applications of any seeded database (read from a throwaway one)."""
    with tempfile.TemporaryDirectory(prefix="bench-seed-") as tmp:
        url = f"sqlite:///{tmp}/app.db"
        seeded_database(url)
        return applications_in(url, showcase_only=True)


class Material:
    """What every script is made from: library questions, booking days, branches."""

    def __init__(self) -> None:
        from actions.action_faq_followup import ESCALATE
        from bot import clock
        from bot.booking.calendar import get_calendar
        from bot.db.seed import BRANCHES
        from bot.faq.library import load_library

        # Entries that hand over to a person at once are left out: a paused
        # conversation is not the load this benchmark is about.
        self.questions = faq_questions(load_library(get_settings().faq_dir), ESCALATE)
        self.booking_days = working_days_ahead(clock.now().date(), get_calendar().is_working_day)
        self.branches = [name for _code, name, _kind, _address, _places in BRANCHES]

    def scripts(self, applications: List[DemoApplication], seed: int) -> ScriptMaker:
        return ScriptMaker(self.questions, applications, self.booking_days, self.branches,
                           random.Random(seed))


# -- running ------------------------------------------------------------------


async def run_levels(url: str, side: str, args: argparse.Namespace, material: Material,
                     applications: List[DemoApplication], pid: Optional[int],
                     action_pid: Optional[int] = None) -> List[dict]:
    results = []
    cpu_pids = {name: p for name, p in (("rasa", pid), ("actions", action_pid)) if p}
    for n in args.levels:
        profiler = None
        if args.profile and side == "ours" and n == PROFILED_LEVEL and pid:
            profiler = Profiler(pid, args.out / f"profile-{side}-n{n}.svg",
                                args.out / f"profile-{side}-n{n}.log")
            why_not = profiler.start()
            if why_not:
                print(f"  profile: {why_not}", flush=True)
                profiler = None
        print(f"  {side} N={n}: running ("
              + (f"{args.duration:g} s" if args.duration is not None
                 else f"{args.conversations} conversations")
              + f" after a warm-up of at least {args.warmup:g} s) ...", flush=True)
        sampler = RssSampler(pid) if pid else None
        cpu = CpuMeter(cpu_pids)
        cpu.start()
        began = time.monotonic()
        async with (sampler or contextlib.nullcontext()):
            run = await run_level(
                url, n, material.scripts(applications, args.seed + n),
                duration=args.duration, conversations=args.conversations,
                warmup=args.warmup, timeout=args.timeout, label=side,
            )
        wall = time.monotonic() - began
        summary = summarize(run)
        summary["rss_peak_mib"] = sampler.peak if sampler else None
        summary["rss_start_mib"] = sampler.first if sampler else None
        # Cores each process kept busy over the level (warm-up included).
        summary["cores_used"] = {name: None if used is None else round(used / wall, 2)
                                 for name, used in cpu.stop().items()}
        results.append(summary)
        print(
            f"  {side} N={n}: {summary['messages']} messages, "
            f"{summary['throughput'] or 0:.1f} msg/s, p50 {summary['p50_ms']} ms, "
            f"p95 {summary['p95_ms']} ms, p99 {summary['p99_ms']} ms, "
            f"{summary['errors']} errors, peak RSS {summary['rss_peak_mib']} MiB, cores used "
            + ", ".join(f"{name} {used}" for name, used in summary["cores_used"].items()),
            flush=True,
        )
        if profiler is not None:
            written, said = profiler.stop()
            summary["profile"] = {"svg": str(profiler.svg) if written else None, "py_spy": said}
            print(f"  profile: {'written to ' + str(profiler.svg) if written else 'not written'}"
                  + ("" if written else f": {said}"), flush=True)
    return results


def bench_started(side: str, model: Path, args: argparse.Namespace, material: Material) -> dict:
    """Start ``side``'s servers on a fresh database, measure time to ready and every level."""
    from bot.launch import OUR_RASA_SERVER, PLAIN_RASA_SERVER, running_bot, write_endpoints

    server = (PLAIN_RASA_SERVER if side == "baseline" and args.baseline_server == "plain"
              else OUR_RASA_SERVER)
    result = {"label": side, "model": str(model), "server": f"python -m {server}",
              "ready": None, "levels": [], "skipped": None}
    if not model.exists():
        result["skipped"] = f"no model at {model}"
        return result
    log_dir = args.out / "logs" / side
    for old in ("actions.log", "rasa.log"):
        (log_dir / old).unlink(missing_ok=True)  # the launcher appends
    with tempfile.TemporaryDirectory(prefix=f"bench-{side}-") as tmp:
        database_url = f"sqlite:///{tmp}/app.db"
        with environment(
            DATABASE_URL=database_url,
            BOT_MODELS_DIR=str(model.parent.resolve()),
            BOT_MODEL_NAME=model.name[: -len(".tar.gz")],
        ):
            seeded_database(database_url)
            applications = applications_in(database_url)
            action_port = free_port()
            rasa_port = free_port((action_port,))
            endpoints = write_endpoints(Path(tmp) / "endpoints.yml", action_port)
            result["load_average_at_start"] = list(os.getloadavg())
            print(f"{side}: starting {model} ...", flush=True)
            started = time.monotonic()
            try:
                with running_bot(rasa_port, action_port, endpoints=endpoints, log_dir=log_dir,
                                 server_module=server) as bot:
                    status_seconds = time.monotonic() - started
                    first, error = asyncio.run(first_answer_seconds(bot.rasa_url))
                    result["ready"] = {
                        "seconds": round(time.monotonic() - started, 2),
                        "status_seconds": round(status_seconds, 2),
                        "first_answer_seconds": round(first, 3),
                        "error": error,
                    }
                    print(f"{side}: ready in {result['ready']['seconds']:.1f} s", flush=True)
                    action_pid, pid = (p.pid for p in bot.processes[:2])  # actions first
                    result["levels"] = asyncio.run(run_levels(
                        bot.rasa_url, side, args, material, applications, pid, action_pid
                    ))
            except (RuntimeError, TimeoutError) as failure:
                result["skipped"] = f"{failure} (logs: {log_dir})"
                print(f"{side}: {result['skipped']}", flush=True)
    return result


def bench_running(side: str, args: argparse.Namespace, material: Material) -> dict:
    """Measure a server somebody else started (e.g. the scale-out behind nginx)."""
    applications = (applications_in(args.database_url) if args.database_url
                    else readme_applications())
    result = {"label": side, "model": None, "rasa_url": args.rasa_url, "ready": None,
              "levels": [], "skipped": None, "load_average_at_start": list(os.getloadavg())}
    seconds, error = asyncio.run(first_answer_seconds(args.rasa_url, timeout=args.timeout))
    if error:
        result["skipped"] = f"{args.rasa_url} did not answer a first message ({error})"
        return result
    result["first_answer_seconds"] = round(seconds, 3)
    result["levels"] = asyncio.run(
        run_levels(args.rasa_url, side, args, material, applications, args.rasa_pid)
    )
    return result


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    begun, load_at_start = datetime.now(timezone.utc), [round(x, 2) for x in os.getloadavg()]
    material = Material()
    sides = [args.only] if args.only else (["ours"] if args.rasa_url else ["ours", "baseline"])
    if args.profile and args.rasa_url and not args.rasa_pid:
        print("--profile with --rasa-url needs --rasa-pid: no profile", flush=True)
    if args.profile and PROFILED_LEVEL not in args.levels:
        print(f"--profile records the N={PROFILED_LEVEL} level, which is not in --levels", flush=True)
    results: Dict[str, dict] = {}
    for side in sides:
        if args.rasa_url:
            results[side] = bench_running(side, args, material)
        else:
            model = args.model if side == "ours" else args.baseline_model
            results[side] = bench_started(side, model, args, material)
    comparison = compare(results)
    bound = (f"{args.duration:g} s measured per level" if args.duration is not None
             else f"{args.conversations} conversations measured per level")
    meta = {
        "command": " ".join(shlex.quote(a) for a in ["python", "-m", "bot.bench", *(argv or sys.argv[1:])]),
        "started_at": begun.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average": load_at_start,
        "levels": args.levels, "bound": bound, "warmup": args.warmup, "timeout": args.timeout,
        "note": "client and servers on one machine; figures vary with other load",
    }
    print()
    print(text_table(results, comparison))
    paths = write(args.out, results, comparison, meta)
    paths["png"] = write_chart(results, args.out / "latency.png")
    print("\nWritten: " + ", ".join(str(p) for p in paths.values()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
