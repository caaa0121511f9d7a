"""MongoDB access: one store per collection family, and the one index function.

Stores take an ``AsyncDatabase`` in their constructor and return model types
(``chat_server.model``) or plain records; they import neither aiohttp nor the app keys;
they decide nothing (that is the handlers' job) and never see plaintext.
"""
