"""Where a canary typed into a page must never be found: every MongoDB collection
(GridFS included), every Redis key and value under the server's prefix, the logs.

Each scan also reports how much it looked at, so a test can tell "not found" from
"looked nowhere".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import bson
import redis
from pymongo import MongoClient


@dataclass(frozen=True, slots=True)
class Scan:
    looked_at: int  # documents, or keys
    found_in: tuple[str, ...]  # where the canary was found


def scan_mongodb(client: MongoClient[dict[str, Any]], db_name: str, canary: bytes) -> Scan:
    """Every document of every collection, as its BSON bytes: strings are UTF-8 there
    and binary fields raw, so text and bytes are both caught (GridFS chunks too)."""
    db = client[db_name]
    looked, found = 0, []
    for name in db.list_collection_names():
        for doc in db[name].find():
            looked += 1
            if canary in bson.encode(doc):
                found.append(f"{name}/{doc.get('_id')!r}")
    return Scan(looked, tuple(found))


def scan_redis(url: str, prefix: str, canary: bytes) -> Scan:
    client = redis.Redis.from_url(url)
    looked, found = 0, []
    try:
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            looked += 1
            if canary in _redis_bytes(client, key):
                found.append(key.decode("utf-8", "replace"))
    finally:
        client.close()
    return Scan(looked, tuple(found))


def _redis_bytes(client: redis.Redis, key: bytes) -> bytes:
    kind = client.type(key)
    values: list[Any] = [key]
    if kind == b"string":
        values.append(client.get(key))
    elif kind == b"hash":
        values += [x for pair in client.hgetall(key).items() for x in pair]
    elif kind == b"list":
        values += client.lrange(key, 0, -1)
    elif kind == b"set":
        values += list(client.smembers(key))
    elif kind == b"zset":
        values += client.zrange(key, 0, -1)
    elif kind == b"stream":
        for _id, entry in client.xrange(key) or []:
            values += [x for pair in (entry or {}).items() for x in pair]
    return b"\n".join(v if isinstance(v, bytes) else str(v).encode() for v in values if v)
