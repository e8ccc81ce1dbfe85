"""Soak: two workers on PostgreSQL at 1,000,000 mentions a day for a bounded time, with faults; nothing lost.

    python bench/soak.py [--minutes 15] [--per-day 1000000] [--sources 3] [--workers 2] [--reply-share 0.1]
        [--database-url URL [--restart-command CMD]] [--drain-minutes 7] [--seed 2026] [--keep]
        [--worker-threads 1] [--no-model-baseline]

What runs, all on 127.0.0.1:

- ``--sources`` fake Mastodon instances (``bench/soak_fakes.py``) whose mention timelines fill at
  ``--per-day`` mentions a day between them, with 429s, 5xx, hung requests, malformed items and hostile
  texts injected; the real ``MastodonConnector`` (Mastodon.py) reads them, as configured in a
  ``mentiondesk.toml`` that points at them.
- ``--workers`` real ``mentiondesk worker`` processes on one PostgreSQL database, classifying with the default
  model (MiniLM, offline), one torch thread each (``OMP_NUM_THREADS``): two workers of two threads on two
  cores oversubscribe them.  The database is a throwaway cluster (``initdb`` in a temp dir, on a free port,
  removed at the end), or a fresh schema in ``--database-url`` (then the restart is skipped unless
  ``--restart-command`` is given).  The shared server on :5432 is never restarted.
- An agent in this process queues a reply to ``--reply-share`` of the classified mentions through the real
  services (``triage.open_for_reply`` then ``replies.send.send_reply``); the workers send them to the fake
  instance, which records every status it publishes.
- Faults, at fixed shares of the run: kill -9 of a worker caught in the middle of sending a reply (restarted
  5 s later) at 20 %, a 3 s burst of
  ``pg_terminate_backend`` on every worker connection at 35 % and one more at 50 %, a PostgreSQL restart at 65 %.

At ``--minutes`` the sources stop publishing and the run drains (at most ``--drain-minutes``: a source whose
lease the killed worker held waits out the lease, 5 min) until every published mention is stored and
classified and no reply is queued.  Then:

- ``soak_lost``: valid items the fake instances published that are not in the store (whether or not they
  were ever served: a skipped page counts).
- ``soak_duplicated``: stored rows beyond the first per published item, keyed by external id and, separately,
  by the notification that carried it (the same post under two ids); the larger of the two.
- ``soak_double_posted``: statuses an instance published beyond the first for one mention (each mention gets
  at most one queued reply) or for one idempotency key.  The fakes honour ``Idempotency-Key`` as Mastodon
  does; ``soak_key_replays`` counts the retried posts only the key kept from being published twice.
- ``soak_backlog_growth``: the backlog is the valid mentions published but not yet classified plus the
  replies queued or being sent, sampled every 5 s.  Its growth is the least-squares slope (mentions per
  minute) over the samples from the end of warm-up (15 % of the run, at least 60 s: the workers load the
  model) to the end of the run.  A slope rather than end minus start: the backlog saw-tooths with the 15 s
  fetch interval (about 170 mentions a cycle), so a difference of two samples is mostly where each fell in
  its cycle.  Flat (near 0) means classified and replied at least as fast as ingested.
- ``soak_ingest_to_classified_p95``: from the connector's fetch (``fetched_at``) to the classification row.
- Baseline, same run: the rate the sources offered, against the rates stored and classified; and the model
  alone (``soak_model_alone_rate``, one thread, in this process after the workers stop), which says whether
  the CPU left over by everything else on the machine could have kept up at all.  The load average at the
  start and at the stop is printed beside it.

Prints ``RESULT <name> <value> <unit>`` lines; exits 1 when a loss or duplication count is not 0.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import exists, func, select, update  # noqa: E402

from bench._common import machine, result  # noqa: E402
from bench.soak_db import Database, schema_in, throwaway_cluster, with_app_name  # noqa: E402
from bench.soak_fakes import BRAND_ACCOUNT_ID, FakeMastodon, Faults, start_instances  # noqa: E402
from bench.soak_measure import Counts, measure, percentile, slope_per_minute  # noqa: E402
from console.services.store import Store, open_store  # noqa: E402
from console.services.worker_health import is_database_error  # noqa: E402
from storage import migrate  # noqa: E402
from storage.enums import INFLIGHT_REPLY_STATES, ReplyState, Role  # noqa: E402
from storage.models import Classification, Mention, Reply, Source, User  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "soak-m"
TOKEN = "soak-fake-token"
APP = "mdsoak"
SAMPLE_S = 5.0
LOSS_RESULTS = ("lost", "duplicated", "double_posted", "double_classified")


@dataclass(frozen=True)
class Options:
    minutes: float
    per_day: float
    sources: int
    workers: int
    reply_share: float
    drain_minutes: float
    seed: int
    database_url: str | None
    restart_command: str | None
    keep: bool
    worker_threads: int = 1
    model_baseline: bool = True


# --- setting up ----------------------------------------------------------------------------------


def write_config(directory: Path, fakes: list[FakeMastodon]) -> Path:
    """A ``mentiondesk.toml`` with one brand and one Mastodon source per fake instance, 15 s apart."""
    sources = "".join(
        f'\n[[sources]]\nname = "{PREFIX}{fake.timeline.instance}"\nplatform = "mastodon"\nkind = "notifications"\n'
        f'brand = "Soak Air"\ninterval = 15\n'
        f'options = {{ instance = "{fake.url}", account_id = "{BRAND_ACCOUNT_ID}" }}\n'
        for fake in fakes
    )
    path = directory / "mentiondesk.toml"
    path.write_text(
        '[team]\nname = "Soak desk"\ntimezone = "UTC"\n\n[[brands]]\nname = "Soak Air"\n'
        'handles = { mastodon = "soakair" }\nkeywords = ["Soak Air", "soakair"]\n'
        f'{sources}\n[classifier]\nmodel = "default"\nbatch_size = 64\n',
        encoding="utf-8",
    )
    return path


def prepare_store(url: str, config: Path) -> tuple[Store, int]:
    """Migrate, mirror the config's sources, start each at the beginning of its timeline; add the agent."""
    from console.commands.worker import sync_sources
    from console.config import load_config
    from console.services.users import create_user

    migrate.upgrade(url)
    store = open_store(url)
    sync_sources(store, load_config(config))
    with store.transaction() as session:
        session.execute(update(Source).where(Source.name.startswith(PREFIX)).values(cursor="0"))
        agent = create_user(session, "soak-agent", "soak-agent-password", Role.AGENT, "Soak Agent")
        agent_id = agent.id
    return store, agent_id


