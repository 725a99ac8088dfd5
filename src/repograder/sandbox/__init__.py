"""Sandboxes that build a group's environment and run its commands.

Backends: :mod:`.docker` (real isolation, the default), :mod:`.local` (uv venv + subprocess,
no isolation, for students without Docker) and the fake used by fast pipeline tests.
"""
