"""``carechat demo``: a clickable CareChat on the embedded default, for a new user.

::

    command    settings (+ embedded MongoDB, from chat_server.cli) → the server in this
               process → seed → the practice's test page → print URLs and logins →
               serve until Ctrl-C (``--seed-only``: stop after printing)
    cast       who and what the demo holds: a practice, two practitioners (one with
               TOTP), three patients with recovery passphrases, their threads
    seed       makes the cast exist through the real HTTP API and the Python SDK
               (messages are sealed end to end); idempotent: what exists is reused
    keyring    the demo accounts' SDK keystores in <data_dir>/demo (0600), so a
               re-run reuses its devices instead of adding one each time
    outbox     e-mail goes both to <data_dir>/outbox (for people signing up in the
               browser) and to memory (for the seeder's own verification links)
    site       a practice's web page on another port, embedding the widget with the
               documented snippet

It lives outside ``chat_server`` because it drives the SDK, which decrypts: the
server never imports it (``carechat`` finds it by entry point, as ``bench``).
"""
