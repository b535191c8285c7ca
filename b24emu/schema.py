"""Standard field definitions of the emulated CRM entities (what *.fields reports)."""

from __future__ import annotations

from typing import Any

# name: (type, title, read_only, multiple); extra keys come from _EXTRA
_C = "crm_status"
_COMMON_TAIL: list[tuple[str, str, str, bool, bool]] = [
    ("ASSIGNED_BY_ID", "user", "Ответственный", False, False),
    ("CREATED_BY_ID", "user", "Кем создан", True, False),
    ("MODIFY_BY_ID", "user", "Кем изменен", True, False),
    ("DATE_CREATE", "datetime", "Дата создания", True, False),
    ("DATE_MODIFY", "datetime", "Дата изменения", True, False),
    ("OPENED", "char", "Доступен для всех", False, False),
    ("COMMENTS", "string", "Комментарий", False, False),
    ("SOURCE_ID", _C, "Источник", False, False),
    ("SOURCE_DESCRIPTION", "string", "Дополнительно об источнике", False, False),
    ("ORIGINATOR_ID", "string", "Внешний источник", False, False),
    ("ORIGIN_ID", "string", "Идентификатор элемента во внешнем источнике", False, False),
    ("UTM_SOURCE", "string", "Рекламная система", False, False),
    ("UTM_MEDIUM", "string", "Тип трафика", False, False),
    ("UTM_CAMPAIGN", "string", "Обозначение рекламной кампании", False, False),
    ("UTM_CONTENT", "string", "Содержание кампании", False, False),
    ("UTM_TERM", "string", "Условие поиска кампании", False, False),
    ("LAST_ACTIVITY_TIME", "datetime", "Последняя активность", True, False),
    ("LAST_ACTIVITY_BY", "user", "Автор последней активности", True, False),
]

CONTACT_FIELDS: list[tuple[str, str, str, bool, bool]] = [
    ("ID", "integer", "ID", True, False),
    ("HONORIFIC", _C, "Обращение", False, False),
    ("NAME", "string", "Имя", False, False),
    ("SECOND_NAME", "string", "Отчество", False, False),
    ("LAST_NAME", "string", "Фамилия", False, False),
    ("BIRTHDATE", "date", "Дата рождения", False, False),
    ("TYPE_ID", _C, "Тип контакта", False, False),
    ("POST", "string", "Должность", False, False),
    ("ADDRESS", "string", "Адрес", False, False),
    ("EXPORT", "char", "Участвует в экспорте контактов", False, False),
    ("HAS_PHONE", "char", "Задан телефон", True, False),
    ("HAS_EMAIL", "char", "Задан e-mail", True, False),
    ("HAS_IMOL", "char", "Задана открытая линия", True, False),
    ("COMPANY_ID", "crm_company", "Компания", False, False),
    ("LEAD_ID", "crm_lead", "Лид", True, False),
    *_COMMON_TAIL,
    ("PHONE", "crm_multifield", "Телефон", False, True),
    ("EMAIL", "crm_multifield", "E-mail", False, True),
    ("WEB", "crm_multifield", "Сайт", False, True),
    ("IM", "crm_multifield", "Мессенджер", False, True),
]

