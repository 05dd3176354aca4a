"""Where accepted review jobs live until one is done: huey's storage, plus leases.

huey keeps the queue, the schedule of delayed jobs and a key-value table, on
SQLite (one file on local disk, the embedded default) or on Redis (shared by
replicas). What huey does not do is acknowledge: its `dequeue` deletes the job,
so a process killed mid-review loses it (coleifer/huey#559, #844). A webhook
answered 202 must still be reviewed, so each store adds, as one atomic step in
its own backend:

- `submit_many`: for each job, remember the delivery id (a redelivery is a
  duplicate), record the job's token as the newest for its pull request, and
  enqueue it in place of that PR's job still waiting, if one is (a burst of pushes
  keeps one job per PR, and the limit on waiting jobs counts pull requests, not
  pushes); a batch is one transaction (one fsync) or one Redis round trip;
- `claim_current`: move the oldest job into a leased claim instead of deleting
  it; a claim whose lease runs out (its process died) goes back to the queue's
  front. Jobs a newer job of their PR superseded are dropped on the way, in the
  same step (jobs released back to the queue after a newer push; each would
  otherwise cost its worker three round trips);
- `ack` ends a claim, `release` puts it back on the schedule to run later;
- `lock_pull`: a per-pull-request lease, so two workers, in any process, never
  review one pull request at once.

Leases are renewed by the process holding them (`renew`), so a long review
keeps its claim and a dead process loses its claims within one lease.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

from huey.storage import RedisStorage, SqliteStorage  # type: ignore[import-untyped]
from redis.exceptions import NoScriptError

__all__ = ["Claim", "JobStore", "NewJob", "RedisJobStore", "SqliteJobStore", "Stored", "Submit"]

Submit = Literal["queued", "duplicate", "full"]
# What `submit_many` answers a job: and the bytes of the job of the same pull request
# it replaced, when that one was still waiting (a queued job only).
Stored = tuple[Submit, bytes | None]

# Delivery ids are remembered this long: GitHub redelivers by hand for up to 3 days.
_SEEN_SECONDS = 3 * 24 * 3600


@dataclass(frozen=True)
class Claim:
    """A job taken from the queue, held under a lease until acked or released.
    `attempts`: how many times before a process died while holding it."""

    id: str
    data: bytes
    attempts: int = 0


@dataclass(frozen=True)
class NewJob:
    """A job to submit: its delivery id, its PR's key, its token and its bytes."""

    delivery: str
    key: str
    token: str
    data: bytes


# What the store keeps is the job's bytes behind its PR key and token, so `claim_current`
# can tell a superseded job without reading the job. Keys are "owner/repo#N#C" and
# tokens hex: neither holds a newline. Bytes without the mark (stored by a version
# before it) are served as they are, never skipped.
_MARK = b"tr1\n"


def _envelope(job: NewJob) -> bytes:
    return _MARK + job.key.encode() + b"\n" + job.token.encode() + b"\n" + job.data


def _opened(stored: bytes) -> tuple[str | None, str | None, bytes]:
    """(key, token, job bytes) of what `_envelope` made; (None, None, bytes) otherwise."""
    if not stored.startswith(_MARK):
        return None, None, stored
    key, token, data = stored[len(_MARK) :].split(b"\n", 2)
    return key.decode(), token.decode(), data


def _claim_of(claim_id: str, stored: bytes, attempts: int) -> Claim:
    return Claim(claim_id, _opened(stored)[2], attempts)


class JobStore(Protocol):
    """What the durable queue needs of a backend (SQLite or Redis)."""

    def submit_many(self, jobs: Sequence[NewJob], limit: int) -> list[Stored]: ...
    def claim_current(self, lease: float, skip: int) -> tuple[Claim | None, list[bytes]]: ...
    def ack(self, claim_id: str) -> None: ...
    def release(self, claim_id: str, delay: float) -> None: ...
    def renew(
        self, claim_ids: Iterable[str], lock_keys: Iterable[tuple[str, str]], lease: float
    ) -> None: ...
    def recover(self) -> int: ...
    def promote(self) -> int: ...
    def newest(self, key: str) -> str | None: ...
    def lock_pull(self, key: str, owner: str, lease: float) -> bool: ...
    def unlock_pull(self, key: str, owner: str) -> None: ...
    def pending(self) -> int: ...
    def claimed(self) -> int: ...
    def incr(self, key: str) -> int: ...  # huey's counters
    def delete_counter(self, key: str) -> None: ...
    def hold(self, key: str, seconds: float) -> float: ...  # a `Throttle`, shared
    def free(self, key: str) -> None: ...
    def close(self) -> None: ...


