"""Shift dates written in clinical text by a fixed number of days, keeping the way they are written.

``shift_date(text, offset_days)`` parses the common forms (``3/14/2023``, ``3/14/23``, ``3/14``,
``2023-03-14``, ``20230314``, ``03/2023``, ``March 14, 2023``, ``Mar 14``, ``14-Mar-2023``,
``Mar 3rd``, ``3rd of March``, ``March 2023``, ``Mar '23``, ``2015``, ``the 5th``, weekday names,
trailing times) and writes the shifted date back in the same form: zero padding, separators,
full or abbreviated month and weekday names, ordinal suffixes and letter case are kept.

What is shifted depends on what the text gives:

* a full date moves by ``offset_days``;
* a month and day without a year move as if in the leap year 2000;
* a month and year (or a month alone) move by ``round(offset_days / 30.436875)`` months, at least one;
* a year alone moves by ``round(offset_days / 365.25)`` years, at least one;
* a day alone moves within a 28-day cycle (best effort);
* a weekday moves by ``offset_days`` modulo 7.

If the shifted text equals the original (a month-day shifted by exactly 366 days, a month by twelve,
a weekday by a multiple of 7), the offset is lengthened (by a day, or a month) until it differs.  Text that cannot
be parsed gives ``None``; callers then use ``fallback_date``.  Two-digit years below 50 are read
as 20xx, others as 19xx; the century only matters for leap days.
"""

from __future__ import annotations

import random
import re
from datetime import date, timedelta

__all__ = ["fallback_date", "shift_date"]

_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December")
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = {**{n.casefold(): i for i, n in enumerate(_MONTH_NAMES, 1)},
           **{n[:3].casefold(): i for i, n in enumerate(_MONTH_NAMES, 1)}, "sept": 9}
_WEEKDAYS = {**{n.casefold(): i for i, n in enumerate(_WEEKDAY_NAMES)},
             **{n[:3].casefold(): i for i, n in enumerate(_WEEKDAY_NAMES)},
             "tues": 1, "weds": 2, "thur": 3, "thurs": 3}
_FULL_NAMES = frozenset(n.casefold() for n in _MONTH_NAMES + _WEEKDAY_NAMES)
_FILLERS = frozenset({"of", "the", "on", "in", "at", "t"})
_TOKEN = re.compile(
    r"(?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s?[AaPp]\.?[Mm]\.?)?)"
    r"|(?P<ord>\d{1,2}(?i:st|nd|rd|th))(?![A-Za-z])"
    r"|(?P<num>\d+)"
    r"|(?P<word>[A-Za-z]+)"
    r"|(?P<other>\s+|.)",
    re.S,
)

Piece = list[str]  # [role, original text]; roles: lit, num, Y4, Y2, M, D, DO, MN, WD, YMD8


def _whole(offset_days: int, unit_days: float) -> int:
    """Whole months or years a date without a day moves by: the rounded offset, never zero."""
    units = round(offset_days / unit_days)
    return units if units else (-1 if offset_days < 0 else 1)


def fallback_date(rng: random.Random) -> str:
    """A plausible M/D date for text that could not be parsed."""
    return f"{rng.randint(1, 12)}/{rng.randint(1, 28)}"


def shift_date(text: str, offset_days: int) -> str | None:
    """Shift the date in ``text`` by ``offset_days`` in its own format, or ``None`` if not understood."""
    parsed = _parse(text)
    if parsed is None:
        return None
    pieces, fields = parsed
    unit = 31 if "m" in fields and "d" not in fields else 1
    for extra in range(8):
        step = offset_days + extra * unit * (-1 if offset_days < 0 else 1)
        new = _shift(fields, step)
        if new is None:
            return None
        rendered = [_render(p, new, step, pieces) for p in pieces]
        if _changed(pieces, rendered):
            return "".join(rendered)
    return None


def _changed(pieces: list[Piece], rendered: list[str]) -> bool:
    """True when the date itself (the weekday only when there is nothing else) was rewritten."""
    roles = {"WD"} if all(p[0] in ("lit", "WD") for p in pieces) else {"Y4", "Y2", "M", "D", "DO", "MN", "YMD8"}
    return any(p[0] in roles and p[1].casefold() != r.casefold() for p, r in zip(pieces, rendered, strict=True))


def _tokenize(text: str) -> list[Piece] | None:
    pieces: list[Piece] = []
    for m in _TOKEN.finditer(text):
        kind, tok = m.lastgroup, m.group()
        if kind == "word":
            low = tok.casefold()
            role = "MN" if low in _MONTHS else "WD" if low in _WEEKDAYS else "lit" if low in _FILLERS else ""
            if not role:
                return None
        else:
            role = {"ord": "DO", "num": "num"}.get(kind or "", "lit")
        pieces.append([role, tok])
    return pieces


def _parse(text: str) -> tuple[list[Piece], dict[str, int]] | None:
    pieces = _tokenize(text)
    if not pieces:
        return None
    nums = [p for p in pieces if p[0] in ("num", "DO")]
    names = [p for p in pieces if p[0] == "MN"]
    if len(names) > 1 or len([p for p in pieces if p[0] == "WD"]) > 1:
        return None
    ok = _assign_named(pieces) if names else _assign_numeric(nums)
    if not ok or not any(p[0] != "lit" for p in pieces):
        return None
    fields = _fields(pieces)
    return (pieces, fields) if fields is not None else None


