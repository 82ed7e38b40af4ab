"""Errors that name what is wrong with which input.

Data problems are never papered over (the authors' code turned unreadable ECGs into all-zero
signals with negative labels); they raise one of these, naming the record and the problem.
"""

from __future__ import annotations


class EcglibError(Exception):
    """Base class of every error ecglib raises on purpose."""


class ConfigError(EcglibError, ValueError):
    """A params file is malformed: unknown, missing or ill-typed keys."""


class DataError(EcglibError, ValueError):
    """A problem in one input record; ``record`` names it, ``problem`` says what is wrong."""

    def __init__(self, record: str, problem: str):
        self.record = str(record)
        self.problem = problem
        super().__init__(f"{self.record}: {problem}")


class SignalError(DataError):
    """An ECG file cannot be read or fails a signal check."""


class CheckpointError(EcglibError, RuntimeError):
    """A checkpoint does not match the model: lists missing, unexpected and mis-shaped keys."""


class MissingInputError(EcglibError, ValueError):
    """A chapter's input is absent from the cohort (e.g. no symptom column, no follow-up).

    ``reason`` is a sentence fragment that completes "this chapter is skipped because ...".
    """

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)
