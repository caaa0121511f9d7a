"""``carechat bench``: how fast CareChat delivers, measured against the bare transport.

::

    runner     starts MongoDB (and Redis), the server(s) and the echo baseline, seeds the
               people, drives the phases, reads the server's CPU and memory from /proc
    seed       accounts, sessions, care links, open threads and a practice team, written
               straight to MongoDB (registration's argon2id cost is not under test)
    loader     the load generator, a separate process: real WebSocket protocol, real
               envelopes sealed by the Python SDK before the clock starts
    echo       a bare aiohttp WebSocket echo server: the transport's own limit
    stats      medians, ranges, percentiles; report renders the table
    mailing    ``--mailing``: a 10,000-recipient campaign under 1:1 chat (a phase of its own)
    flood      ``--flood``: one account floods at 10x the chat load against the shipped
               message limits while the others chat (a phase of its own)

docs/benchmarks.md keeps the latest table and how to re-run it.
"""
