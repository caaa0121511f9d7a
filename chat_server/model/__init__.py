"""The domain model: what CareChat's objects are and which changes they allow, no I/O.

::

    machines.py   StateMachine: a transition table as data, ``transition(state, event)``
                  raising ForbiddenTransition for anything the table does not list
    threads.py    Thread, its four kinds and their machines (care, panel, paid,
                  announcement), message kinds
    queue.py      QueueItem: a panel or paid question waiting for, or held by, a GP
    passes.py     ChatPass: a paid 24-hour window and its machine
    campaigns.py  Campaign: a practice mailing and its machine

Storage maps documents to these types and handlers decide with them; presenting them
to clients is the transports' job (chat_server/presenters.py). Nothing here reads a
clock, a database or the network: times come in as arguments, so every rule is a pure
function a test can drive to its exact boundary. The import contracts in setup.cfg
keep it that way.
"""
