"""The one masking function: phones by value and by shape, names, IDENT free text."""

from __future__ import annotations

from identsync.mask import mask, mask_row
from identsync.records import SourceReception


def test_phones_are_masked_in_every_formatting_dates_and_ids_are_not():
    text = ("+7 916 123-45-67, 89161234567, 8 (916) 123 45 67, 9161234567, +79161234567; "
            "reception 1234567 at 2026-11-21 09:30, F1_1000234")
    out = mask(text, phones=["8 916 123-45-67"])
    assert "1234567" not in out.replace("reception 1234567", "")
    assert "916123" not in "".join(ch for ch in out if ch.isdigit())
    assert "reception 1234567" in out and "2026-11-21 09:30" in out and "F1_1000234" in out


def test_names_are_cut_to_an_initial_as_whole_words_any_case():
    out = mask("Contact ИВАНОВА Анна (Ивановская street) duplicate", names=["Иванова", "Анна"])
    assert out == "Contact И. А. (Ивановская street) duplicate"


def test_free_text_is_hidden_whole_line_by_line_and_shortened():
    note = "Аллергия на лидокаин.\nБеременность 12 недель, не звонить мужу"
    out = mask(f"comment: {note}", free=[note])
    assert "лидокаин" not in out and "[free text," in out
    out = mask("comment starts: " + note[:40] + "…", free=[note])
    assert "лидокаин" not in out
    out = mask("second line only: Беременность 12 недель, не звонить мужу", free=[note])
    assert "мужу" not in out


def test_a_row_masks_its_own_values():
    row = SourceReception(reception_id=7, patient_id=3, branch_id=1, surname="Петрова",
                          name="Ольга", mobile_phone="+7 (999) 765-43-21",
                          comment="Боится уколов, нужен седатив", guardian="Петров Иван")
    out = mask_row("F1_7: Петрова Ольга, +7 (999) 765-43-21, guardian Петров Иван: "
                   "Боится уколов, нужен седатив", row)
    assert "Петрова" not in out and "Ольга" not in out and "Иван" not in out
    assert "765" not in out and "седатив" not in out and out.startswith("F1_7: ")
    assert mask_row("nothing personal", None) == "nothing personal"
