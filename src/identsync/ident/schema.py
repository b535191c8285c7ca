"""The IDENT tables and columns the sync reads, as SQLAlchemy Core metadata.

Names are spelled exactly as IDENT has them (mixed case, so SQLAlchemy quotes them on
PostgreSQL). The same ``Select`` runs on MS SQL Server (production, read-only), PostgreSQL and
SQLite (tests, demo). Only the demo generator creates these tables; production never does.

Types: naive ``DateTime`` (IDENT stores clinic-local time), ``Numeric`` for money, Unicode
strings. ``RowVersion`` is left out on purpose: nothing here may depend on it.
Primary keys have ``autoincrement=False``: the demo assigns ids itself, like an IDENT copy.
"""

from __future__ import annotations

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

metadata = MetaData()

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
    Column("FirstVisit", DateTime),
    Column("PatientNumber", Unicode(50)),
    Column("Status", Integer),
    Column("DateTimeChanged", DateTime),
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
    Column("PlanStart", DateTime, nullable=True),
    Column("PlanEnd", DateTime, nullable=True),
    Column("Comment", UnicodeText),
    Column("PatientAppeared", DateTime),
    Column("ReceptionStarted", DateTime),
    Column("ReceptionEnded", DateTime),
    Column("CheckIssued", DateTime),
    Column("ReceptionCanceled", DateTime),
    Column("ID_ReceptionCancelReasons", Integer),
    Column("CancelReasonComment", UnicodeText),
    Column("DateTimeAdded", DateTime),
    Column("DateTimeChanged", DateTime),
    Column("ExternalUID", Unicode(100)),
)

Orders = Table(
    "Orders", metadata,
    _pk(),
    Column("ID_Receptions", Integer, index=True),
    Column("ID_OwnCompanies", Integer),
    Column("ID_Patients", Integer),
    Column("DateTimeOrder", DateTime),
    Column("DateTimeBillFormed", DateTime),
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
