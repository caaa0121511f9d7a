"""Payments for paid general chats (Stripe). Not built yet: see the open issues."""
