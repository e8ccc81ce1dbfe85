"""Replying: composing in the brand voice, saved drafts, suggestions and the outbox."""
