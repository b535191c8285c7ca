"""Demo patients: Russian names, families sharing a phone, phones typed every way people do."""

from __future__ import annotations

import random
from dataclasses import dataclass

import phonenumbers

from tools.ident_demo.vocabulary import (
    FEMALE_NAMES,
    ID_PATIENTS_FROM,
    MALE_NAMES,
    PATRONYMICS,
    SURNAMES,
)


def female_surname(male: str) -> str:
    if male.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return male + "а"
    if male.endswith("ий"):
        return male[:-2] + "ая"
    return male


# --- phones --------------------------------------------------------------------------------
def _mobile_digits(rng: random.Random) -> str:
    """10 national digits of a valid Russian mobile number."""
    while True:
        digits = "9" + "".join(str(rng.randrange(10)) for _ in range(9))
        if phonenumbers.is_valid_number(phonenumbers.parse("+7" + digits)):
            return digits


def _landline_digits(rng: random.Random) -> str:
    area = rng.choice(("495", "499", "812", "343", "383"))
    while True:
        digits = area + "".join(str(rng.randrange(10)) for _ in range(7))
        if phonenumbers.is_valid_number(phonenumbers.parse("+7" + digits)):
            return digits


def spell_phone(digits: str, style: int) -> str:
    """The 10 national digits of a Russian number written one of the ways people write it."""
    a, b, c, d = digits[:3], digits[3:6], digits[6:8], digits[8:]
    styles = (
        f"+7 ({a}) {b}-{c}-{d}",
        f"8{digits}",
        digits,
        f"8-{a}-{b}-{c}-{d}",
        f"+7{digits}",
        f"8 ({a}) {b} {c} {d}",
        f"7 {a} {b}-{c}-{d}",
        f" +7 {a} {b} {c} {d} ",
        f"8({a}){b}{c}{d}",
        f"8 {a} {b}{c}{d}",
        f"+7-{a}-{b}-{c}-{d}",
        f"8\u00a0{a}\u00a0{b}\u00a0{c}\u00a0{d}",
    )
    return styles[style % len(styles)]


PHONE_STYLES = 12


# --- people --------------------------------------------------------------------------------
@dataclass
class _Person:
    id: int
    surname: str
    name: str
    patronymic: str
    phone: str | None
    card: str | None = None
    guardian: str | None = None
    weight: float = 1.0

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.name, self.patronymic) if p)


def _person(rng: random.Random, pid: int, surname_m: str, male: bool) -> _Person:
    patr = rng.choice(PATRONYMICS)
    if male:
        return _Person(pid, surname_m, rng.choice(MALE_NAMES), patr[0], None)
    return _Person(pid, female_surname(surname_m), rng.choice(FEMALE_NAMES), patr[1], None)


def _patients(rng: random.Random, count: int) -> list[_Person]:
    """Households: singles, couples, parents with children; a household shares one phone."""
    people: list[_Person] = []
    pid = ID_PATIENTS_FROM
    while len(people) < count:
        surname = rng.choice(SURNAMES)
        kind = rng.random()
        size = 1 if kind < 0.65 else 2 if kind < 0.8 else rng.randint(3, 4)
        size = min(size, count - len(people))
        digits = _landline_digits(rng) if rng.random() < 0.05 else _mobile_digits(rng)
        first_male = rng.random() < 0.45
        household: list[_Person] = []
        for i in range(size):
            child = False
            if i == 0:
                male = first_male
            elif i == 1 and size == 2 and rng.random() < 0.6:
                male = not first_male  # spouse
            else:
                male, child = rng.random() < 0.5, True
            p = _person(rng, pid, surname, male)
            # A family shares a phone but never a first name: names tell contacts apart.
            while any(h.name == p.name for h in household):
                p = _person(rng, pid, surname, male)
            if child:
                p.guardian = household[0].full_name
                p.weight = 0.6
            # The same number is often typed differently on each family member's card.
            p.phone = spell_phone(digits, rng.randrange(PHONE_STYLES))
            p.card = f"{pid - ID_PATIENTS_FROM + 1:06d}"
            household.append(p)
            pid += 1
        if rng.random() < 0.1:
            household[0].weight = 4.0  # a regular (orthodontics, implants)
        people.extend(household)
    return people