@dataclass
class Workers:
    """The ``mentiondesk worker`` processes, their logs, and the one the soak killed."""

    url: str
    config: Path
    directory: Path
    threads: int = 1
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = {k: v for k, v in os.environ.items() if k not in ("MENTIONDESK_DATABASE_URL", "MENTIONDESK_CONFIG")}
        self.env |= {
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": str(self.threads),  # two workers on two cores: one thread each, not four
        }
        self.env["MENTIONDESK_SECRETS_FILE"] = str(self.directory / "no-secrets.toml")
        for line in self.config.read_text().splitlines():
            if line.startswith("name = ") and PREFIX in line:
                name = line.split('"')[1].upper().replace("-", "_")
                self.env[f"MENTIONDESK_{name}_ACCESS_TOKEN"] = TOKEN

    def start(self, n: int) -> subprocess.Popen[bytes]:
        log = (self.directory / f"worker{n}.log").open("ab")
        command = [sys.executable, "-m", "console.cli", "-v", "worker", "--database-url", self.url]
        proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [*command, "--config", str(self.config), "--poll", "1"],
            cwd=self.directory,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if n < len(self.procs):
            self.procs[n] = proc
        else:
            self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 60
        for proc in self.procs:
            try:
                proc.wait(max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- what runs beside the workers ----------------------------------------------------------------


def guarded(store: Store, errors: Counter[str], what: str, fn: Callable[[], object]) -> object | None:
    """Run ``fn``; a database outage (the soak's own faults) is counted and waited out, not raised."""
    try:
        return fn()
    except Exception as exc:
        if not is_database_error(exc):
            raise
        errors[what] += 1
        store.engine.dispose()
        return None


class Agent(threading.Thread):
    """Claims and answers ``share`` of the classified mentions through the real services, as an agent would."""

    def __init__(self, store: Store, agent_id: int, share: float, errors: Counter[str]) -> None:
        super().__init__(name="soak-agent", daemon=True)
        self.store, self.agent_id, self.every = store, agent_id, max(1, round(1 / share)) if share > 0 else 0
        self.errors, self.done, self.queued, self.refused = errors, threading.Event(), 0, Counter[str]()

    def waiting(self) -> list[int]:
        """Classified replyable mentions picked for a reply that have none yet."""
        if not self.every:
            return []
        has_reply = exists().where(Reply.mention_id == Mention.id)
        with self.store.read() as session:
            query = (
                select(Mention.id)
                .where(Mention.sentiment.is_not(None), Mention.replyable.is_(True), Mention.id % self.every == 0)
                .where(~has_reply)
                .order_by(Mention.id)
                .limit(200)
            )
            return list(session.scalars(query))

    def answer(self, mention_id: int) -> None:
        from console.services.permissions import Actor
        from console.services.replies.outbox import OutboxError
        from console.services.replies.send import Draft, send_reply
        from console.services.triage import open_for_reply

        text = f"Sorry about this, we're on it now. Case {mention_id}, ^SA"
        draft = Draft(text=text, idempotency_key=f"soak-{mention_id}", confirmed_warnings=True)
        try:
            with self.store.transaction() as session:
                user = session.get(User, self.agent_id)
                assert user is not None
                actor = Actor.of(user)
                open_for_reply(session, actor, mention_id)
                send_reply(session, actor, mention_id, draft, None)
            self.queued += 1
        except OutboxError as exc:
            self.refused[type(exc).__name__] += 1

    def run(self) -> None:
        while not self.done.wait(1.0):
            waiting = guarded(self.store, self.errors, "agent", self.waiting)
            for mention_id in waiting if isinstance(waiting, list) else []:
                guarded(self.store, self.errors, "agent", lambda m=mention_id: self.answer(m))  # type: ignore[misc]
                if self.done.is_set():
                    return


@dataclass
class Sample:
    t: float
    published: int
    stored: int
    classified: int
    replies_pending: int

    @property
    def backlog(self) -> int:
        return self.published - self.classified + self.replies_pending


class Sampler(threading.Thread):
    """Every 5 s: what the sources published, what the store holds and classified, the replies in flight."""

    def __init__(self, store: Store, fakes: list[FakeMastodon], start: float, errors: Counter[str]) -> None:
        super().__init__(name="soak-sampler", daemon=True)
        self.store, self.fakes, self.start_at, self.errors = store, fakes, start, errors
        self.samples: list[Sample] = []
        self.done = threading.Event()

    def published(self) -> int:
        return sum(len(f.timeline.valid_ids(f.timeline.published())) for f in self.fakes)

    def take(self) -> Sample:
        published = self.published()
        with self.store.read() as session:
            stored = session.scalar(select(func.count()).select_from(Mention)) or 0
            classified = session.scalar(select(func.count()).where(Classification.is_current.is_(True))) or 0
            pending = session.scalar(select(func.count()).where(Reply.state.in_(INFLIGHT_REPLY_STATES))) or 0
        return Sample(time.time() - self.start_at, published, stored, classified, pending)

    def run(self) -> None:
        while not self.done.wait(SAMPLE_S):
            sample = guarded(self.store, self.errors, "sampler", self.take)
            if isinstance(sample, Sample):
                self.samples.append(sample)


# --- the run -------------------------------------------------------------------------------------


def say(start: float, message: str) -> None:
    print(f"[{time.time() - start:7.1f} s] {message}", flush=True)


def sender(workers: Workers, store: Store, wait_s: float) -> int | None:
    """The worker that has a reply in ``sending`` right now (watched for up to ``wait_s``), if any."""
    owners = {f"{socket.gethostname()}:{proc.pid}": n for n, proc in enumerate(workers.procs)}
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        with store.read() as session:
            claimed = set(session.scalars(select(Reply.claimed_by).where(Reply.state == ReplyState.SENDING)))
        found = [owners[owner] for owner in claimed if owner in owners]
        if found:
            return found[0]
        time.sleep(0.02)
    return None


def kill_one(workers: Workers, store: Store, start: float, rng: random.Random, events: Counter[str]) -> None:
    """kill -9 a worker in the middle of sending a reply (any worker if none sends within 20 s); restart it 5 s later.

    Mid-send is the case a double post would come from; what it held is said (a source lease waits out its 5 min).
    """
    picked = sender(workers, store, 20.0)
    n = picked if picked is not None else rng.randrange(len(workers.procs))
    victim = workers.procs[n]
    owner = f"{socket.gethostname()}:{victim.pid}"
    victim.kill()
    victim.wait()
    events["kill_9"] += 1
    with store.read() as session:
        leases = list(session.scalars(select(Source.name).where(Source.lease_owner == owner)))
        sending = session.scalar(
            select(func.count()).where(Reply.state == ReplyState.SENDING, Reply.claimed_by == owner)
        )
    events["killed_mid_send"] += int(bool(sending))
    say(start, f"fault: kill -9 worker {n} (pid {victim.pid}); it held leases {leases or 'none'}, {sending} sending")
    time.sleep(5)
    proc = workers.start(n)
    say(start, f"fault: worker {n} restarted as pid {proc.pid}")


def terminate(db: Database, start: float, seconds: float, events: Counter[str]) -> None:
    """``pg_terminate_backend`` on every worker connection, repeatedly for ``seconds`` (once when 0)."""
    killed, deadline = 0, time.monotonic() + seconds
    while True:
        killed += db.terminate(APP)
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    events["pg_terminate_backend"] += killed
    say(start, f"fault: pg_terminate_backend x{killed} over {seconds:.0f} s")


def restart(db: Database, start: float, events: Counter[str]) -> None:
    took = db.restart()
    events["pg_restart"] += 1
    say(start, f"fault: PostgreSQL restarted in {took:.1f} s")


def run_faults(
    opts: Options, db: Database, workers: Workers, store: Store, start: float, stop_at: float, events: Counter[str]
) -> None:
    """The fault schedule, at fixed shares of the run; returns at ``stop_at``."""
    rng = random.Random(opts.seed)
    duration = stop_at - start
    schedule: list[tuple[float, Callable[[], None]]] = [
        (0.20, lambda: kill_one(workers, store, start, rng, events)),
        (0.35, lambda: terminate(db, start, 3.0, events)),
        (0.50, lambda: terminate(db, start, 0.0, events)),
    ]
    if db.can_restart:
        schedule.append((0.65, lambda: restart(db, start, events)))
    else:
        say(start, "no PostgreSQL restart: --database-url without --restart-command")
    for share, fault in schedule:
        _sleep_until(start + share * duration, start)
        fault()
    _sleep_until(stop_at, start)


def _sleep_until(at: float, start: float) -> None:
    next_report = time.time()
    while time.time() < at:
        time.sleep(min(1.0, max(0.0, at - time.time())))
        if time.time() >= next_report + 60:
            next_report = time.time()
            say(start, "running")


def drained(store: Store, sampler: Sampler, agent: Agent) -> bool:
    sample = sampler.take()
    return (
        sample.classified >= sample.published
        and sample.stored >= sample.published
        and sample.replies_pending == 0
        and not agent.waiting()
    )


def drain(store: Store, sampler: Sampler, agent: Agent, start: float, limit_s: float) -> float | None:
    """Wait until everything published is classified and every reply settled; the seconds it took (``None``: never)."""
    began = time.time()
    errors: Counter[str] = Counter()
    while time.time() - began < limit_s:
        if guarded(store, errors, "drain", lambda: drained(store, sampler, agent)):
            return time.time() - began
        time.sleep(2)
    say(start, f"drain: not drained after {limit_s:.0f} s")
    return None


@dataclass
class Outcome:
    """What a soak run measured; ``bench/soak.py`` prints it, ``tests/test_soak.py`` asserts on it."""

    counts: Counts
    samples: list[Sample]
    duration_s: float
    drained: bool
    drain_s: float
    source_faults: Counter[str]
    soak_faults: Counter[str]
    malformed_served: int
    hostile_served: int
    agent_refused: Counter[str]
    outage_retries: Counter[str]
    load: tuple[float, float]
    """The 1-minute load average when the run started and when the sources stopped."""
    model_alone: float = math.nan
    """Mentions/s of the default model alone in this process, one thread, after the workers stopped."""

    @property
    def warm_up_s(self) -> float:
        return max(60.0, 0.15 * self.duration_s)

    @property
    def backlog_growth(self) -> float:
        """Mentions per minute: the least-squares slope of the backlog after warm-up (see the module docstring)."""
        return slope_per_minute(
            [(s.t, float(s.backlog)) for s in self.samples if self.warm_up_s <= s.t <= self.duration_s]
        )

    @property
    def last(self) -> Sample:
        during = [s for s in self.samples if s.t <= self.duration_s]
        return during[-1] if during else Sample(self.duration_s, 0, 0, 0, 0)

    def failures(self) -> dict[str, int]:
        """The counts that must be 0, where they are not."""
        c = self.counts
        must_be_zero = {name: getattr(c, name) for name in LOSS_RESULTS}
        must_be_zero |= {"unclassified": c.unclassified, "sent_not_on_platform": c.replies_sent_not_on_platform}
        return {name: value for name, value in must_be_zero.items() if value}


def run(opts: Options) -> Outcome:
    """Set up, run the workers and the faults for ``opts.minutes``, drain, measure, clean up."""
    db = schema_in(opts.database_url, opts.restart_command) if opts.database_url else throwaway_cluster()
    directory = Path(tempfile.mkdtemp(prefix="mentiondesk-soak-"))
    fakes = start_instances(opts.sources, opts.per_day / 86_400, Faults(), opts.seed, TOKEN)
    start = fakes[0].timeline.start
    errors, events = Counter[str](), Counter[str]()
    workers: Workers | None = None
    load_at_start = os.getloadavg()[0]
    try:
        say(start, f"database {db.url.split('@')[-1]}, logs in {directory}")
        config = write_config(directory, fakes)
        store, agent_id = prepare_store(db.url, config)
        workers = Workers(with_app_name(db.url, APP), config, directory, opts.worker_threads)
        for n in range(opts.workers):
            workers.start(n)
        sampler, agent = Sampler(store, fakes, start, errors), Agent(store, agent_id, opts.reply_share, errors)
        sampler.start()
        agent.start()
        stop_at = start + opts.minutes * 60
        run_faults(opts, db, workers, store, start, stop_at, events)
        for fake in fakes:
            fake.timeline.stop_at = stop_at
        load_at_stop = os.getloadavg()[0]
        say(start, f"sources stopped publishing (load average {load_at_stop:.1f}); draining")
        drained_in = drain(store, sampler, agent, start, opts.drain_minutes * 60)
        for thread in (agent, sampler):
            thread.done.set()
            thread.join(30)
        workers.stop()
        kinds = Counter(f.timeline.kind(k) for f in fakes for k in f.served)
        outcome = Outcome(
            counts=measure(store, fakes, PREFIX),
            samples=sampler.samples,
            duration_s=stop_at - start,
            drained=drained_in is not None,
            drain_s=drained_in if drained_in is not None else opts.drain_minutes * 60,
            source_faults=sum((fake.faults for fake in fakes), Counter[str]()),
            soak_faults=events,
            malformed_served=sum(n for kind, n in kinds.items() if kind not in ("valid", "hostile")),
            hostile_served=kinds["hostile"],
            agent_refused=agent.refused,
            outage_retries=errors,
            load=(load_at_start, load_at_stop),
            model_alone=model_alone_rate() if opts.model_baseline else math.nan,
        )
        write_samples(directory / "samples.csv", sampler.samples)
        store.dispose()
        return outcome
    finally:
        if workers is not None:
            workers.stop()
        for fake in fakes:
            fake.close()
        db.close()
        if opts.keep:
            print(f"# kept the worker logs and config in {directory}", flush=True)
        else:
            shutil.rmtree(directory, ignore_errors=True)


def model_alone_rate(posts: int = 512) -> float:
    """The baseline for the classified rate: the default model alone, one thread, on the soak's kind of text."""
    import torch

    from bench.soak_fakes import demo_texts
    from classifiers import load_classifier

    torch.set_num_threads(1)
    model = load_classifier("default")
    texts = demo_texts(posts, 99)
    model.classify(texts[:64])  # warm
    began = time.perf_counter()
    for at in range(0, posts, 64):
        model.classify(texts[at : at + 64])
    return posts / (time.perf_counter() - began)


def write_samples(path: Path, samples: list[Sample]) -> None:
    lines = ["t_s,published,stored,classified,replies_pending,backlog"]
    lines += [f"{s.t:.1f},{s.published},{s.stored},{s.classified},{s.replies_pending},{s.backlog}" for s in samples]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def report(outcome: Outcome) -> None:
    """The ``#`` context lines, then the ``RESULT`` lines."""
    c, last = outcome.counts, outcome.last
    samples = [s for s in outcome.samples if outcome.warm_up_s <= s.t <= outcome.duration_s]
    print(f"# machine: {machine()}; load average {outcome.load[0]:.1f} at the start, {outcome.load[1]:.1f} at the stop")
    sources = dict(sorted(outcome.source_faults.items()))
    print(f"# faults by the soak: {dict(outcome.soak_faults)}; by the sources: {sources}")
    served = f"malformed items served {outcome.malformed_served}, hostile {outcome.hostile_served}"
    print(f"# {served}; stored ids no source published {c.unexpected}")
    print(f"# replies {dict(c.replies)}; agent refusals {dict(outcome.agent_refused)}")
    print(f"# the soak's own reads and writes retried after an outage: {dict(outcome.outage_retries)}")
    if samples:
        backlog = [s.backlog for s in samples]
        print(f"# backlog after warm-up: first {backlog[0]}, peak {max(backlog)}, last {backlog[-1]}")
    drained = f"drained in {outcome.drain_s:.0f} s" if outcome.drained else f"NOT drained after {outcome.drain_s:.0f} s"
    print(f"# {drained}; {c.lost_never_served} of the lost were never served; {c.unclassified} stored but unclassified")
    result("soak_offered_rate", last.published / outcome.duration_s, "mentions/s")
    result("soak_stored_rate", last.stored / outcome.duration_s, "mentions/s")
    result("soak_classified_rate", last.classified / outcome.duration_s, "mentions/s")
    if not math.isnan(outcome.model_alone):
        result("soak_model_alone_rate", outcome.model_alone, "mentions/s")
    result("soak_backlog_growth", outcome.backlog_growth, "mentions/min")
    result("soak_lost", c.lost, "count")
    result("soak_duplicated", c.duplicated, "count")
    result("soak_double_posted", c.double_posted, "count")
    result("soak_double_classified", c.double_classified, "count")
    result("soak_ingest_to_classified_p95", percentile(c.ingest_to_classified, 0.95), "s")
    result("soak_published_to_classified_p95", percentile(c.published_to_classified, 0.95), "s")
    result("soak_reply_queued_to_sent_p95", percentile(c.queued_to_sent, 0.95), "s")
    result("soak_replies_sent", c.replies.get("sent", 0), "count")
    result("soak_replies_parked", c.replies.get("needs_attention", 0), "count")
    result("soak_replies_posted_not_recorded", c.posted_not_recorded, "count")
    result("soak_key_replays", c.key_replays, "count")


def parse(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="how long the sources publish")
    parser.add_argument("--per-day", type=float, default=1_000_000, help="mentions a day, all sources together")
    parser.add_argument("--sources", type=int, default=3, help="fake Mastodon instances, one source each")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reply-share", type=float, default=0.1, help="share of mentions the agent answers")
    parser.add_argument("--drain-minutes", type=float, default=7.0, help="longest wait for the backlog to clear")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", help="an existing PostgreSQL (a fresh schema in it); default: throwaway")
    parser.add_argument("--restart-command", help="shell command that restarts --database-url's server")
    parser.add_argument("--keep", action="store_true", help="keep the worker logs and config")
    parser.add_argument("--worker-threads", type=int, default=1, help="torch threads per worker (OMP_NUM_THREADS)")
    parser.add_argument("--no-model-baseline", action="store_true", help="skip timing the model alone at the end")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.sources < 1 or args.workers < 1 or not 0 <= args.reply_share <= 1:
        parser.error("--minutes > 0, --sources >= 1, --workers >= 1 and 0 <= --reply-share <= 1")
    return Options(
        args.minutes,
        args.per_day,
        args.sources,
        args.workers,
        args.reply_share,
        args.drain_minutes,
        args.seed,
        args.database_url,
        args.restart_command,
        args.keep,
        args.worker_threads,
        not args.no_model_baseline,
    )


def main(argv: list[str] | None = None) -> int:
    outcome = run(parse(argv))
    report(outcome)
    if bad := outcome.failures():
        print(f"soak: FAILED {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
