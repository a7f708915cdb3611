"""What one check found: the outcome the service logs and counts, and ``watcher check`` sums up."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CheckOutcome:
    source: str
    outcome: str  # not_modified | unchanged | changed | baseline | suspect | error | skipped
    status: int | None = None
    ms: int = 0
    bytes: int = 0
    events: list[str] = field(default_factory=list)
    error: str | None = None
    warnings: tuple[str, ...] = ()
    """The codes of the parser's warnings about a body this check parsed and recorded (none for a 304, or for a body
    whose content is already stored: its warnings were counted when it was first recorded)."""
    derived: tuple[CheckOutcome, ...] = ()
    """The checks of the reference pages this page links to (its derived sources), in the order they ran."""

    def checks(self) -> list[CheckOutcome]:
        """This check, then the derived ones: one log line each."""
        return [self, *self.derived]
