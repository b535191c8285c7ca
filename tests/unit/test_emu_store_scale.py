"""200k contacts and 200k deals stay fast through the indexes (no HTTP, no timing asserts)."""

from __future__ import annotations

from b24emu.methods import Ctx, lookup
from b24emu.store import Portal

N = 200_000


def _phone(i: int) -> str:
    return f"+7 900 {i // 10000:03d}-{i % 10000 // 100:02d}-{i % 100:02d}"


def _fill(portal: Portal) -> None:
    contacts = portal.contacts
    deals = portal.deals
    for i in range(1, N + 1):
        contacts.insert({"ID": str(i), "NAME": f"N{i}",
                         "PHONE": [{"ID": str(i), "VALUE_TYPE": "WORK", "VALUE": _phone(i),
                                    "TYPE_ID": "PHONE"}]})
        deals.insert({"ID": str(i), "TITLE": f"D{i}", "CONTACT_ID": str(i),
                      "UF_CRM_IDENT_ID": f"R{i}"})


def test_findbycomm_and_uf_in_filter_over_200k_rows() -> None:
    portal = Portal()
    _fill(portal)
    ctx = Ctx(portal, 1)
    wanted = list(range(1000, 200_000, 3980))[:50]
    assert len(wanted) == 50

    # findbycomm in another spelling (8 ... instead of +7 ...); only the first 20 count
    spellings = [_phone(i).replace("+7", "8").replace("-", " ") for i in wanted]
    found = lookup("crm.duplicate.findbycomm")(
        {"type": "PHONE", "values": {str(k): v for k, v in enumerate(spellings)},
         "entity_type": "CONTACT"}, ctx).value
    assert found == {"CONTACT": sorted(wanted[:20])}

    flt = {"@UF_CRM_IDENT_ID": {str(k): f"R{i}" for k, i in enumerate(wanted)}}
    res = lookup("crm.deal.list")({"filter": flt, "select": {"0": "ID", "1": "UF_CRM_IDENT_ID",
                                                             "2": "CONTACT_ID"}}, ctx)
    assert res.total == 50 and res.next is None
    assert [r["ID"] for r in res.value] == [str(i) for i in wanted]
    assert all(r["UF_CRM_IDENT_ID"] == f"R{r['ID']}" and r["CONTACT_ID"] == r["ID"]
               for r in res.value)

    # fast paging by >ID without counting touches only the tail
    page = lookup("crm.contact.list")({"filter": {">ID": str(N - 10)}, "start": "-1",
                                       "order": {"ID": "ASC"}}, ctx)
    assert [r["ID"] for r in page.value] == [str(i) for i in range(N - 9, N + 1)]
    assert page.total is None and page.next is None
