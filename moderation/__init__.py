"""Moderation: the library that keeps CareChat usable and accountable.

It knows nothing of HTTP, WebSocket or MongoDB; ``chat_server`` builds its objects in
the composition root and calls them from its handlers::

    chat_server handlers ──check(action, subject)──▶ limits.ActionLimits
          │                    one hit_many() per action ──▶ ratelimit.RedisRateLimiter
          │                    (account, device, address)    (one Lua script, shared)
          │                                              └─▶ ratelimit.MemoryRateLimiter
          │                              keys pseudonymised by pseudonym.Pseudonymizer
          │
          ├──Sanction(...)──▶ sanctions (warn / suspend / lift, reason codes, appeal)
          ├──Verification──▶ reports (what a verified or unverifiable report says)
          ├──Purpose, TEXT_VERSIONS──▶ consents (per purpose, versioned, revocable)
          │
          └──new_entry()──▶ audit.AuditEntry ──to_document()──▶ chat_server storage
                            audit.verify_chain() ◀──from_document()── audit_log collection

- ``limits``: the one table of budgets per action (messages, panel questions, paid-chat
  starts, logins, invitations, key look-ups, uploads, typing, reports) and scope.
- ``ratelimit``: named policies (:class:`~moderation.ratelimit.RateLimit`) and limiters
  answering :class:`~moderation.ratelimit.Decision`; one atomic algorithm in Redis and
  in memory, over one bucket or several at once.
- ``sanctions``, ``reports``, ``consents``: the rules of moderators' actions, abuse
  reports and patients' consents (the server stores and enforces them; franking
  checks are ``e2e_crypto.franking``'s, which this library may not import).
- ``audit``: hash-chained, append-only audit entries; the pure half of the audit log
  (the server stores them).
- ``pseudonym``: keyed BLAKE2b pseudonyms so e-mail addresses and IPs never reach
  Redis or the audit log in clear.
- ``clock``: the time Protocol the parts accept (the server's clock fits it).

Layers (setup.cfg, ``moderation-layers``): limits | sanctions | reports | consents over
ratelimit | audit, over pseudonym, over clock.

Later: intake triage rules (red flags stop the flow with emergency numbers), GDPR
export and erasure rules, retention per thread kind.

Dependency rule: never imports ``chat_server``, ``e2e_crypto``, ``payments`` or aiohttp.
"""