def _assign_named(pieces: list[Piece]) -> bool:
    seen: set[str] = set()
    for i, p in enumerate(pieces):
        if p[0] not in ("num", "DO"):
            continue
        after_apostrophe = i > 0 and pieces[i - 1][1] in ("'", "\u2019")
        if p[0] == "DO":
            role = "DO"
        elif len(p[1]) == 4:
            role = "Y4"
        elif len(p[1]) == 2 and (after_apostrophe or "D" in seen):
            role = "Y2"
        elif len(p[1]) <= 2:
            role = "D"
        else:
            return False
        key = {"DO": "D", "Y4": "Y", "Y2": "Y"}.get(role, role)
        if key in seen:
            return False
        seen.add(key)
        p[0] = role
    return True


def _assign_numeric(nums: list[Piece]) -> bool:
    lengths = [len(p[1]) for p in nums]
    if not nums:
        return True
    if any(p[0] == "DO" for p in nums):
        return len(nums) == 1
    if lengths in ([4], [8]):
        roles = ["Y4"] if lengths == [4] else ["YMD8"]
    elif len(nums) in (2, 3) and lengths[0] == 4:
        roles = ["Y4", "M", "D"][: len(nums)]
    elif len(nums) == 2 and lengths[1] == 4 and lengths[0] <= 2:
        roles = ["M", "Y4"]
    elif len(nums) in (2, 3) and max(lengths[:2]) <= 2:
        day_first = int(nums[0][1]) > 12 >= int(nums[1][1])
        roles = ["D", "M"] if day_first else ["M", "D"]
        if len(nums) == 3:
            if lengths[2] not in (2, 4):
                return False
            roles.append("Y4" if lengths[2] == 4 else "Y2")
    else:
        return False
    for p, role in zip(nums, roles, strict=True):
        p[0] = role
    return True


def _fields(pieces: list[Piece]) -> dict[str, int] | None:
    fields: dict[str, int] = {}
    for role, tok in pieces:
        if role == "Y4":
            fields["y"] = int(tok)
        elif role == "Y2":
            fields["y"] = int(tok) + (2000 if int(tok) < 50 else 1900)
        elif role == "M":
            fields["m"] = int(tok)
        elif role == "MN":
            fields["m"] = _MONTHS[tok.casefold()]
        elif role in ("D", "DO"):
            fields["d"] = int(tok[:-2] if role == "DO" else tok)
        elif role == "YMD8":
            fields.update(y=int(tok[:4]), m=int(tok[4:6]), d=int(tok[6:]))
    in_range = 1 <= fields.get("m", 1) <= 12 and 1 <= fields.get("d", 1) <= 31 and 1000 <= fields.get("y", 2000) < 3000
    if not in_range or ("y" in fields and "d" in fields and "m" not in fields):
        return None
    try:
        date(fields.get("y", 2000), fields.get("m", 1), fields.get("d", 1))
    except ValueError:
        return None
    return fields


def _shift(fields: dict[str, int], offset: int) -> dict[str, int] | None:
    y, m, d = fields.get("y"), fields.get("m"), fields.get("d")
    if m is not None and d is None:
        months = (y or 2000) * 12 + m - 1 + _whole(offset, 30.436875)
        return {"y": months // 12, "m": months % 12 + 1} if y is not None else {"m": months % 12 + 1}
    if m is not None:
        moved = date(y or 2000, m, d) + timedelta(days=offset)
        new = {"y": moved.year, "m": moved.month, "d": moved.day}
        return {k: v for k, v in new.items() if k in fields}
    if y is not None:
        return {"y": y + _whole(offset, 365.25)}
    if d is not None:
        return {"d": (d - 1 + offset) % 28 + 1}
    return {}


def _render(piece: Piece, new: dict[str, int], offset: int, pieces: list[Piece]) -> str:
    role, tok = piece
    if role == "Y4":
        return f"{new['y']:04d}"
    if role == "Y2":
        return f"{new['y'] % 100:02d}"
    if role == "YMD8":
        return f"{new['y']:04d}{new['m']:02d}{new['d']:02d}"
    if role in ("M", "D"):
        value = new["m" if role == "M" else "d"]
        return f"{value:02d}" if _padded(tok, pieces) else str(value)
    if role == "DO":
        return f"{new['d']}{_case_like(tok[-2:], _ordinal_suffix(new['d']))}"
    if role == "MN":
        return _name_like(tok, _MONTH_NAMES[new["m"] - 1], "sept")
    if role == "WD":
        return _name_like(tok, _WEEKDAY_NAMES[(_WEEKDAYS[tok.casefold()] + offset) % 7], "tues")
    return tok


def _padded(tok: str, pieces: list[Piece]) -> bool:
    if tok.startswith("0"):
        return True
    year_first = next((p[0] for p in pieces if p[0] in ("Y4", "M", "D")), "") == "Y4"
    siblings_padded = any(p[0] in ("M", "D") and p[1].startswith("0") for p in pieces)
    return len(tok) == 2 and (year_first or siblings_padded)


def _name_like(tok: str, full: str, four_letter: str) -> str:
    low = tok.casefold()
    if low in _FULL_NAMES:
        new = full
    elif len(low) == 4 and full.casefold().startswith(four_letter):
        new = full[:4]
    else:
        new = full[:3]
    return _case_like(tok, new)


def _case_like(src: str, new: str) -> str:
    if src.isupper():
        return new.upper()
    if src.islower():
        return new.lower()
    return new


def _ordinal_suffix(day: int) -> str:
    if 11 <= day % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
