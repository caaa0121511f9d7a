"""CareChat's server: the only package that knows HTTP, WebSocket and aiohttp.

::

    clients ──HTTP──► rest/   (parse, validate, translate errors)  ─┐
            ──WS────► ws/     (handshake, frames, per-socket queue) ─┤
                                                                     ▼
                      presenters (wire shapes both transports share)  │
                      handlers: accounts, threads, panel, mailings (decide; no aiohttp)
                                                                     │
                      storage/ (one store per collection family) ◄───┤
                      fanout   (Redis pub/sub or in-process)     ◄───┘
                      model/   (kinds, state machines, rules; no I/O; used by all)
                                 ▲
    app.create_app ── the one composition root: settings, clock, clients, contexts
                      (resources.py opens the clients; appkeys.py names the state)

The arrows are import-linter contracts (setup.cfg, ``make check``).

The server stores and routes ciphertext. It imports only the structural half of
``e2e_crypto`` (parsing, public-key checks) and never holds a private key.
"""
