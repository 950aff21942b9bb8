"""Filters on record passages: patient, note kinds, sections and an authored date range.

Dates compare by calendar day (``YYYY-MM-DD``), both bounds inclusive; a passage whose note has no
authored date is excluded as soon as a bound is given.  Kinds and sections compare case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from carelm.core.errors import InputError


@dataclass(frozen=True, slots=True)
class PassageFilter:
    """Which record passages a search may return; every field left empty allows everything."""

    patient: str | None = None
    kinds: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None

    @classmethod
    def of(cls, patient: str | None = None, kinds: list[str] | None = None, sections: list[str] | None = None,
           date_from: date | datetime | str | None = None, date_to: date | datetime | str | None = None
           ) -> PassageFilter:
        made = cls(patient or None, tuple(k.lower() for k in kinds or () if k),
                   tuple(s.lower() for s in sections or () if s),
                   day(date_from, "date_from"), day(date_to, "date_to"))
        if made.date_from and made.date_to and made.date_from > made.date_to:
            raise InputError(f"date_from {made.date_from} is after date_to {made.date_to}", location="date_from")
        return made

    @property
    def active(self) -> bool:
        return bool(self.patient or self.kinds or self.sections or self.date_from or self.date_to)

    def mask(self, column) -> np.ndarray | None:
        """Allowed rows as a boolean array (None when nothing is filtered); ``column(name)`` gives a metadata
        field of every row."""
        if not self.active:
            return None
        allowed = np.ones(len(column("note_id")), bool)
        if self.patient:
            allowed &= np.array([value == self.patient for value in column("patient_id")], bool)
        if self.kinds:
            allowed &= _lower_in(column("kind"), self.kinds)
        if self.sections:
            allowed &= _lower_in(column("section"), self.sections)
        if self.date_from or self.date_to:
            allowed &= np.array([self._in_range((value or "")[:10]) for value in column("authored_at")], bool)
        return allowed

    def _in_range(self, day_text: str) -> bool:
        return bool(day_text) and (not self.date_from or day_text >= self.date_from) and (
            not self.date_to or day_text <= self.date_to)


def _lower_in(values: np.ndarray, accepted: tuple[str, ...]) -> np.ndarray:
    return np.array([isinstance(v, str) and v.lower() in accepted for v in values], dtype=bool)


def day(value: date | datetime | str | None, field: str) -> str | None:
    """``value`` as ``YYYY-MM-DD``; a string must be an ISO date or date-time."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip()).date().isoformat()
        except ValueError:
            pass
    raise InputError(f"{field} must be an ISO date (YYYY-MM-DD) or date-time, got {value!r}", location=field)