def _text(value: bytes | str | None) -> str | None:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _submitted(answer: str | None) -> Submit:
    return "duplicate" if answer == "duplicate" else "full" if answer == "full" else "queued"


class SqliteJobStore(SqliteStorage):  # type: ignore[misc]  # huey is untyped
    """huey's SQLite storage, with claims, locks and seen deliveries as tables beside
    its own. Every step is one `begin exclusive` transaction: atomic across threads
    and processes sharing the file, and durable once it returns (WAL, full sync)."""

    table_claim = (
        "create table if not exists claim (id integer primary key autoincrement,"
        " queue text not null, data blob not null, expires real not null,"
        " attempts integer not null default 0)"
    )
    table_lock = (
        "create table if not exists pr_lock (queue text not null, key text not null,"
        " owner text not null, expires real not null, primary key(queue, key))"
    )
    table_seen = (
        "create table if not exists seen (queue text not null, delivery text not null,"
        " at real not null, primary key(queue, delivery))"
    )
    table_hold = (
        "create table if not exists hold (queue text not null, key text not null,"
        " until real not null, primary key(queue, key))"
    )
    ddl: ClassVar[list[str]] = [
        *SqliteStorage.ddl,
        table_claim,
        table_lock,
        table_seen,
        table_hold,
    ]

    def __init__(self, filename: str, name: str = "twelve-review") -> None:
        # fsync on: a 202 is a promise, and the job must survive a power cut too.
        super().__init__(name=name, filename=filename, fsync=True, strict_fifo=True)
        self._pruned = 0.0

    def submit_many(self, jobs: Sequence[NewJob], limit: int) -> list[Stored]:
        """Each job in order, in one transaction: one fsync."""
        now = time.time()
        answers: list[Stored] = []
        with self.db(commit=True) as curs:
            if now - self._pruned > 60:  # forget old delivery ids, at most once a minute
                self._pruned = now
                curs.execute(
                    "delete from seen where queue = ? and at < ?",
                    (self.name, now - _SEEN_SECONDS),
                )
            curs.execute(
                "select (select count(*) from task where queue = ?)"
                " + (select count(*) from schedule where queue = ?)",
                (self.name, self.name),
            )
            waiting = int(curs.fetchone()[0])
            for job in jobs:
                curs.execute(
                    "insert or ignore into seen (queue, delivery, at) values (?, ?, ?)",
                    (self.name, job.delivery, now),
                )
                if curs.rowcount == 0:
                    answers.append(("duplicate", None))
                    continue
                replaced = self._take_waiting(curs, job.key)
                if replaced is None and waiting >= limit:
                    curs.execute(
                        "delete from seen where queue = ? and delivery = ?",
                        (self.name, job.delivery),
                    )
                    # not remembered: a redelivery may be taken later
                    answers.append(("full", None))
                    continue
                curs.execute(
                    "insert or replace into kv (queue, key, value) values (?, ?, ?)",
                    (self.name, "newest:" + job.key, job.token.encode()),
                )
                curs.execute(
                    "insert into task (queue, data, priority) values (?, ?, 0)",
                    (self.name, self.to_blob(_envelope(job))),
                )
                curs.execute(
                    "insert or replace into kv (queue, key, value) values (?, ?, ?)",
                    (self.name, "waiting:" + job.key, str(curs.lastrowid).encode()),
                )
                waiting += replaced is None
                answers.append(("queued", None if replaced is None else _opened(replaced)[2]))
        return answers

    def _take_waiting(self, curs: Any, key: str) -> bytes | None:
        """Remove the PR's job still waiting in the queue (its task id is kept under
        "waiting:"; a claimed one's id is gone from the table); its stored bytes."""
        curs.execute(
            "select value from kv where queue = ? and key = ?", (self.name, "waiting:" + key)
        )
        marker = curs.fetchone()
        if marker is None:
            return None
        curs.execute(
            "delete from task where queue = ? and id = ? returning data",
            (self.name, int(bytes(marker[0]).decode())),
        )
        row = curs.fetchone()
        return None if row is None else bytes(row[0])

    def claim_current(self, lease: float, skip: int) -> tuple[Claim | None, list[bytes]]:
        """The oldest job whose token is still its PR's newest, claimed; on the way,
        up to `skip` superseded jobs are dropped: their bytes, for the log."""
        if not self.sql("select 1 from task where queue = ? limit 1", (self.name,), results=True):
            return None, []  # the common idle case, without the exclusive lock
        skipped: list[bytes] = []
        with self.db(commit=True) as curs:
            while True:
                # a recovered job's priority is its count of attempts: it sorts first
                curs.execute(
                    "select id, data, priority from task where queue = ?"
                    " order by priority desc, id limit 1",
                    (self.name,),
                )
                row = curs.fetchone()
                if row is None:
                    return None, skipped
                task_id, stored, attempts = row[0], bytes(row[1]), int(row[2])
                key, token, data = _opened(stored)
                curs.execute("delete from task where id = ?", (task_id,))
                if key is not None and len(skipped) < skip:
                    curs.execute(
                        "select value from kv where queue = ? and key = ?",
                        (self.name, "newest:" + key),
                    )
                    newest = curs.fetchone()
                    if newest is None or bytes(newest[0]).decode() != token:
                        skipped.append(data)
                        continue
                curs.execute(
                    "insert into claim (queue, data, expires, attempts) values (?, ?, ?, ?)",
                    (self.name, stored, time.time() + lease, attempts),
                )
                return _claim_of(str(curs.lastrowid), stored, attempts), skipped

    def ack(self, claim_id: str) -> None:
        self.sql("delete from claim where id = ?", (int(claim_id),), commit=True)

    def release(self, claim_id: str, delay: float) -> None:
        with self.db(commit=True) as curs:
            curs.execute("select data from claim where id = ?", (int(claim_id),))
            row = curs.fetchone()
            if row is None:
                return
            curs.execute("delete from claim where id = ?", (int(claim_id),))
            curs.execute(
                "insert into schedule (queue, data, timestamp) values (?, ?, ?)",
                (self.name, row[0], time.time() + delay),
            )

    def renew(
        self, claim_ids: Iterable[str], lock_keys: Iterable[tuple[str, str]], lease: float
    ) -> None:
        expires = time.time() + lease
        with self.db(commit=True) as curs:
            curs.executemany(
                "update claim set expires = ? where id = ?",
                [(expires, int(c)) for c in claim_ids],
            )
            curs.executemany(
                "update pr_lock set expires = ? where queue = ? and key = ? and owner = ?",
                [(expires, self.name, key, owner) for key, owner in lock_keys],
            )

    def recover(self) -> int:
        """Claims whose lease ran out (their process died) back to the queue's front."""
        now = time.time()
        with self.db(commit=True) as curs:
            curs.execute(
                "select id, data, attempts from claim where queue = ? and expires < ? order by id",
                (self.name, now),
            )
            rows: Sequence[tuple[int, bytes, int]] = curs.fetchall()
            for claim_id, data, attempts in rows:
                curs.execute("delete from claim where id = ?", (claim_id,))
                # priority = attempts (1 or more): an interrupted job does not wait again
                curs.execute(
                    "insert into task (queue, data, priority) values (?, ?, ?)",
                    (self.name, data, attempts + 1),
                )
            return len(rows)

    def promote(self) -> int:
        """Scheduled jobs that are due, onto the queue (one transaction: none lost)."""
        now = time.time()
        with self.db(commit=True) as curs:
            curs.execute(
                "select id, data from schedule where queue = ? and timestamp <= ?"
                " order by timestamp, id",
                (self.name, now),
            )
            rows: Sequence[tuple[int, bytes]] = curs.fetchall()
            for row_id, data in rows:
                curs.execute("delete from schedule where id = ?", (row_id,))
                curs.execute(
                    "insert into task (queue, data, priority) values (?, ?, 0)", (self.name, data)
                )
            return len(rows)

    def newest(self, key: str) -> str | None:
        rows = self.sql(
            "select value from kv where queue = ? and key = ?",
            (self.name, "newest:" + key),
            results=True,
        )
        return bytes(rows[0][0]).decode() if rows else None

    def lock_pull(self, key: str, owner: str, lease: float) -> bool:
        now = time.time()
        with self.db(commit=True) as curs:
            curs.execute(
                "insert into pr_lock (queue, key, owner, expires) values (?, ?, ?, ?)"
                " on conflict(queue, key) do update set owner = excluded.owner,"
                " expires = excluded.expires where pr_lock.expires < ? or pr_lock.owner = ?",
                (self.name, key, owner, now + lease, now, owner),
            )
            return bool(curs.rowcount)

    def unlock_pull(self, key: str, owner: str) -> None:
        self.sql(
            "delete from pr_lock where queue = ? and key = ? and owner = ?",
            (self.name, key, owner),
            commit=True,
        )

    def pending(self) -> int:
        return int(self.queue_size()) + int(self.schedule_size())

    def hold(self, key: str, seconds: float) -> float:
        now = time.time()
        with self.db(commit=True) as curs:
            curs.execute("select until from hold where queue = ? and key = ?", (self.name, key))
            row = curs.fetchone()
            if row is not None and row[0] > now:
                return float(row[0] - now)
            curs.execute(
                "insert or replace into hold (queue, key, until) values (?, ?, ?)",
                (self.name, key, now + seconds),
            )
            return 0.0

    def free(self, key: str) -> None:
        self.sql("delete from hold where queue = ? and key = ?", (self.name, key), commit=True)

    def claimed(self) -> int:
        rows = self.sql("select count(*) from claim where queue = ?", (self.name,), results=True)
        return int(rows[0][0])


