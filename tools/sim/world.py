"""The simulated clinic: its own truth, written into an IDENT database day by day.

The world keeps every patient and reception as plain Python objects (what really happened)
and mirrors them into IDENT's tables the way IDENT's front desk would: rows added, columns
stamped with the clinic's naive local time, rows deleted. The sync sees only the tables; the
reference model (``tools.sim.model``) sees only these objects. Nothing here imports the sync.

One seeded ``random.Random`` drives everything, so a seed and a day number reproduce a day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from identsync.ident import schema as s
from tools.ident_demo.vocabulary import (
    CANCEL_REASONS,
    FEMALE_NAMES,
    MALE_NAMES,
    PATRONYMICS,
    SERVICES,
    SPECIALITIES,
    SURNAMES,
)

BRANCHES = ((1, "Центральная"), (2, "Северная"))
CHAIRS = 3  # per branch
DOCTORS = 3  # per branch
PRICE_OFFSET = 1000
# What staff type into free-text fields, hostile or not: it must reach the portal literally.
HOSTILE = ("см. $result[c0] / $time[c0][start]", "{{ conn.bitrix24_default.password }}",
           "<b>аллергия</b> на лидокаин", "{% raw %}x{%endraw%}", "$next[deal0] и $total")


@dataclass
class Patient:
    pid: int
    surname: str
    name: str
    patronymic: str
    phone: str  # as typed at the desk
    female: bool
    phones: list[str] = field(default_factory=list)  # every number it ever had, digits

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.name, self.patronymic) if p)


@dataclass
class Visit:
    rid: int
    pid: int
    chair: int
    start: datetime
    end: datetime
    comment: str | None
    added: datetime
    changed: datetime
    events: dict[str, datetime] = field(default_factory=dict)  # Receptions' status columns
    cancel_reason: int | None = None
    order_id: int | None = None
    bill: datetime | None = None
    deleted: datetime | None = None

    @property
    def branch(self) -> int:
        return self.chair // 100


def digits_of(phone: str) -> str:
    d = "".join(ch for ch in phone if ch.isdigit())
    if len(d) == 11 and d[0] == "8":
        d = "7" + d[1:]
    if len(d) == 10:
        d = "7" + d
    return d


def _spell(rng: random.Random, digits: str) -> str:
    """A Russian mobile the way staff type it: +7 (9xx) xxx-xx-xx, 8 9xx..., or bare."""
    body = digits[1:]
    style = rng.randrange(3)
    if style == 0:
        return f"+7 ({body[:3]}) {body[3:6]}-{body[6:8]}-{body[8:]}"
    if style == 1:
        return "8" + body
    return f"+7{body}"


class World:
    def __init__(self, engine: sa.Engine, *, seed: int, start: date) -> None:
        self.engine = engine
        self.rng = random.Random(seed)
        self.start = start
        self.clock = datetime.combine(start, time(7, 0))
        self.patients: dict[int, Patient] = {}
        self.visits: dict[int, Visit] = {}
        self.doctors: dict[int, list[int]] = {}
        self._next = {"pid": 1000, "rid": 1, "order": 1}
        self.big_patient: int | None = None
        self.patient_changes: dict[int, list[datetime]] = {}
        s.metadata.create_all(engine)
        self._reference()

    # -- set-up ------------------------------------------------------------------------------
    def _reference(self) -> None:
        rng = self.rng
        with self.engine.begin() as c:
            c.execute(s.OwnCompanies.insert(), [{"ID": b, "Name": n} for b, n in BRANCHES])
            c.execute(s.Armchairs.insert(), [
                {"ID": b * 100 + k, "NameArmchair": f"Кресло {k}", "ID_OwnCompanies": b}
                for b, _ in BRANCHES for k in range(1, CHAIRS + 1)])
            c.execute(s.ProfessionNames.insert(),
                      [{"ID": i, "NameProfession": n} for i, n in SPECIALITIES])
            c.execute(s.ReceptionCancelReasons.insert(),
                      [{"ID": i, "Name": n} for i, n in CANCEL_REASONS])
            c.execute(s.ServiceItems.insert(),
                      [{"ID": i, "Name": n} for i, (n, _) in enumerate(SERVICES, 1)])
            c.execute(s.ServiceItemPrices.insert(), [
                {"ID": i + PRICE_OFFSET, "ID_ServiceItems": i, "Price": Decimal(p)}
                for i, (_, p) in enumerate(SERVICES, 1)])
            sid = 1
            for b, _ in BRANCHES:
                for _k in range(DOCTORS):
                    c.execute(s.Persons.insert(), {
                        "ID": sid, "Surname": rng.choice(SURNAMES), "Name":
                        rng.choice(MALE_NAMES), "Patronymic": rng.choice(PATRONYMICS)[0],
                        "MobilePhone": None})
                    c.execute(s.Staffs.insert(), {"ID_Persons": sid})
                    c.execute(s.Items.insert(), {"ID_Staffs": sid, "ID_ProfessionNames":
                                                 rng.choice(SPECIALITIES)[0]})
                    self.doctors.setdefault(b, []).append(sid)
                    sid += 1

    # -- people ------------------------------------------------------------------------------
    def _new_phone(self) -> str:
        return "79" + "".join(str(self.rng.randrange(10)) for _ in range(9))

    def new_patient(self, *, family_of: Patient | None = None) -> Patient:
        rng = self.rng
        pid = self._next["pid"]
        self._next["pid"] += 1
        female = rng.random() < 0.55
        surname = family_of.surname if family_of else rng.choice(SURNAMES)
        if family_of and family_of.female != female:
            surname = _gendered(surname, female)
        elif not family_of:
            surname = _gendered(surname, female)
        digits = digits_of(family_of.phone) if family_of else self._new_phone()
        p = Patient(pid, surname, rng.choice(FEMALE_NAMES if female else MALE_NAMES),
                    rng.choice(PATRONYMICS)[1 if female else 0], _spell(rng, digits), female,
                    [digits])
        self.patients[pid] = p
        self._write_patient(p, added=True)
        return p

    def _write_patient(self, p: Patient, *, added: bool = False) -> None:
        person = {"Surname": p.surname, "Name": p.name, "Patronymic": p.patronymic,
                  "MobilePhone": p.phone}
        self.patient_changes.setdefault(p.pid, []).append(self.clock)
        with self.engine.begin() as c:
            if added:
                c.execute(s.Persons.insert(), {"ID": p.pid, **person})
                c.execute(s.Patients.insert(), {
                    "ID_Persons": p.pid, "CardNumber": f"К-{p.pid}", "ParentSNP": None,
                    "Comment": None, "FirstVisit": None, "PatientNumber": str(p.pid),
                    "Status": 0, "DateTimeChanged": self.clock})
            else:
                c.execute(s.Persons.update().where(s.Persons.c.ID == p.pid), person)
                c.execute(s.Patients.update().where(s.Patients.c.ID_Persons == p.pid),
                          {"DateTimeChanged": self.clock})

    def rename(self, p: Patient) -> str:
        """A corrected surname (a typo fixed, or a name changed on marriage)."""
        old = p.surname
        p.surname = _gendered(self.rng.choice(SURNAMES), p.female) if self.rng.random() < 0.5 \
            else old + ("а" if not old.endswith("а") else "ова")
        self._write_patient(p)
        return f"patient {p.pid}: surname {old} -> {p.surname}"

    def change_phone(self, p: Patient) -> str:
        digits = self._new_phone()
        p.phone = _spell(self.rng, digits)
        p.phones.append(digits)
        self._write_patient(p)
        return f"patient {p.pid}: new phone"

    # -- receptions --------------------------------------------------------------------------
    def book(self, p: Patient, day: date, *, branch: int | None = None,
             hostile: bool = False) -> Visit:
        rng = self.rng
        branch = branch or rng.choice([b for b, _ in BRANCHES])
        chair = branch * 100 + rng.randrange(1, CHAIRS + 1)
        start = datetime.combine(day, time(9)) + timedelta(minutes=30 * rng.randrange(20))
        rid = self._next["rid"]
        self._next["rid"] += 1
        comment = rng.choice(HOSTILE) if hostile else (
            rng.choice((None, None, "Первичный осмотр", "Контроль через месяц")))
        v = Visit(rid, p.pid, chair, start, start + timedelta(minutes=30 * rng.randrange(1, 4)),
                  comment, self.clock, self.clock)
        self.visits[rid] = v
        with self.engine.begin() as c:
            c.execute(s.Receptions.insert(), {
                "ID": rid, "ID_Patients": p.pid, "ID_Staffs": rng.choice(self.doctors[branch]),
                "ID_Armchairs": chair, "PlanStart": v.start, "PlanEnd": v.end,
                "Comment": comment, "DateTimeAdded": self.clock, "DateTimeChanged": self.clock,
                **{col: None for col in s.RECEPTION_CHANGE_COLUMNS[2:]}})
        return v

    def _update_visit(self, v: Visit, **cols: Any) -> None:
        with self.engine.begin() as c:
            c.execute(s.Receptions.update().where(s.Receptions.c.ID == v.rid), cols)

    def walk(self, v: Visit, column: str, at: datetime) -> None:
        """Stamp a status column (PatientAppeared, ..., CheckIssued, ReceptionCanceled)."""
        v.events[column] = at
        cols: dict[str, Any] = {column: at}
        if column == "ReceptionCanceled":
            v.cancel_reason = self.rng.choice(CANCEL_REASONS)[0]
            cols["ID_ReceptionCancelReasons"] = v.cancel_reason
        self._update_visit(v, **cols)

    def bill(self, v: Visit, at: datetime) -> None:
        oid = self._next["order"]
        self._next["order"] += 1
        v.order_id, v.bill = oid, at
        with self.engine.begin() as c:
            c.execute(s.Orders.insert(), {
                "ID": oid, "ID_Receptions": v.rid, "ID_OwnCompanies": v.branch,
                "ID_Patients": v.pid, "DateTimeOrder": at, "DateTimeBillFormed": at,
                "IsBillFormed": True})
            for k in self.rng.sample(range(1, len(SERVICES) + 1), self.rng.randrange(1, 3)):
                c.execute(s.OrderServiceRelation.insert(), {
                    "ID_Orders": oid, "ID_ServicePrices": k + PRICE_OFFSET,
                    "CountService": Decimal(1), "DiscountSum": Decimal(0)})
        self.walk(v, "CheckIssued", at)

    def move_branch(self, v: Visit) -> str:
        other = [b for b, _ in BRANCHES if b != v.branch][0]
        old = v.chair
        v.chair = other * 100 + self.rng.randrange(1, CHAIRS + 1)
        v.changed = self.clock
        self._update_visit(v, ID_Armchairs=v.chair, ID_Staffs=self.rng.choice(self.doctors[other]),
                           DateTimeChanged=self.clock)
        return f"reception {v.rid}: chair {old} -> {v.chair} (branch {other})"

    def reschedule(self, v: Visit, day: date) -> str:
        delta = datetime.combine(day, v.start.time()) - v.start
        v.start, v.end, v.changed = v.start + delta, v.end + delta, self.clock
        self._update_visit(v, PlanStart=v.start, PlanEnd=v.end, DateTimeChanged=self.clock)
        return f"reception {v.rid}: moved to {day}"

    def delete(self, v: Visit) -> str:
        v.deleted = self.clock
        with self.engine.begin() as c:
            c.execute(s.Receptions.delete().where(s.Receptions.c.ID == v.rid))
        return f"reception {v.rid}: deleted"

    # -- a day -------------------------------------------------------------------------------
    def future_visits(self, day: date) -> list[Visit]:
        return [v for v in self.visits.values()
                if not v.deleted and v.start.date() > day and not v.events]

    def live_day(self, day: date, night: tuple[time, ...] | None = None) -> list[str]:
        """The clinic's day from 08:00 to 20:00, after the night's online bookings (at
        ``night``'s times, or at a random minute 00:00-06:00 some nights: an online booking
        is stamped whenever the patient makes it, the DST nights' odd hours included);
        returns what happened, one line each."""
        rng, log = self.rng, []
        if night is None:
            night = (time(rng.randrange(6), rng.randrange(60)),) if rng.random() < 0.3 else ()
        for at in night:
            if not self.patients:
                break
            self.clock = datetime.combine(day, at)
            p = rng.choice(list(self.patients.values()))
            v = self.book(p, day + timedelta(days=rng.randrange(1, 15)))
            log.append(f"online booking at {at:%H:%M}: reception {v.rid} for patient {p.pid}")
        ticks = sorted(datetime.combine(day, time(8)) + timedelta(seconds=rng.randrange(43200))
                       for _ in range(40))

        def tick() -> datetime:
            self.clock = ticks.pop(0) if ticks else self.clock + timedelta(minutes=1)
            return self.clock

        patients = list(self.patients.values())
        for _ in range(rng.randrange(8, 16)):  # bookings for the coming three weeks
            tick()
            if not patients or rng.random() < 0.3:
                fam = rng.choice(patients) if patients and rng.random() < 0.2 else None
                p = self.new_patient(family_of=fam)
                log.append(f"new patient {p.pid}" + (f" (family of {fam.pid})" if fam else ""))
            else:
                p = rng.choice(patients)
            v = self.book(p, day + timedelta(days=rng.randrange(1, 22)),
                          hostile=rng.random() < 0.1)
            log.append(f"booked reception {v.rid} for patient {p.pid} on {v.start:%Y-%m-%d}")
        if self.big_patient is not None:  # the frequent patient comes twice a day
            for _ in range(2):
                tick()
                self.book(self.patients[self.big_patient], day + timedelta(days=1))
        todays = sorted((v for v in self.visits.values()
                         if not v.deleted and v.start.date() == day), key=lambda v: v.start)
        for v in todays:  # the day's status walks, at the visit's own times
            fate = rng.random()
            if fate < 0.1:
                self.walk(v, "ReceptionCanceled", v.start - timedelta(minutes=rng.randrange(30, 300)))
                log.append(f"reception {v.rid}: cancelled")
            elif fate < 0.18:
                continue  # no-show: stays planned
            else:
                self.walk(v, "PatientAppeared", v.start - timedelta(minutes=10))
                self.walk(v, "ReceptionStarted", v.start)
                self.walk(v, "ReceptionEnded", v.end)
                if fate < 0.85:
                    self.bill(v, v.end + timedelta(minutes=5))
        edits = (("rename", 0.35), ("phone", 0.25), ("move", 0.35), ("reschedule", 0.3),
                 ("delete", 0.2))
        for what, p_ in edits:
            if rng.random() >= p_:
                continue
            tick()
            future = self.future_visits(day)
            if what == "rename" and patients:
                log.append(self.rename(rng.choice(patients)))
            elif what == "phone" and patients:
                log.append(self.change_phone(rng.choice(patients)))
            elif what == "move" and future:
                log.append(self.move_branch(rng.choice(future)))
            elif what == "reschedule" and future:
                log.append(self.reschedule(rng.choice(future), day + timedelta(days=rng.randrange(1, 10))))
            elif what == "delete" and future:
                log.append(self.delete(rng.choice(future)))
        self.clock = datetime.combine(day, time(20))
        return log

    def history(self, days: int, big_visits: int) -> list[str]:
        """Before going live: ``days`` of past life and one frequent patient (an orthodontic
        patient, or a walk-in placeholder card) with ``big_visits`` receptions."""
        log = []
        for k in range(days, 0, -1):
            log += self.live_day(self.start - timedelta(days=k))
        self.clock = datetime.combine(self.start - timedelta(days=1), time(20))
        big = self.new_patient()
        self.big_patient = big.pid
        for k in range(big_visits):
            self.book(big, self.start - timedelta(days=big_visits - k), branch=1)
        log.append(f"frequent patient {big.pid}: {big_visits} receptions")
        return log


def _gendered(surname: str, female: bool) -> str:
    if not female:
        return surname
    if surname.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return surname + "а"
    if surname.endswith("ий"):
        return surname[:-2] + "ая"
    return surname
