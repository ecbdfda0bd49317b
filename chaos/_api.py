"""``fraudops serve`` as a subprocess, and client threads that record every answer they get.

Each valid request carries one transaction with an id used nowhere else, so what came back
can be checked against what was sent: an id never answered with a 200 is lost, an id
answered twice (or one nobody sent) is duplicated. Client mistakes (bad values, malformed
JSON, wrong content type, no key, too big a body) are mixed in: anything but a 4xx for them
is an error.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from chaos._world import ADMIN_KEY, CLIENT_KEY, World, fraudops_bin
from fraudops.procs import free_port, start_group, stop_groups, wait_http

AUTH = {"X-API-Key": CLIENT_KEY}
CARELESS = "127.0.0.2"  # the loopback address client mistakes with keys come from
ADMIN = {"X-API-Key": ADMIN_KEY}


class ApiServer:
    """``fraudops serve`` on a free port, in its own process group."""

    def __init__(self, world: World, workdir: Path, *, name: str, **settings: object) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"{name}.log"
        fields: dict[str, object] = {"serving_cache": workdir / "serving-cache"}
        fields.update(model_poll_seconds=0.5, **settings)
        self.env = world.env(**fields)
        self.workdir = workdir
        self.proc: Any = None

    def start(self) -> None:
        """Start the server and wait until it is ready (a model loaded)."""
        argv = [fraudops_bin(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = start_group(argv, env=self.env, log=self.log, cwd=self.workdir)
        wait_http(f"{self.url}/health/ready", proc=self.proc, timeout=120, ready=_ok)

    def sigterm(self) -> None:
        """Ask the server to stop (uvicorn drains in-flight requests first)."""
        os.killpg(self.proc.pid, signal.SIGTERM)

    def wait(self, timeout: float = 60) -> int:
        """Wait for the process to end; its exit code (negative: killed by that signal)."""
        code: int = self.proc.wait(timeout=timeout)
        return code

    def stop(self) -> None:
        """Stop the server if it still runs."""
        if self.proc is not None and self.proc.poll() is None:
            stop_groups([self.proc], grace=30)


def _ok(status: int) -> bool:
    return status == 200


def transactions(n: int = 500, *, seed: int = 5) -> list[dict[str, Any]]:
    """Valid transactions as a client sends them (JSON records, ISO timestamps)."""
    from fraudops import datagen

    table = datagen.generate_day(dt.date(2026, 2, 1), rows=n, seed=seed, fraud_rate=0.05)
    rows: list[dict[str, Any]] = table.drop_columns(["is_fraud"]).to_pylist()
    for row in rows:
        row["event_ts"] = row["event_ts"].isoformat()
    return rows


def mistakes(tx: dict[str, Any], *, max_body: int) -> list[tuple[str, bytes, dict[str, str]]]:
    """Requests a client gets wrong: (what, body, headers); each deserves a 4xx."""
    js = {"Content-Type": "application/json", **AUTH}

    def body(**changes: object) -> bytes:
        return json.dumps({**tx, **changes}).encode()

    return [
        ("unknown category", body(channel="fax"), js),
        ("malformed JSON", b'{"transaction_id": "x", ', js),
        ("text/plain", body(), {"Content-Type": "text/plain", **AUTH}),
        ("label sent", body(is_fraud=True), js),
        ("number as text", body(transaction_amount="12.5"), js),
        ("empty list", b"[]", js),
        ("repeated id", json.dumps([tx, tx]).encode(), js),
        ("bad timestamp", body(event_ts="yesterday"), js),
        ("negative amount", body(transaction_amount=-3.0), js),
        ("no key", body(), {"Content-Type": "application/json"}),
        ("wrong key", body(), {"Content-Type": "application/json", "X-API-Key": "x" * 20}),
        ("body too big", b"[" + b" " * max_body + b"]", js),
    ]


@dataclass(frozen=True)
class Answer:
    """One request and what came back (or why nothing did)."""

    kind: str  # "tx" (a valid transaction) or the name of a client mistake
    ids: tuple[str, ...]
    sent: float  # time.monotonic() when the request started
    status: int | None  # None: no HTTP answer
    seconds: float
    version: str | None = None
    answered: tuple[str, ...] = ()
    failure: str = ""  # why there was no answer
    head: bool = False  # the head of an answer arrived (a failure after it is a cut answer)

    @property
    def refused(self) -> bool:
        """No byte of an answer: connection refused, reset or closed before the status line.

        The server never took this request (a stopping server closes idle keep-alive
        connections); the client may send it elsewhere. A timeout, or an answer cut after its
        head arrived, is not a refusal.
        """
        return self.status is None and not self.head and self.failure.startswith(REFUSALS)


REFUSALS = ("ConnectError", "ReadError", "WriteError", "RemoteProtocolError")


class Http:
    """An httpx client that knows whether the head of the last answer arrived."""

    def __init__(self, url: str, *, timeout: float, local_address: str | None = None) -> None:
        self.head = False
        self.url, self.timeout, self.local_address = url, timeout, local_address
        self.client = self._connect()

    def _connect(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            timeout=self.timeout,
            transport=httpx.HTTPTransport(local_address=self.local_address),
            event_hooks={"response": [self._got_head]},
        )

    def reconnect(self) -> None:
        """Drop the connection; the next request opens a new one."""
        self.client.close()
        self.client = self._connect()

    def _got_head(self, response: httpx.Response) -> None:
        self.head = True

    def close(self) -> None:
        self.client.close()


def post(http: Http, *, kind: str, ids: tuple[str, ...], **request: Any) -> Answer:
    """POST to /predict and record the outcome."""
    http.head = False
    sent = time.monotonic()
    try:
        resp = http.client.post("/predict", **request)
    except httpx.HTTPError as exc:
        failure = f"{type(exc).__name__}: {exc}"
        seconds = time.monotonic() - sent
        return Answer(kind, ids, sent, None, seconds, failure=failure, head=http.head)
    seconds = time.monotonic() - sent
    version, answered = None, ()
    if resp.status_code == 200:
        data = resp.json()
        version = str(data["model_version"])
        answered = tuple(p["transaction_id"] for p in data["predictions"])
    return Answer(kind, ids, sent, resp.status_code, seconds, version, answered, head=True)


@dataclass
class Load:
    """Client threads sending one transaction per request until stopped.

    Every ``mistake_every``-th request is a client mistake. With ``retry_503`` a transaction
    refused with 503 is sent again (same id) until answered, as a client honouring
    Retry-After would. A thread stops by itself after a refusal when ``stop_on_refusal``.
    """

    url: str
    tag: str
    threads: int = 4
    mistake_every: int = 8
    retry_503: bool = False
    stop_on_refusal: bool = False
    timeout: float = 30.0
    pace: float = 0.0  # seconds each thread waits between requests (0: as fast as it can)
    max_body: int = 2 * 1024**2
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, threads: int | None = None) -> None:
        """Start (more) client threads."""
        pool = transactions()
        first = len(self._workers)
        for n in range(first, first + (threads or self.threads)):
            worker = threading.Thread(target=self._run, args=(n, pool), daemon=True)
            self._workers.append(worker)
            worker.start()

    def finish(self, timeout: float = 60) -> list[Answer]:
        """Stop every thread and return every answer."""
        self.stop.set()
        for worker in self._workers:
            worker.join(timeout)
            if worker.is_alive():
                raise RuntimeError("a client thread did not stop: a request hangs")
        return list(self.answers)

    def record(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)

    def seen(self, version: str) -> int:
        """Answers from a model version so far."""
        with self._lock:
            return sum(a.version == version for a in self.answers)

    def _run(self, n: int, pool: list[dict[str, Any]]) -> None:
        bad = mistakes(pool[0], max_body=self.max_body)
        http = Http(self.url, timeout=self.timeout)
        # wrong keys lock their source address out for a minute (the API's throttle, valid
        # keys included): the key mistakes come from a careless client of their own
        careless = Http(self.url, timeout=self.timeout, local_address=CARELESS)
        try:
            for seq in itertools.count(1):
                if self.stop.is_set():
                    return
                if self.mistake_every and seq % self.mistake_every == 0:
                    what, body, headers = bad[(seq // self.mistake_every + n) % len(bad)]
                    via = http if headers.get("X-API-Key") == CLIENT_KEY else careless
                    answer = post(via, kind=what, ids=(), content=body, headers=headers)
                    self.record(answer)
                else:
                    tx_id = f"{self.tag}-{n}-{seq}"
                    tx = {**pool[seq % len(pool)], "transaction_id": tx_id}
                    answer = self._send(http, tx)
                if answer.refused and self.stop_on_refusal:
                    return
                if self.pace:
                    time.sleep(self.pace)
        finally:
            http.close()
            careless.close()

    def _send(self, http: Http, tx: dict[str, Any]) -> Answer:
        stopped: float | None = None
        while True:
            answer = post(http, kind="tx", ids=(tx["transaction_id"],), json=tx, headers=AUTH)
            self.record(answer)
            if not (self.retry_503 and answer.status == 503):
                return answer
            if self.stop.is_set():  # still answered once the load drops; lost if never
                stopped = stopped or time.monotonic()
                if time.monotonic() - stopped > 60:
                    return answer
            http.reconnect()  # the 503 closed it (Connection: close); back off, try again
            time.sleep(random.uniform(0.01, 0.05))


@dataclass(frozen=True)
class Tally:
    """Counts from the answers alone."""

    requests: int  # HTTP requests sent, client mistakes included
    transactions: int  # distinct transactions sent
    lost: int
    duplicated: int
    errors: int
    problems: Counter[str]


def tally(
    answers: list[Answer], *, refusals_after: float | None = None, allow_503: bool = False
) -> Tally:
    """Lost, duplicated and errors over answers.

    ``refusals_after``: from this moment (a SIGTERM) a request may be refused (no connection,
    or closed before any byte of an answer): the server is stopping, the client goes elsewhere.
    ``allow_503``: a 503 refuses that attempt (overload); the client sends it again.
    """
    problems: Counter[str] = Counter()
    sent: set[str] = set()
    excused: set[str] = set()
    ok: Counter[str] = Counter()
    for a in answers:
        refusal_ok = a.refused and refusals_after is not None and a.sent >= refusals_after
        if a.kind == "tx":
            sent.update(a.ids)
            if a.status == 200:
                ok.update(a.answered)
                if sorted(a.answered) != sorted(a.ids):
                    problems["an answer names other transactions"] += 1
            elif refusal_ok:
                excused.update(a.ids)
            elif a.status is None:
                problems[f"no answer to a transaction ({a.failure.split(':')[0]})"] += 1
            elif not (a.status == 503 and allow_503):
                problems[f"{a.status} for a valid transaction"] += 1
        elif a.status is None:
            if not refusal_ok:
                problems[f"no answer to a client mistake ({a.failure.split(':')[0]})"] += 1
        elif not (400 <= a.status < 500 or (a.status == 503 and allow_503)):
            problems[f"{a.status} for a client mistake ({a.kind})"] += 1
    lost = len({i for i in sent if i not in ok and i not in excused})
    duplicated = sum(n - 1 for n in ok.values() if n > 1) + len(set(ok) - sent)
    errors = sum(problems.values())
    return Tally(len(answers), len(sent), lost, duplicated, errors, problems)


def csv_probe(url: str, *, rows: int, started: threading.Event | None = None) -> Answer:
    """One POST /predict/csv of ``rows`` transactions (a long request), recorded as an Answer."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    from fraudops import datagen
    from fraudops.csvio import to_csv_bytes

    table = datagen.generate_day(dt.date(2026, 2, 2), rows=rows, seed=9).drop_columns(["is_fraud"])
    ids = tuple(f"probe-{i}" for i in range(rows))
    table = table.set_column(0, "transaction_id", pa.array(ids))
    body = to_csv_bytes(table)
    headers = {**AUTH, "Content-Type": "text/csv"}
    http = Http(url, timeout=120)
    sent = time.monotonic()
    if started is not None:
        started.set()
    try:
        resp = http.client.post("/predict/csv", content=body, headers=headers)
    except httpx.HTTPError as exc:
        failure = f"{type(exc).__name__}: {exc}"
        seconds = time.monotonic() - sent
        return Answer("tx", ids, sent, None, seconds, failure=failure, head=http.head)
    finally:
        http.close()
    seconds = time.monotonic() - sent
    if resp.status_code != 200:
        return Answer("tx", ids, sent, resp.status_code, seconds)
    scored = pacsv.read_csv(
        io.BytesIO(resp.content),
        convert_options=pacsv.ConvertOptions(column_types={"transaction_id": pa.string()}),
    )
    answered = tuple(scored["transaction_id"].to_pylist())
    version = resp.headers.get("X-Model-Version")
    return Answer("tx", ids, sent, 200, seconds, version, answered)


