"""MongoDB access: one store per collection family, and the one index function.

Stores take an ``AsyncDatabase`` in their constructor and return plain dataclasses;
they decide nothing (that is the handlers' job) and never see plaintext.
"""
