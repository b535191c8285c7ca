"""Batch command parsing and reference substitution, without HTTP."""

from __future__ import annotations

from b24emu.batch import _Refs, split_command
from b24emu.phpquery import parse_str


def test_split_command_is_parse_url_like() -> None:
    assert split_command("crm.deal.list?filter[STAGE_ID]=C1:NEW") == (
        "crm.deal.list", "filter[STAGE_ID]=C1:NEW")
    assert split_command("Profile") == ("profile", "")
    assert split_command("crm.contact.add?fields[NAME]=A#B") == ("crm.contact.add",
                                                                 "fields[NAME]=A")


def test_references_walk_one_part_at_a_time() -> None:
    refs = _Refs({"dup": {"CONTACT": [5, 9]}, "c": 17, "l": [{"ID": "3"}]},
                 {"bad": {"error": "", "error_description": "Not found"}},
                 {"l": 120}, {"l": 50}, {})
    params = refs.substitute(parse_str(
        "filter[ID]=$result[dup][CONTACT]&a=$result[dup][CONTACT][1]&b=x-$result[c]-y"
        "&n=$next[l]/$total[l]&e=$error[bad][error_description]&f=$result[l][0][ID]"
        "&m=$result[missing]&p=[$result[dup][NOPE]]&q=$result[dup]!"))
    assert params == {"filter": {"ID": [5, 9]}, "a": 9, "b": "x-17-y", "n": "50/120",
                      "e": "Not found", "f": "3", "m": "", "p": "[]", "q": "Array!"}


def test_every_kind_inside_text_is_replaced_like_php_strings() -> None:
    refs = _Refs({"c0": 17}, {"bad": {"error": "E", "error_description": "no"}}, {"l": 120},
                 {"l": 50}, {"c0": {"start": 1796531308.3212345, "duration": 2.0}})
    params = refs.substitute(parse_str(
        "a=see $result[c0]&t=at $time[c0][start] in $time[c0][duration]&n=$next[l]/$total[l]"
        "&e=$error[bad]/$error[bad][error]&x=$error[c0]&keep=$Result[c0] $next["))
    assert params == {"a": "see 17", "t": "at 1796531308.3212 in 2", "n": "50/120",
                      "e": "Array/E", "x": "", "keep": "$Result[c0] $next["}
