"""Synthetic identities (patients, relatives, clinicians) and the PHI formats they are written in."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from faker import Faker

from .places import CITIES, DEVICES, MONTHS, PAYERS, RELATIONS, STREET_TYPES, STREETS

_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


@dataclass(frozen=True)
class Person:
    """A named person."""

    first: str
    last: str
    sex: str

    @property
    def full(self) -> str:
        """First and last name."""
        return f"{self.first} {self.last}"


@dataclass(frozen=True)
class Clinician:
    """A clinician with a credential (MD, DO, NP, PA, RN) and a licence number."""

    person: Person
    credential: str
    license: str


@dataclass(frozen=True)
class Relative:
    """A patient's contact person."""

    relation: str
    person: Person
    phone: str


@dataclass(frozen=True)
class Patient:
    """A synthetic patient and every identifier notes may mention."""

    pid: str
    person: Person
    birth_date: date
    street: str
    city: str
    state: str
    zip: str
    phone: str
    email: str
    ssn: str
    mrn: str
    payer: str
    plan_id: str
    driver_license: str
    plate: str
    vin: str
    device: tuple[str, str]
    contact: Relative
    pcp: Clinician


class IdentityFactory:
    """Draws names from a seeded Faker and identifiers from a seeded ``random.Random``."""

    def __init__(self, rng: random.Random, fake: Faker) -> None:
        self.rng = rng
        self.fake = fake

    def digits(self, n: int) -> str:
        """Return ``n`` random decimal digits."""
        return "".join(self.rng.choice("0123456789") for _ in range(n))

    def letters(self, n: int) -> str:
        """Return ``n`` random capital letters."""
        return "".join(self.rng.choice(_LETTERS) for _ in range(n))

    def person(self, sex: str) -> Person:
        """Return a person of the given sex with a Faker first and last name."""
        first = self.fake.first_name_female() if sex == "female" else self.fake.first_name_male()
        return Person(first, self.fake.last_name(), sex)

    def phone(self) -> str:
        """Return ten phone digits with a plausible area code and exchange."""
        return f"{self.rng.randint(201, 989)}{self.rng.randint(201, 989)}{self.digits(4)}"

    def clinician(self, credential: str) -> Clinician:
        """Return a clinician with a state licence number."""
        person = self.person(self.rng.choice(("female", "male")))
        prefix = "RN" if credential == "RN" else self.rng.choice(("MD", "G", "A"))
        return Clinician(person, credential, f"{prefix}{self.digits(6)}")

    def patient(self, index: int, sex: str, birth_date: date, pcp: Clinician) -> Patient:
        """Return a fully populated patient numbered ``index``."""
        person = self.person(sex)
        city, state, zip3 = self.rng.choice(CITIES)
        relation, rel_sex = self.rng.choice(RELATIONS)
        relative = self.person(rel_sex)
        if relation in ("wife", "husband", "daughter", "son") and self.rng.random() < 0.7:
            relative = Person(relative.first, person.last, rel_sex)
        street = f"{self.rng.randint(12, 9870)} {self.rng.choice(STREETS)} {self.rng.choice(STREET_TYPES)}"
        email_user = f"{person.first}.{person.last}{self.rng.randint(1, 99)}".lower()
        return Patient(
            pid=f"P{index:04d}", person=person, birth_date=birth_date, street=street, city=city, state=state,
            zip=zip3 + self.digits(2), phone=self.phone(),
            email=f"{email_user}@{self.fake.free_email_domain()}", ssn=self._ssn(), mrn=self.digits(8),
            payer=self.rng.choice(PAYERS), plan_id=f"{self.letters(3)}{self.digits(9)}",
            driver_license=f"{self.letters(1)}{self.digits(3)}-{self.digits(4)}-{self.digits(4)}",
            plate=f"{self.rng.randint(1, 9)}{self.letters(3)}{self.digits(3)}",
            vin="".join(self.rng.choice(_VIN_CHARS) for _ in range(17)),
            device=(self.rng.choice(DEVICES), f"{self.letters(3)}{self.digits(6)}{self.letters(1)}"),
            contact=Relative(relation, relative, self.phone()), pcp=pcp,
        )

    def _ssn(self) -> str:
        area = self.rng.randint(101, 665)
        return f"{area:03d}-{self.rng.randint(1, 99):02d}-{self.rng.randint(1, 9999):04d}"

    def ip_address(self) -> str:
        """Return a private-range IPv4 address."""
        if self.rng.random() < 0.5:
            return f"10.{self.rng.randint(0, 255)}.{self.rng.randint(0, 255)}.{self.rng.randint(2, 254)}"
        return f"192.168.{self.rng.randint(0, 255)}.{self.rng.randint(2, 254)}"


def format_phone(digits: str, style: int) -> str:
    """Write ten phone digits as ``(617) 555-0142``, ``617-555-0142`` or ``617.555.0142``."""
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    return (f"({area}) {exchange}-{line}", f"{area}-{exchange}-{line}", f"{area}.{exchange}.{line}")[style % 3]


def ordinal(n: int) -> str:
    """Return ``1st``, ``2nd``, ``3rd``, ``4th`` ... for ``n``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


DATE_STYLES = ("us", "us_short", "long", "iso", "abbr", "dmy")
PARTIAL_STYLES = ("md", "abbr_ord", "month_day", "day")


def format_date(d: date, style: str) -> str:
    """Write a date in one of the styles of :data:`DATE_STYLES`, :data:`PARTIAL_STYLES` or ``year``/``month_year``."""
    month = MONTHS[d.month - 1]
    formats = {
        "us": f"{d.month:02d}/{d.day:02d}/{d.year}",
        "us_short": f"{d.month}/{d.day}/{d.year}",
        "long": f"{month} {d.day}, {d.year}",
        "iso": d.isoformat(),
        "abbr": f"{month[:3]} {d.day}, {d.year}",
        "dmy": f"{d.day:02d}-{month[:3]}-{d.year}",
        "md": f"{d.month}/{d.day}",
        "abbr_ord": f"{month[:3]} {ordinal(d.day)}",
        "month_day": f"{month} {d.day}",
        "day": ordinal(d.day),
        "year": str(d.year),
        "month_year": f"{month} {d.year}",
    }
    return formats[style]


NAME_FORMS = ("full", "last", "first", "caps", "inverted", "initials", "upper_full")


def format_name(person: Person, form: str) -> str:
    """Write a person's name in one of :data:`NAME_FORMS`."""
    forms = {
        "full": person.full,
        "last": person.last,
        "first": person.first,
        "caps": f"{person.last.upper()}, {person.first.upper()}",
        "inverted": f"{person.last}, {person.first}",
        "initials": f"{person.first[0]}.{person.last[0]}.",
        "upper_full": person.full.upper(),
    }
    return forms[form]
