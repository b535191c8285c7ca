"""The IDENT tables and columns the sync reads, as SQLAlchemy Core metadata.

Names are spelled exactly as IDENT has them (mixed case, so SQLAlchemy quotes them on
PostgreSQL). The same ``Select`` runs on MS SQL Server (production, read-only), PostgreSQL and
SQLite (tests, demo). Only the demo generator creates these tables; production never does.

Types: naive ``LocalDateTime`` (IDENT stores clinic-local time), ``Numeric`` for money, Unicode
strings. ``RowVersion`` is left out on purpose: nothing here may depend on it.
Primary keys have ``autoincrement=False``: the demo assigns ids itself, like an IDENT copy.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    Table,
    Unicode,
    UnicodeText,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData()


def iso_literal(value: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ss.mmm``: the one datetime string SQL Server reads alike in every
    session language and DATEFORMAT (a ``datetime`` column reads ``'2026-11-01 00:30:00'``
    as January 11th under a Russian login). Milliseconds, truncated as pymssql truncates:
    ``datetime`` accepts no more than three fractional digits."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


class LocalDateTime(TypeDecorator):
    """A naive clinic-local datetime; on SQL Server it travels as an ISO 8601 string with ``T``.

    pymssql renders a bound ``datetime`` into the SQL text as ``'YYYY-MM-DD hh:mm:ss.mmm'``,
    which a ``datetime`` column reads by the login's language. Other dialects get the datetime.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if dialect.name == "mssql" and isinstance(value, datetime):
            if value.tzinfo is not None:
                raise ValueError(f"IDENT stores naive clinic-local time, got {value!r}")
            return iso_literal(value)
        return value

NAME = Unicode(255)
MONEY = Numeric(18, 2)


def _pk(name: str = "ID") -> Column:
    return Column(name, Integer, primary_key=True, autoincrement=False)


OwnCompanies = Table(
    "OwnCompanies", metadata,
    _pk(),
    Column("Name", NAME),
)

Armchairs = Table(
    "Armchairs", metadata,
    _pk(),
    Column("NameArmchair", NAME),
    Column("ID_OwnCompanies", Integer, nullable=True),
)

Persons = Table(
    "Persons", metadata,
    _pk(),
    Column("Surname", NAME),
    Column("Name", NAME),
    Column("Patronymic", NAME),
    Column("MobilePhone", Unicode(100)),
)

Patients = Table(
    "Patients", metadata,
    _pk("ID_Persons"),
    Column("CardNumber", Unicode(50)),
    Column("ParentSNP", NAME),
    Column("Comment", UnicodeText),
    Column("FirstVisit", LocalDateTime),
    Column("PatientNumber", Unicode(50)),
    Column("Status", Integer),
    Column("DateTimeChanged", LocalDateTime),
)

Staffs = Table(
    "Staffs", metadata,
    _pk("ID_Persons"),
)

ProfessionNames = Table(
    "ProfessionNames", metadata,
    _pk(),
    Column("NameProfession", NAME),
)

# A doctor may hold several specialities; IDENT has no flag for the main one.
Items = Table(
    "Items", metadata,
    Column("ID_Staffs", Integer, nullable=False, index=True),
    Column("ID_ProfessionNames", Integer, nullable=False),
)

ReceptionCancelReasons = Table(
    "ReceptionCancelReasons", metadata,
    _pk(),
    Column("Name", NAME),
)

Receptions = Table(
    "Receptions", metadata,
    _pk(),
    Column("ID_Patients", Integer, nullable=True),
    Column("ID_Staffs", Integer, nullable=True),
    Column("ID_Armchairs", Integer, nullable=True),
    Column("PlanStart", LocalDateTime, nullable=True),
    Column("PlanEnd", LocalDateTime, nullable=True),
    Column("Comment", UnicodeText),
    Column("PatientAppeared", LocalDateTime),
    Column("ReceptionStarted", LocalDateTime),
    Column("ReceptionEnded", LocalDateTime),
    Column("CheckIssued", LocalDateTime),
    Column("ReceptionCanceled", LocalDateTime),
    Column("ID_ReceptionCancelReasons", Integer),
    Column("CancelReasonComment", UnicodeText),
    Column("DateTimeAdded", LocalDateTime),
    Column("DateTimeChanged", LocalDateTime),
    Column("ExternalUID", Unicode(100)),
)

Orders = Table(
    "Orders", metadata,
    _pk(),
    Column("ID_Receptions", Integer, index=True),
    Column("ID_OwnCompanies", Integer),
    Column("ID_Patients", Integer),
    Column("DateTimeOrder", LocalDateTime),
    Column("DateTimeBillFormed", LocalDateTime),
    Column("IsBillFormed", Boolean),
)

OrderServiceRelation = Table(
    "OrderServiceRelation", metadata,
    Column("ID_Orders", Integer, nullable=False, index=True),
    Column("ID_ServicePrices", Integer, nullable=False),
    Column("CountService", Numeric(18, 3)),
    Column("DiscountSum", MONEY),
)

ServiceItemPrices = Table(
    "ServiceItemPrices", metadata,
    _pk(),
    Column("ID_ServiceItems", Integer),
    Column("Price", MONEY),
)

ServiceItems = Table(
    "ServiceItems", metadata,
    _pk(),
    Column("Name", Unicode(500)),
)

# Timestamps on Receptions whose change makes a reception "changed in a window".
RECEPTION_CHANGE_COLUMNS = (
    "DateTimeAdded", "DateTimeChanged", "PatientAppeared", "ReceptionStarted",
    "ReceptionEnded", "ReceptionCanceled", "CheckIssued",
)
# The same for Orders (a bill may touch only the order).
ORDER_CHANGE_COLUMNS = ("DateTimeOrder", "DateTimeBillFormed")