DEAL_FIELDS: list[tuple[str, str, str, bool, bool]] = [
    ("ID", "integer", "ID", True, False),
    ("TITLE", "string", "Название", False, False),
    ("TYPE_ID", _C, "Тип", False, False),
    ("CATEGORY_ID", "crm_category", "Воронка", False, False),
    ("STAGE_ID", _C, "Стадия сделки", False, False),
    ("STAGE_SEMANTIC_ID", "string", "Группа стадии", True, False),
    ("IS_NEW", "char", "Новая сделка", True, False),
    ("IS_RECURRING", "char", "Регулярная сделка", False, False),
    ("IS_RETURN_CUSTOMER", "char", "Повторная сделка", True, False),
    ("IS_REPEATED_APPROACH", "char", "Повторное обращение", True, False),
    ("PROBABILITY", "integer", "Вероятность", False, False),
    ("CURRENCY_ID", "crm_currency", "Валюта", False, False),
    ("OPPORTUNITY", "double", "Сумма", False, False),
    ("IS_MANUAL_OPPORTUNITY", "char", "IS_MANUAL_OPPORTUNITY", False, False),
    ("TAX_VALUE", "double", "Ставка налога", False, False),
    ("COMPANY_ID", "crm_company", "Компания", False, False),
    ("CONTACT_ID", "crm_contact", "Контакт", False, False),
    ("CONTACT_IDS", "crm_contact", "Контакты", False, True),
    ("BEGINDATE", "date", "Дата начала", False, False),
    ("CLOSEDATE", "date", "Дата завершения", False, False),
    ("CLOSED", "char", "Закрыта", False, False),
    ("MOVED_BY_ID", "user", "Кем перемещена", True, False),
    ("MOVED_TIME", "datetime", "Дата перемещения", True, False),
    ("ADDITIONAL_INFO", "string", "Дополнительная информация", False, False),
    ("LEAD_ID", "crm_lead", "Лид", True, False),
    *_COMMON_TAIL,
]

COMMENT_FIELDS: list[tuple[str, str, str, bool, bool]] = [
    ("ID", "integer", "ID", True, False),
    ("CREATED", "datetime", "Создан", True, False),
    ("ENTITY_ID", "integer", "ENTITY_ID", False, False),
    ("ENTITY_TYPE", "string", "ENTITY_TYPE", False, False),
    ("AUTHOR_ID", "user", "AUTHOR_ID", False, False),
    ("COMMENT", "string", "COMMENT", False, False),
    ("FILES", "diskfile", "FILES", False, True),
]

_STATUS_TYPES = {
    "HONORIFIC": "HONORIFIC",
    "SOURCE_ID": "SOURCE",
    "TYPE_ID": "CONTACT_TYPE",
    "STAGE_ID": "DEAL_STAGE",
}

SCHEMAS: dict[str, list[tuple[str, str, str, bool, bool]]] = {
    "contact": CONTACT_FIELDS,
    "deal": DEAL_FIELDS,
    "comment": COMMENT_FIELDS,
}

# Fields that list/get never show (write-only conveniences)
HIDDEN_ON_READ = {"deal": {"CONTACT_IDS"}}

MULTI_FIELDS = ("PHONE", "EMAIL", "WEB", "IM")


def field_types(kind: str) -> dict[str, str]:
    """name -> type for one entity kind."""
    return {name: ftype for name, ftype, _t, _ro, _m in SCHEMAS[kind]}


def read_only(kind: str) -> set[str]:
    return {name for name, _f, _t, ro, _m in SCHEMAS[kind] if ro}


def scalar_fields(kind: str) -> list[str]:
    """Fields a default / `*` select returns: everything except multi-fields."""
    hidden = HIDDEN_ON_READ.get(kind, set())
    return [n for n, f, _t, _ro, _m in SCHEMAS[kind] if f != "crm_multifield" and n not in hidden]


def describe(kind: str) -> dict[str, dict[str, Any]]:
    """Field descriptions in the shape of the real *.fields response."""
    out: dict[str, dict[str, Any]] = {}
    for name, ftype, title, ro, multiple in SCHEMAS[kind]:
        desc: dict[str, Any] = {
            "type": ftype,
            "isRequired": False,
            "isReadOnly": ro,
            "isImmutable": name == "CATEGORY_ID",
            "isMultiple": multiple,
            "isDynamic": False,
        }
        if ftype == "crm_status" and name in _STATUS_TYPES:
            desc["statusType"] = _STATUS_TYPES[name]
        if kind == "deal" and name == "CONTACT_ID":
            desc["isDeprecated"] = True  # superseded by CONTACT_IDS, as the portal says
        desc["title"] = title
        out[name] = desc
    return out
