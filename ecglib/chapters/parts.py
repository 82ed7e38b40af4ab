"""A chapter part that cannot be computed is a value that says why.

A part whose input the cohort lacks (no external site, no follow-up, no symptoms, a vessel not
assessed) raises :class:`ecglib.errors.MissingInputError` inside a chapter's analysis;
:func:`attempt` turns exactly that error into a :class:`Skipped` value, and a later step given a
:class:`Skipped` input returns it unchanged (:func:`unless_skipped`), so a chain of dependent
parts reports its first missing input once. Every other error propagates. The chapter's result
object holds these values in its fields; :func:`skipped_markdown` renders them, once, for the
page (:meth:`ecglib.chapters.page.Page.publish`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ecglib.errors import MissingInputError

__all__ = [
    "Skipped",
    "attempt",
    "skipped_of",
    "unless_skipped",
    "skipped_parts",
    "skipped_markdown",
    "skip_message",
]


@dataclass(frozen=True)
class Skipped:
    """A chapter part that cannot be computed, and why; falsy, and displays its message."""

    part: str
    reason: str

    @property
    def message(self) -> str:
        return f"{self.part} is skipped because {self.reason}."

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return self.message

    def _repr_markdown_(self) -> str:
        return f"> **Skipped.** {self.message}"


def skip_message(error: MissingInputError, part: str = "This chapter") -> str:
    """``"<part> is skipped because <reason>."`` for a :class:`MissingInputError`."""
    return Skipped(part, error.reason).message


def attempt(part: str, func: Callable[..., Any], *args, **kwargs) -> Any:
    """``func(*args, **kwargs)``, or a :class:`Skipped` for ``part`` when its input is missing.

    Only :class:`MissingInputError` becomes a skip; any other error propagates. When an argument
    is already :class:`Skipped` (an earlier part it depends on), ``func`` is not called and that
    skip is returned, so a chain of dependent parts reports the first missing input once.
    """
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, Skipped):
            return arg
    try:
        return func(*args, **kwargs)
    except MissingInputError as error:
        return Skipped(part, error.reason)


def unless_skipped(func: Callable[..., Any], *args, **kwargs) -> Any:
    """``func(*args, **kwargs)``, unless an argument is :class:`Skipped` (a part this one
    depends on could not be computed): then that skip is returned and ``func`` is not called.
    Errors propagate (use :func:`attempt` where this part's own input may be missing)."""
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, Skipped):
            return arg
    return func(*args, **kwargs)


def skipped_parts(reasons: Mapping[str, str], template: str = "{}") -> list[Skipped]:
    """A :class:`Skipped` per entry of a mapping name -> reason, the part named by ``template``
    (e.g. ``"The {} strata"``)."""
    return [Skipped(template.format(name), reason) for name, reason in reasons.items()]


def skipped_markdown(
    parts: Mapping[str, str] | Iterable[Any], names: Mapping[str, str] | None = None
):
    """Skipped parts as one Markdown block (None, displaying nothing, when nothing is skipped).

    ``parts`` is a mapping part -> reason, or
    values of which the :class:`Skipped` ones are listed (others are ignored). ``names``
    renames parts, e.g. ``{"external": "External validation"}``.
    """
    from IPython.display import Markdown

    names = names or {}
    if isinstance(parts, Mapping):
        items = [Skipped(names.get(k, k), reason) for k, reason in parts.items()]
    else:
        items = [s for s in parts if isinstance(s, Skipped)]
    if not items:
        return None
    return Markdown("\n\n".join(f"> **Skipped.** {s.message}" for s in items))


def skipped_of(values: Iterable[Any]) -> list[Skipped]:
    """The :class:`Skipped` values among ``values``, in order (for a result's ``skipped()``)."""
    return [v for v in values if isinstance(v, Skipped)]
