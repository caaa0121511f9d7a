"""Decisions: what may happen, given who asks. No aiohttp here; stores do the I/O."""