# Redis: each step is one Lua script, atomic on the server, timed by the server's
# clock (replicas' clocks may disagree). huey's list is LPUSHed and RPOPped, so
# the right end is the next job.
_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) + tonumber(t[2]) / 1e6 "

# KEYS: seen, queue, newest, schedule, waiting (the PR's job still in the queue, if any)
_SUBMIT = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[4]) then return {'duplicate', false} end
local replaced = false
local waiting = redis.call('GET', KEYS[5])
if waiting and redis.call('LREM', KEYS[2], 1, waiting) > 0 then replaced = waiting end
if not replaced
  and redis.call('LLEN', KEYS[2]) + redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1]) return {'full', false}
end
redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[4])
redis.call('SET', KEYS[5], ARGV[2], 'EX', ARGV[4])
redis.call('LPUSH', KEYS[2], ARGV[2])
return {'queued', replaced}
"""

# ARGV: lease, how many superseded jobs may be dropped, the prefix of "newest" keys
# (read by name: fine on one Redis, as huey's own keys; not for Redis Cluster).
_CLAIM = (
    _NOW
    + """
local skipped = {}
while true do
  local data = redis.call('RPOP', KEYS[1])
  if not data then return {'', '', 0, skipped} end
  local current = true
  if #skipped < tonumber(ARGV[2]) and string.sub(data, 1, 4) == 'tr1\\n' then
    local key_end = string.find(data, '\\n', 5, true)
    local token_end = string.find(data, '\\n', key_end + 1, true)
    local newest = redis.call('GET', ARGV[3] .. string.sub(data, 5, key_end - 1))
    current = newest == string.sub(data, key_end + 1, token_end - 1)
  end
  if current then
    local id = redis.call('INCR', KEYS[4])
    redis.call('HSET', KEYS[2], id, data)
    redis.call('ZADD', KEYS[3], now + tonumber(ARGV[1]), id)
    return {id, data, tonumber(redis.call('HGET', KEYS[5], data) or '0'), skipped}
  end
  redis.call('HDEL', KEYS[5], data)
  skipped[#skipped + 1] = data
end
"""
)

_RELEASE = (
    _NOW
    + """
local data = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1]) redis.call('ZREM', KEYS[2], ARGV[1])
if data then redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), data) end
return 0
"""
)

_RENEW = (
    _NOW
    + """
