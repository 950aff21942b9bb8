"""Consistent, realistic surrogates for PHI: one ``SurrogateMaker`` per patient.

Every choice is drawn from a ``random.Random`` seeded with HMAC-SHA256(seed, kind + normalised value),
so the same real value gets the same surrogate in every note of the patient and in every process,
and another seed gives other surrogates.  Names are replaced part by part (first names, surnames and
initials separately, case-folded), keeping titles, suffixes, punctuation, order and letter case.
Dates move by one per-patient offset (see ``carelm.deid.dateshift``), so intervals are kept.
A drawn value equal to the original is drawn again.  Ages over 89 become ``90+`` with the rest of the
text kept (``92 yo`` -> ``90+ yo``); younger ages are not Safe Harbor PHI and are returned unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import string
import threading
from collections.abc import Callable
from typing import Any

import faker
from faker.providers.address.en_US import Provider as _Address
from faker.providers.person.en_US import Provider as _Person

from carelm.core.errors import InputError
from carelm.deid.base import PHI_TYPES
from carelm.deid.dateshift import fallback_date, shift_date

__all__ = ["SurrogateMaker"]

_FIRST, _LAST = tuple(_Person.first_names), tuple(_Person.last_names)
_FEMALE, _MALE = tuple(_Person.first_names_female), tuple(_Person.first_names_male)
_FEMALE_SET, _MALE_SET = frozenset(n.casefold() for n in _FEMALE), frozenset(n.casefold() for n in _MALE)
_FIRST_SET = frozenset(n.casefold() for n in _FIRST)
_KNOWN_NAMES = _FIRST_SET | frozenset(n.casefold() for n in _LAST)
_TITLES = frozenset({"dr", "mr", "mrs", "ms", "miss", "mx", "prof", "doctor", "rev", "sir", "nurse"})
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "md", "do", "phd", "rn", "np", "pa", "dds", "dmd", "lpn",
                       "crna", "mph", "esq", "pharmd"})
_INSTITUTION = frozenset({"hospital", "medical", "center", "centre", "clinic", "clinics", "health", "healthcare",
                          "system", "general", "memorial", "regional", "community", "university", "children's",
                          "rehabilitation", "infirmary", "institute", "hospice", "nursing", "home", "care",
                          "surgical", "cancer", "heart", "of", "and", "the"})
_HOSPITAL_NOUNS = frozenset({"hospital", "clinic", "center", "centre", "infirmary", "institute", "hospice"})
_PART = r"[^\W\d_]+(?:['\u2019][^\W\d_]{2,})*"
_WORD = re.compile(rf"{_PART}(?:-{_PART})*")
_AGE_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_TEST_NETS = ("192.0.2", "198.51.100", "203.0.113")
_OFFSET_RANGE = (-1095, -30)
_ATTEMPTS = 32
_VERSION = 1
_HANDLERS = {"NAME": "_name", "DATE": "_date", "AGE": "_age", "EMAIL": "_email", "URL": "_url",
             "ADDRESS": "_address", "CITY": "_city", "LOCATION": "_city", "STATE": "_state",
             "HOSPITAL": "_hospital", "IP": "_ip", "PHONE": "_phone", "FAX": "_phone"}

Pick = Callable[[random.Random], str]
_FAKERS = threading.local()


class SurrogateMaker:
    """Makes surrogates for one patient, deterministically from ``seed``.

    ``date_offset_days`` (never 0) defaults to a value derived from the seed in [-1095, -30].
    """

    def __init__(self, seed: bytes, *, date_offset_days: int | None = None):
        if not isinstance(seed, bytes | bytearray) or not seed:
            raise ValueError("seed must be non-empty bytes")
        self._seed = bytes(seed)
        if date_offset_days is None:
            low, high = _OFFSET_RANGE
            date_offset_days = low + int.from_bytes(self._digest("DATE_OFFSET"), "big") % (high - low + 1)
        if isinstance(date_offset_days, bool) or not isinstance(date_offset_days, int) or date_offset_days == 0:
            raise ValueError("date_offset_days must be a non-zero integer")
        self.date_offset_days = date_offset_days
        self._made: dict[tuple[str, str], str] = {}
        self._parts: dict[tuple[str, str], str] = {}

    def surrogate(self, phi_type: str, original: str) -> str:
        """The surrogate for ``original`` of ``phi_type`` (one of ``PHI_TYPES``), the same every time."""
        if phi_type not in PHI_TYPES:
            raise InputError(f"unknown PHI type; accepted: {', '.join(PHI_TYPES)}")
        key = (phi_type, original)
        if key not in self._made:
            core = original.strip()
            if not core:
                return original
            handler = _HANDLERS.get(phi_type)
            made = getattr(self, handler)(core) if handler else self._shaped(phi_type, core)
            lead = original[: len(original) - len(original.lstrip())]
            self._made[key] = lead + made + original[len(lead) + len(core):]
        return self._made[key]

    def mapping(self) -> dict[str, Any]:
        """Every surrogate made so far, its name parts and the date offset, as JSON-ready data."""
        return {
            "version": _VERSION,
            "date_offset_days": self.date_offset_days,
            "surrogates": [{"type": t, "original": o, "surrogate": s} for (t, o), s in self._made.items()],
            "parts": [{"kind": k, "value": v, "surrogate": s} for (k, v), s in self._parts.items()],
        }

    @classmethod
    def from_mapping(cls, seed: bytes, data: dict[str, Any]) -> SurrogateMaker:
        """A maker that continues from ``mapping()`` output, giving the same surrogates as before."""
        if not isinstance(data, dict) or data.get("version") != _VERSION:
            raise InputError("surrogate mapping has an unsupported version", location="version")
        offset = data.get("date_offset_days")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset == 0:
            raise InputError("surrogate mapping has no valid date offset", location="date_offset_days")
        maker = cls(seed, date_offset_days=offset)
        maker._made = _read_entries(data, "surrogates", ("type", "original", "surrogate"))
        maker._parts = _read_entries(data, "parts", ("kind", "value", "surrogate"))
        if any(t not in PHI_TYPES for t, _ in maker._made):
            raise InputError("surrogate mapping names an unknown PHI type", location="surrogates")
        return maker

    def _digest(self, *parts: str) -> bytes:
        return hmac.new(self._seed, "\x1f".join(parts).encode("utf-8"), hashlib.sha256).digest()

    def _draw(self, kind: str, norm: str, pick: Pick, original: str) -> str:
        value = original
        for attempt in range(_ATTEMPTS):
            value = pick(random.Random(int.from_bytes(self._digest(kind, norm, str(attempt)), "big")))
            if value.casefold() != original.casefold():
                break
        return value

    def _part(self, kind: str, norm: str, pick: Pick) -> str:
        key = (kind, norm)
        if key not in self._parts:
            self._parts[key] = self._draw(kind, norm, pick, norm)
        return self._parts[key]

    @staticmethod
    def _fake(rng: random.Random) -> faker.Faker:
        """This thread's Faker, seeded from ``rng``: making one takes milliseconds, so every maker shares it, and
        once seeded what it draws depends on the seed alone."""
        fake = getattr(_FAKERS, "faker", None)
        if fake is None:
            fake = _FAKERS.faker = faker.Faker("en_US")
        fake.seed_instance(rng.getrandbits(64))
        return fake

    def _name(self, text: str) -> str:
        words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
        if not words:
            return self._name_word(text, "last")
        roles = _name_roles(text, words)
        named = [w for (_, _, w), r in zip(words, roles, strict=True) if r != "keep"]
        if roles.count("initial") >= 2 and len(named) == roles.count("initial"):
            letters = iter(self._initials("".join(named)))
            new = [next(letters) if r == "initial" else w for (_, _, w), r in zip(words, roles, strict=True)]
        elif "initials" in roles:
            new = [self._initials(w) if r == "initials" else w for (_, _, w), r in zip(words, roles, strict=True)]
        else:
            new = [self._name_word(w, r) for (_, _, w), r in zip(words, roles, strict=True)]
            self._remember_initials(words, roles, new)
        out, pos = [], 0
        for (start, end, word), replacement in zip(words, new, strict=True):
            out += [text[pos:start], _case_like(word, replacement)]
            pos = end
        return "".join(out) + text[pos:]

    def _name_word(self, word: str, role: str) -> str:
        if "-" in word and role in ("first", "last"):
            return "-".join(_case_like(part, self._name_word(part, role)) for part in word.split("-"))
        low = word.casefold().replace("\u2019", "'")
        if role == "initial":
            return self._part("NAME_INITIAL", low, lambda rng: rng.choice(string.ascii_uppercase))
        if role == "first":
            pool = _FEMALE if low in _FEMALE_SET - _MALE_SET else _MALE if low in _MALE_SET - _FEMALE_SET else _FIRST
            return self._part("NAME_FIRST", low, lambda rng: rng.choice(pool))
        if role == "last":
            return self._part("NAME_LAST", low, lambda rng: rng.choice(_LAST))
        return word

    def _initials(self, letters: str) -> str:
        return self._part("NAME_INITIALS", letters.casefold(),
                          lambda rng: "".join(rng.choice(string.ascii_lowercase) for _ in letters))

    def _remember_initials(self, words: list[tuple[int, int, str]], roles: list[str], new: list[str]) -> None:
        firsts = [i for i, r in enumerate(roles) if r == "first"]
        lasts = [i for i, r in enumerate(roles) if r == "last"]
        if firsts and lasts:
            real = (words[firsts[0]][2][0] + words[lasts[-1]][2][0]).casefold()
            made = (new[firsts[0]][0] + new[lasts[-1]][0]).casefold()
            if made != real:
                self._parts.setdefault(("NAME_INITIALS", real), made)

    def _date(self, text: str) -> str:
        shifted = shift_date(text, self.date_offset_days)
        return shifted if shifted is not None else self._draw("DATE", _norm(text), fallback_date, text)

    def _age(self, text: str) -> str:
        match = _AGE_NUMBER.search(text)
        if match is None:
            return "90+"
        unit = text[match.end():].casefold()
        per_year = 12 if re.search(r"\bmo|month", unit) else 52 if re.search(r"wk|week", unit) else 1
        if float(match.group()) / per_year <= 89:
            return text
        return text[: match.start()] + "90+" + text[match.end():]

    def _email(self, text: str) -> str:
        return self._draw("EMAIL", _norm(text), lambda rng: self._fake(rng).safe_email(), text)

    def _url(self, text: str) -> str:
        low = text.casefold()
        prefix = "https://" if low.startswith("http") else "www." if low.startswith("www.") else ""
        return self._draw("URL", _norm(text), lambda rng: f"{prefix}example.org/{rng.getrandbits(32):08x}", text)

    def _address(self, text: str) -> str:
        def pick(rng: random.Random) -> str:
            fake = self._fake(rng)
            parts = [fake.street_address(), fake.city(), f"{fake.state_abbr()} {fake.zipcode()}"]
            return ", ".join(parts[: min(text.count(","), 2) + 1])

        return _case_like(text, self._draw("ADDRESS", _norm(text), pick, text))

    def _city(self, text: str) -> str:
        return _case_like(text, self._draw("CITY", _norm(text), lambda rng: self._fake(rng).city(), text))

    def _state(self, text: str) -> str:
        abbreviated = len(text) <= 3 or text.endswith(".")
        pool = _Address.states_abbr if abbreviated else _Address.states
        return _case_like(text, self._draw("STATE", _norm(text), lambda rng: rng.choice(pool), text))

    def _hospital(self, text: str) -> str:
        words = text.split()
        if len(words) == 1 and text.isupper() and len(text) <= 6:
            return self._shaped("HOSPITAL", text)
        keep = len(words)
        while keep > 0 and words[keep - 1].casefold().strip(",.") in _INSTITUTION:
            keep -= 1
        nouns = [w.strip(",.") for w in words if w.casefold().strip(",.") in _HOSPITAL_NOUNS]
        suffix = " ".join(words[keep:]) or (nouns[0] if nouns else "Medical Center")

        def pick(rng: random.Random) -> str:
            return f"{rng.choice(_LAST) if rng.random() < 0.6 else self._fake(rng).city()} {suffix}"

        return _case_like(text, self._draw("HOSPITAL", _norm(text), pick, text))

    def _ip(self, text: str) -> str:
        if ":" in text:
            return self._draw("IP", _norm(text), lambda rng: f"2001:db8::{rng.randint(1, 0xFFFF):x}", text)
        return self._draw("IP", _norm(text), lambda rng: f"{rng.choice(_TEST_NETS)}.{rng.randint(1, 254)}", text)

    def _phone(self, text: str) -> str:
        digits = "".join(ch for ch in text if ch.isdigit())

        def pick(rng: random.Random) -> str:
            new = [str(rng.randrange(10)) for _ in digits]
            start = 1 if len(digits) == 11 and digits[0] == "1" else 0
            if start:
                new[0] = "1"
            if len(digits) - start >= 10:
                new[start], new[start + 3] = str(rng.randint(2, 9)), str(rng.randint(2, 9))
            return _fill(text, iter(new), rng, letters=False)

        return self._draw("PHONE", digits, pick, text) if digits else self._shaped("PHONE", text)

    def _shaped(self, phi_type: str, text: str) -> str:
        norm = "".join(ch for ch in text.casefold() if ch.isalnum())

        def pick(rng: random.Random) -> str:
            if not norm:
                return "".join(str(rng.randrange(10)) for _ in text)
            digits = [str(rng.randrange(10)) for ch in text if ch.isdigit()]
            if phi_type == "SSN" and len(digits) == 9:
                digits[0] = "9"
            return _fill(text, iter(digits), rng)

        return self._draw(phi_type, norm, pick, text)


def _name_roles(text: str, words: list[tuple[int, int, str]]) -> list[str]:
    """Role of each word of a name: keep (titles, suffixes), initial, initials, first or last."""
    roles: list[str] = []
    for _, _, word in words:
        low, named = word.casefold(), any(r != "keep" for r in roles)
        if low in (_SUFFIXES if named else _TITLES):
            roles.append("keep")
        else:
            roles.append("initial" if len(word) == 1 else "name")
    names = [i for i, r in enumerate(roles) if r == "name"]
    if len(names) == 1:
        roles[names[0]] = _single_name_role(text, words, roles, names[0])
    elif names:
        surname = names[0] if "," in text[words[names[0]][1]: words[names[1]][0]] else names[-1]
        for i in names:
            roles[i] = "last" if i == surname else "first"
    return roles


def _single_name_role(text: str, words: list[tuple[int, int, str]], roles: list[str], i: int) -> str:
    word = words[i][2]
    if len(roles) == 1 and 2 <= len(word) <= 3 and word.isupper() and word.casefold() not in _KNOWN_NAMES:
        return "initials"
    if "keep" in roles[:i]:
        return "last"
    initials = [j for j, r in enumerate(roles) if r == "initial"]
    if initials:
        after = initials[0] > i and "," not in text[words[i][1]: words[initials[0]][0]]
        return "first" if after else "last"
    return "first" if word.split("-")[0].casefold() in _FIRST_SET else "last"


def _fill(template: str, digits: Any, rng: random.Random, *, letters: bool = True) -> str:
    """``template`` with each digit taken from ``digits`` and (if ``letters``) each letter redrawn in its case."""
    out = []
    for ch in template:
        if ch.isdigit():
            out.append(next(digits))
        elif letters and ch.isalpha():
            letter = rng.choice(string.ascii_uppercase)
            out.append(letter if ch.isupper() else letter.lower())
        else:
            out.append(ch)
    return "".join(out)


def _read_entries(data: dict[str, Any], field: str, names: tuple[str, str, str]) -> dict[tuple[str, str], str]:
    entries = data.get(field, [])
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and all(isinstance(e.get(n), str) for n in names) for e in entries
    ):
        raise InputError("surrogate mapping entries are malformed", location=field)
    return {(e[names[0]], e[names[1]]): e[names[2]] for e in entries}


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _case_like(src: str, new: str) -> str:
    """``new`` in the case of ``src``: all capitals, all lower case, or as drawn."""
    letters = [ch for ch in src if ch.isalpha()]
    if letters and all(ch.isupper() for ch in letters):
        return new.upper()
    if letters and all(ch.islower() for ch in letters):
        return new.lower()
    return new
