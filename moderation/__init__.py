"""Moderation: the library that keeps CareChat usable and accountable.

It knows nothing of HTTP, WebSocket or MongoDB; ``chat_server`` builds its objects in
the composition root and calls them from its handlers::

    chat_server handlers ──hit()──▶ ratelimit.RateLimiter ──▶ RedisRateLimiter (shared)
          │                                               └─▶ MemoryRateLimiter (one process)
          │                              keys pseudonymised by pseudonym.Pseudonymizer
          │
          └──new_entry()──▶ audit.AuditEntry ──to_document()──▶ chat_server storage
                            audit.verify_chain() ◀──from_document()── audit_log collection

- ``ratelimit``: named policies (:class:`~moderation.ratelimit.RateLimit`) and limiters
  answering :class:`~moderation.ratelimit.Decision`; one atomic algorithm in Redis and
  in memory.
- ``audit``: hash-chained, append-only audit entries; the pure half of the audit log
  (the server stores them).
- ``pseudonym``: keyed BLAKE2b pseudonyms so e-mail addresses and IPs never reach
  Redis or the audit log in clear.
- ``clock``: the time Protocol the parts accept (the server's clock fits it).

Later: intake triage rules (red flags stop the flow with emergency numbers), verifiable
abuse reports (franking stamps checked against revealed plaintext), blocks between
accounts.

Dependency rule: never imports ``chat_server``, ``e2e_crypto``, ``payments`` or aiohttp.
"""