local until_ = now + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', until_, ARGV[i]) end
return 0
"""
)

_RECOVER = (
    _NOW
    + """
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, id in ipairs(ids) do
  local data = redis.call('HGET', KEYS[1], id)
  if data then redis.call('RPUSH', KEYS[3], data) redis.call('HINCRBY', KEYS[4], data, 1) end
  redis.call('HDEL', KEYS[1], id) redis.call('ZREM', KEYS[2], id)
end
return #ids
"""
)

_PROMOTE = (
    _NOW
    + """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, data in ipairs(due) do
  redis.call('LPUSH', KEYS[2], data) redis.call('ZREM', KEYS[1], data)
end
return #due
"""
)

_ACK = """
local data = redis.call('HGET', KEYS[1], ARGV[1])
if data then redis.call('HDEL', KEYS[3], data) end
redis.call('HDEL', KEYS[1], ARGV[1]) redis.call('ZREM', KEYS[2], ARGV[1])
return 0
"""

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""

_EXTEND_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class RedisJobStore(RedisStorage):  # type: ignore[misc]  # huey is untyped
    """huey's Redis storage (its queue list and schedule set), with claims in a hash
    plus a sorted set of lease ends, and locks and seen deliveries as plain keys."""

    def __init__(self, url: str, name: str = "twelve-review") -> None:
        super().__init__(name=name, url=url, blocking=False)
        base = f"twelve-review.{self.name}"
        self._claims = f"{base}.claims"
        self._leases = f"{base}.leases"
        self._sequence = f"{base}.claim-id"
        self._attempts = f"{base}.attempts"  # job data -> times its process died holding it
        self._prefix = base
        self._submit = self.conn.register_script(_SUBMIT)
        self._claim = self.conn.register_script(_CLAIM)
        self._ack = self.conn.register_script(_ACK)
        self._release = self.conn.register_script(_RELEASE)
        self._renew = self.conn.register_script(_RENEW)
        self._recover = self.conn.register_script(_RECOVER)
        self._promote = self.conn.register_script(_PROMOTE)
        self._unlock = self.conn.register_script(_UNLOCK)
        self._extend_lock = self.conn.register_script(_EXTEND_LOCK)

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}.{kind}:{name}"

    def submit_many(self, jobs: Sequence[NewJob], limit: int) -> list[Stored]:
        """Each job's script, in order, pipelined: one round trip for the batch (each
        script is atomic on its own)."""
        if not jobs:
            return []
        try:
            answers = self._submit_pipelined(jobs, limit)
        except NoScriptError:  # a restarted Redis forgot the script: no job ran, so resend
            self.conn.script_load(_SUBMIT)
            answers = self._submit_pipelined(jobs, limit)
        return [
            (_submitted(_text(answer)), None if replaced is None else _opened(bytes(replaced))[2])
            for answer, replaced in answers
        ]

    def _submit_pipelined(self, jobs: Sequence[NewJob], limit: int) -> list[Any]:
        # EVALSHA by hand: redis-py's Script in a pipeline asks SCRIPT EXISTS first,
        # a second round trip on every batch.
        pipe = self.conn.pipeline(transaction=False)
        for job in jobs:
            keys = [
                self._key("seen", job.delivery),
                self.queue_key,
                self._key("newest", job.key),
                self.schedule_key,
                self._key("waiting", job.key),
            ]
            pipe.evalsha(
                self._submit.sha, len(keys), *keys, job.token, _envelope(job), limit, _SEEN_SECONDS
            )
        return list(pipe.execute())

    def claim_current(self, lease: float, skip: int) -> tuple[Claim | None, list[bytes]]:
        keys = [self.queue_key, self._claims, self._leases, self._sequence, self._attempts]
        newest_prefix = self._key("newest", "")
        claim_id, stored, attempts, skipped = self._claim(
            keys=keys, args=[lease, skip, newest_prefix]
        )
        dropped = [_opened(bytes(data))[2] for data in skipped]
        if not claim_id:
            return None, dropped
        return _claim_of(str(_text(claim_id)), bytes(stored), int(attempts)), dropped

    def ack(self, claim_id: str) -> None:
        self._ack(keys=[self._claims, self._leases, self._attempts], args=[claim_id])

    def release(self, claim_id: str, delay: float) -> None:
        keys = [self._claims, self._leases, self.schedule_key]
        self._release(keys=keys, args=[claim_id, delay])

    def renew(
        self, claim_ids: Iterable[str], lock_keys: Iterable[tuple[str, str]], lease: float
    ) -> None:
        ids = list(claim_ids)
        if ids:
            self._renew(keys=[self._leases], args=[lease, *ids])
        for key, owner in lock_keys:
            self._extend_lock(keys=[self._key("lock", key)], args=[owner, int(lease * 1000)])

    def recover(self) -> int:
        keys = [self._claims, self._leases, self.queue_key, self._attempts]
        return int(self._recover(keys=keys))

    def promote(self) -> int:
        return int(self._promote(keys=[self.schedule_key, self.queue_key]))

    def newest(self, key: str) -> str | None:
        return _text(self.conn.get(self._key("newest", key)))

    def lock_pull(self, key: str, owner: str, lease: float) -> bool:
        name = self._key("lock", key)
        if self.conn.set(name, owner, nx=True, px=int(lease * 1000)):
            return True
        return _text(self.conn.get(name)) == owner

    def unlock_pull(self, key: str, owner: str) -> None:
        self._unlock(keys=[self._key("lock", key)], args=[owner])

    def pending(self) -> int:
        return int(self.conn.llen(self.queue_key)) + int(self.conn.zcard(self.schedule_key))

    def hold(self, key: str, seconds: float) -> float:
        name = self._key("hold", key)
        if self.conn.set(name, "1", nx=True, px=max(1, int(seconds * 1000))):
            return 0.0
        left = int(self.conn.pttl(name))
        return max(left, 1) / 1000  # -1/-2 (gone meanwhile): a moment, then try again

    def free(self, key: str) -> None:
        self.conn.delete(self._key("hold", key))

    def claimed(self) -> int:
        return int(self.conn.hlen(self._claims))

    def close(self) -> None:
        self.pool.disconnect()
