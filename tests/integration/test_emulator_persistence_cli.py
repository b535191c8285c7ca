"""SQLite write-through state and the `python -m b24emu` command line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from b24emu.server import EmulatorServer
from tests.fixtures.emulator import rest

ROOT = Path(__file__).resolve().parents[2]


def test_state_file_survives_restart_and_ids_continue(tmp_path: Path) -> None:
    state = str(tmp_path / "portal.sqlite")
    with EmulatorServer(state_path=state) as first:
        rest(first, "crm.deal.userfield.add", json={"fields": {"FIELD_NAME": "IDENT_ID"}})
        cid = rest(first, "crm.contact.add", json={"fields": {
            "NAME": "Kept", "PHONE": [{"VALUE": "+79990000000"}]}}).json()["result"]
        did = rest(first, "crm.deal.add", json={"fields": {
            "TITLE": "D", "CONTACT_ID": cid, "UF_CRM_IDENT_ID": "R1"}}).json()["result"]
        rest(first, "crm.timeline.comment.add", json={"fields": {
            "ENTITY_ID": did, "ENTITY_TYPE": "deal", "COMMENT": "c"}})
    with EmulatorServer(state_path=state) as second:
        found = rest(second, "crm.duplicate.findbycomm", json={
            "type": "PHONE", "values": ["89990000000"]}).json()["result"]
        assert found == {"CONTACT": [cid]}
        deals = rest(second, "crm.deal.list", json={"filter": {"=UF_CRM_IDENT_ID": "R1"}})
        assert [d["ID"] for d in deals.json()["result"]] == [str(did)]
        assert len(rest(second, "crm.deal.userfield.list").json()["result"]) == 1
        new_cid = rest(second, "crm.contact.add", json={"fields": {"NAME": "N"}}).json()
        assert new_cid["result"] == cid + 1
        contact = rest(second, "crm.contact.add", json={"fields": {
            "PHONE": [{"VALUE": "+1"}]}}).json()["result"]
        phone_ids = [p["PHONE"][0]["ID"] for p in second.control.dump("contact")
                     if p.get("PHONE")]
        assert len(set(phone_ids)) == 2 and contact == cid + 2
        second.control.reset("entities")
    with EmulatorServer(state_path=state) as third:
        assert third.control.dump("contact") == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_cli(*args: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "b24emu", "--port", str(port), "--token", "cli-token", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(base + "/_emu/stats", timeout=1)
            return proc, base
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the CLI emulator did not start")


def test_cli_serves_profile() -> None:
    proc, base = _start_cli("--plan", "standard", "--user-id", "7")
    try:
        body = requests.get(base + "/rest/7/cli-token/profile.json", timeout=5).json()
        assert body["result"]["ID"] == "7"
        cfg = requests.get(base + "/_emu/config", timeout=5).json()
        assert cfg["plan"] == "standard"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert b"cli-token" not in out  # the token is never printed


def test_killed_cli_keeps_its_data(tmp_path: Path) -> None:
    state = str(tmp_path / "demo.sqlite")
    proc, base = _start_cli("--state", state)
    try:
        requests.post(base + "/rest/1/cli-token/crm.contact.add",
                      json={"fields": {"NAME": "Survivor"}}, timeout=5).raise_for_status()
    finally:
        proc.kill()  # SIGKILL: no shutdown hook runs
        proc.communicate(timeout=10)
    proc, base = _start_cli("--state", state)
    try:
        rows = requests.get(base + "/_emu/dump?entity=contact", timeout=5).json()
        assert [r["NAME"] for r in rows] == ["Survivor"]
    finally:
        proc.kill()
        proc.communicate(timeout=10)
