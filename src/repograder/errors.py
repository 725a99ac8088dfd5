"""Errors that stop a run, and the exit codes promised in CONTRACTS.md.

Student failures (a build that fails, a five-page paper) are *data* and never raise.
Only problems of the grader or its inputs raise a :class:`RepograderError`.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    GROUP_ERRORS = 1
    USAGE = 2
    INFRASTRUCTURE = 3
    INTERRUPTED = 130


class RepograderError(Exception):
    """Base of every error that stops a run with a clear one-line message."""

    exit_code: ExitCode = ExitCode.INFRASTRUCTURE


class ConfigError(RepograderError):
    """A groups file, rubric or option is invalid; the message names file, line and key."""

    exit_code = ExitCode.USAGE


class InfrastructureError(RepograderError):
    """The machine cannot do the job: no Docker engine, full disk, unwritable output folder."""

    exit_code = ExitCode.INFRASTRUCTURE


class SandboxUnavailable(InfrastructureError):
    """The chosen sandbox backend cannot be used (e.g. no Docker engine reachable)."""


class FetchError(Exception):
    """One group's repository could not be fetched; becomes that group's ``error`` status."""


class Interrupted(RepograderError):
    exit_code = ExitCode.INTERRUPTED
