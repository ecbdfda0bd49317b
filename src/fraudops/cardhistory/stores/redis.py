"""The stack's store: Valkey (or Redis), shared by every API worker and the pipeline.

Per card two keys: ``fraudops:hist:{card}``, a sorted set of transaction ids scored by event
time (integer microseconds: exact as a score until the year 2255), and
``fraudops:hist:{card}:ev``, a hash of each id's event packed as one record (time, amount and
place as IEEE doubles, so features match the offline executor's bit for bit; merchant and id
as text). The braces make the card a hash tag: a card's two keys share a cluster slot, and no
card id can collide with ``fraudops:hist:version``.

Every write is a Lua script, so an event is added, its window read and its card pruned in one
atomic step whatever the other workers do; a request's events go in one script call (one round
trip). A card's keys expire ``KEEP`` plus a day after its last write: by then its next event
would prune everything anyway. Semantics are the SQLite store's, down to its pruning.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import InvalidResponse, OutOfMemoryError, ReadOnlyError
from redis.retry import Retry

from fraudops.cardhistory.definition import HORIZON, US
from fraudops.cardhistory.stores.base import KEEP, Event, HistoryStore, StoreUnavailable, chunks
from fraudops.errors import redact

PREFIX = "fraudops:hist:"
VERSION_KEY = f"{PREFIX}version"
TTL_SECONDS = KEEP // US + 86_400
# Short, so a request fails fast (503) rather than queueing behind a dead store; a URL may
# override them (?socket_timeout=2&socket_connect_timeout=1), as redis-py reads its query.
TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 1.0}
# The server is gone, is not a server (an HTTP proxy), or cannot take writes (a replica,
# memory full): nothing can be scored.
_DOWN = (
    redis.ConnectionError,
    redis.TimeoutError,
    InvalidResponse,
    ReadOnlyError,
    OutOfMemoryError,
)
# time, amount, latitude, longitude, then the merchant's and the id's lengths and both in UTF-8
_HEAD = struct.Struct("<qdddHH")
_EVENTS_PER_CALL = 256  # bounds how long one script holds the server from other workers
_LOAD_PER_CALL = 1_000
_CALLS_PER_TRIP = 20
_CARDS_PER_CALL = 500
_PASSWORD_PARAM = re.compile(r"([?&]password=)[^&#]*")

# A window comes back as one string: its events' packed records, each self-delimiting, in
# time order (then id); one bulk reply parses far faster than two per event.
_WINDOW = """
local function window(times, fields, lo, hi)
  local ids = redis.call('ZRANGEBYSCORE', times, lo, hi)
  local parts = {}
  for s = 1, #ids, 1000 do
    local packed = redis.call('HMGET', fields, unpack(ids, s, math.min(s + 999, #ids)))
    for j = 1, #packed do
      if packed[j] then parts[#parts + 1] = packed[j] end
    end
  end
  return table.concat(parts)
end
"""
# KEYS: each event's sorted set and hash. ARGV: the TTL, then per event its id, time, window
# start, prune limit and packed record. Returns each event's window.
_RECORD = (
    _WINDOW
    + """
local out = {}
for i = 1, #KEYS / 2 do
  local times, fields, a = KEYS[2 * i - 1], KEYS[2 * i], 5 * i - 3
  if redis.call('ZADD', times, 'NX', ARGV[a + 1], ARGV[a]) == 1 then
    redis.call('HSET', fields, ARGV[a], ARGV[a + 4])
  end
  out[i] = window(times, fields, ARGV[a + 2], '(' .. ARGV[a + 1])
  local old = redis.call('ZRANGEBYSCORE', times, '-inf', '(' .. ARGV[a + 3])
  if #old > 0 then
    redis.call('ZREMRANGEBYSCORE', times, '-inf', '(' .. ARGV[a + 3])
    for s = 1, #old, 1000 do
      redis.call('HDEL', fields, unpack(old, s, math.min(s + 999, #old)))
    end
  end
  redis.call('EXPIRE', times, ARGV[1])
  redis.call('EXPIRE', fields, ARGV[1])
end
return out
"""
)
# KEYS: each card's sorted set and hash. ARGV: since, until. Returns each card's window.
_FETCH = (
    _WINDOW
    + """
local out = {}
for i = 1, #KEYS / 2 do
  out[i] = window(KEYS[2 * i - 1], KEYS[2 * i], ARGV[1], '(' .. ARGV[2])
end
return out
"""
)
# KEYS: each event's sorted set and hash. ARGV: the TTL, then per event its id, time and
# packed record. Returns how many events were new.
_LOAD = """
local added = 0
for i = 1, #KEYS / 2 do
  local times, fields, a = KEYS[2 * i - 1], KEYS[2 * i], 3 * i - 1
  if redis.call('ZADD', times, 'NX', ARGV[a + 1], ARGV[a]) == 1 then
    redis.call('HSET', fields, ARGV[a], ARGV[a + 2])
    added = added + 1
  end
  redis.call('EXPIRE', times, ARGV[1])
  redis.call('EXPIRE', fields, ARGV[1])
end
return added
"""


def card_keys(card: str) -> tuple[str, str]:
    """The sorted set and the hash that hold a card's events."""
    times = f"{PREFIX}{{{card}}}"
    return times, f"{times}:ev"


def _pack(event: Event) -> bytes:
    _, ts, txn, amount, lat, lon, merchant = event
    m, t = merchant.encode(), txn.encode()
    return _HEAD.pack(ts, amount, lat, lon, len(m), len(t)) + m + t


def _unpack(card: str, window: bytes) -> list[Event]:
    out: list[Event] = []
    at, end, head = 0, len(window), _HEAD.size
    while at < end:
        ts, amount, lat, lon, m, t = _HEAD.unpack_from(window, at)
        at += head
        merchant = window[at : at + m].decode()
        txn = window[at + m : at + m + t].decode()
        at += m + t
        out.append((card, ts, txn, amount, lat, lon, merchant))
    return out


def _password(url: str) -> str:
    parts = urlsplit(url)
    return unquote(parts.password or "") or parse_qs(parts.query).get("password", [""])[0]


class RedisStore(HistoryStore):
    """Card histories in Valkey or Redis (``redis://``, ``rediss://`` or ``unix://`` URLs)."""

    def __init__(self, url: str) -> None:
        self.url = _PASSWORD_PARAM.sub(r"\1***", redact(url))
        self._secret = _password(url)
        # One immediate retry: a pooled connection may have died with a server restart.
        retry = Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
        self._client = redis.Redis.from_url(url, retry=retry, **TIMEOUTS)
        self._record = self._client.register_script(_RECORD)
        self._fetch = self._client.register_script(_FETCH)
        self._load = self._client.register_script(_LOAD)

    @contextmanager
    def _answering(self) -> Iterator[None]:
        try:
            yield
        except _DOWN as exc:
            text = redact(str(exc))
            if self._secret:
                text = text.replace(self._secret, "***")
            raise StoreUnavailable(f"card-history store {self.url}: {text}") from exc

    def record_and_fetch(self, events: Sequence[Event]) -> list[list[Event]]:
        """One script call per 256 events: each added, read around and pruned atomically."""
        out: list[list[Event]] = []
        with self._answering():
            for chunk in chunks(events, _EVENTS_PER_CALL):
                keys: list[str] = []
                args: list[Any] = [TTL_SECONDS]
                for event in chunk:
                    keys += card_keys(event[0])
                    ts = event[1]
                    args += [event[2], ts, ts - HORIZON, ts - KEEP, _pack(event)]
                windows = self._record(keys=keys, args=args)
                out += [_unpack(e[0], w) for e, w in zip(chunk, windows, strict=True)]
        return out

    def fetch(self, cards: Iterable[str], *, since: int, until: int) -> list[Event]:
        """The cards' events in ``[since, until)``, 500 cards a script call."""
        out: list[Event] = []
        with self._answering():
            for batch in chunks(sorted(set(cards)), _CARDS_PER_CALL):
                keys = [key for card in batch for key in card_keys(card)]
                windows = self._fetch(keys=keys, args=[since, until])
                for card, rows in zip(batch, windows, strict=True):
                    out += _unpack(card, rows)
        return out

    def load(self, events: Iterable[Event]) -> int:
        """Add events 1,000 a script call, 20 calls a round trip; stored ones are left as is."""
        added = 0
        with self._answering():
            for trip in chunks(chunks(events, _LOAD_PER_CALL), _CALLS_PER_TRIP):
                pipe = self._client.pipeline(transaction=False)
                for chunk in trip:
                    keys: list[str] = []
                    args: list[Any] = [TTL_SECONDS]
                    for event in chunk:
                        keys += card_keys(event[0])
                        args += [event[2], event[1], _pack(event)]
                    self._load(keys=keys, args=args, client=pipe)
                added += sum(int(n) for n in pipe.execute())
        return added

    def clear(self) -> None:
        """Unlink this store's keys (and only them), found by a SCAN of the prefix."""
        with self._answering():
            for batch in chunks(self._client.scan_iter(match=f"{PREFIX}*", count=1_000), 1_000):
                self._client.unlink(*batch)

    def version(self) -> str | None:
        """The version in ``fraudops:hist:version``."""
        with self._answering():
            value = self._client.get(VERSION_KEY)
        return value.decode() if isinstance(value, bytes) else None

    def set_version(self, version: str) -> None:
        """Write the version to ``fraudops:hist:version``."""
        with self._answering():
            self._client.set(VERSION_KEY, version)

    def stats(self) -> dict[str, int]:
        """Counted by a SCAN of the cards' sorted sets (keys expire: no counter would hold)."""
        with self._answering():
            times = set(self._client.scan_iter(match=f"{PREFIX}{{*", count=1_000, _type="zset"))
            sizes: list[int] = []
            for batch in chunks(times, 1_000):
                pipe = self._client.pipeline(transaction=False)
                for key in batch:
                    pipe.zcard(key)
                sizes += [int(n) for n in pipe.execute()]
        return {"cards": sum(1 for n in sizes if n), "events": sum(sizes)}

    def close(self) -> None:
        """Close the pool's connections."""
        self._client.close()