def versions_in_order(answers: list[Answer], order: list[str]) -> int:
    """Answers that went back to an older version on the same client connection."""
    rank = {v: i for i, v in enumerate(order)}
    back = 0
    by_thread: dict[str, int] = {}
    for a in sorted(answers, key=lambda a: a.sent):
        if a.version is None or not a.ids:
            continue
        thread = a.ids[0].rsplit("-", 1)[0]
        now = rank.get(a.version, -1)
        if now < by_thread.get(thread, -1):
            back += 1
        by_thread[thread] = max(now, by_thread.get(thread, -1))
    return back


def dump(answers: list[Answer], path: Path, *, since: float) -> None:
    """Every answer as a JSON line (times relative to ``since``), the evidence behind a row."""
    with open(path, "w") as out:
        for a in sorted(answers, key=lambda a: a.sent):
            record = {
                "kind": a.kind,
                "ids": list(a.ids[:3]) + (["..."] if len(a.ids) > 3 else []),
                "sent": round(a.sent - since, 4),
                "seconds": round(a.seconds, 4),
                "status": a.status,
                "version": a.version,
                "failure": a.failure,
                "head": a.head,
            }
            out.write(json.dumps(record) + "\n")


def describe(t: Tally) -> str:
    """The problems, counted, for the notes."""
    return "; ".join(f"{n} x {what}" for what, n in t.problems.most_common()) or "none"
