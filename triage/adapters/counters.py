"""Fixed-window counters shared by every web process: one atomic increment per hit.

A counter starts its window on its first hit; every hit in the window adds one and learns the new
count in the same round trip, so N concurrent callers see N distinct counts and exactly the first
`limit` of them are under a limit. (Reading the count and writing it back later, as a cache get/set
does, lets every concurrent caller read the same old count.)

`RedisWindowCounter` is one Lua script per call (INCR + PEXPIRE on the first hit, PTTL back). The
database counter (services/throttle.py) is one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`
statement, for the embedded mode with no Redis. Pure: no ORM, no settings.
"""

from __future__ import annotations

from typing import Protocol

import redis

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (redis.ConnectionError, redis.TimeoutError)

# KEYS: counter. ARGV: window ms. Returns {count after this hit, ms until the window ends}.
_HIT = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""

# KEYS: counter. Takes one hit back (a success is not a failure); never below zero.
_UNDO = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""

# KEYS: counter. ARGV: at_most. Deletes the counter when its count is at most `at_most`: a count
# past it means others were refused meanwhile, and wiping it would let them start over.
_CLEAR = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n <= tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) return 1 end
return 0
"""


class WindowCounter(Protocol):
    def hit(self, key: str, *, window_s: float) -> tuple[int, float]:
        """Add one; returns (count after this hit, seconds until the window ends)."""
        ...

    def undo(self, key: str) -> None: ...

    def clear(self, key: str, *, at_most: int) -> None: ...


class RedisWindowCounter:
    def __init__(self, *, client: redis.Redis, key_prefix: str) -> None:
        self.client = client
        self.key_prefix = key_prefix
        self._hit = client.register_script(_HIT)
        self._undo = client.register_script(_UNDO)
        self._clear = client.register_script(_CLEAR)

    def _key(self, key: str) -> str:
        return f"{self.key_prefix}:{key}"

    def hit(self, key: str, *, window_s: float) -> tuple[int, float]:
        count, ttl_ms = self._hit(keys=[self._key(key)], args=[max(1, int(window_s * 1000))])
        return int(count), int(ttl_ms) / 1000

    def undo(self, key: str) -> None:
        self._undo(keys=[self._key(key)])

    def clear(self, key: str, *, at_most: int) -> None:
        self._clear(keys=[self._key(key)], args=[at_most])
