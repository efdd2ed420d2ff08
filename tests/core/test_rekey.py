"""A history file from before the one name rule: its names and keys migrated (schema 4)."""

from __future__ import annotations

import logging
import sqlite3
import sys
from pathlib import Path

import pytest

from trio_chat.core.names import fitting_name
from trio_chat.core.passwords import ScryptCost, hash_password
from trio_chat.core.store import MIGRATIONS, SCHEMA_VERSION, HistoryStore

from ..conftest import running_app

CHEAP = ScryptCost(n=2**10, r=8, p=1)
PASSWORD = "correct horse battery"


def schema_3_file(path: Path) -> None:
    """A file as trio_chat wrote it before the rule: names with '.', invisible ones..."""
    hashed = hash_password(PASSWORD, CHEAP)
    with sqlite3.connect(path) as db:
        for step in MIGRATIONS[:3]:
            for statement in step:
                assert isinstance(statement, str)
                db.execute(statement)
        accounts = [
            ("ana", "ana", hashed, 1.0),
            ("j.doe", "J.Doe", hashed, 2.0),
            ("ana\u034f", "ana\u034f", hashed, 0.5),  # older than ana, yet ana keeps "ana"
            ("\u1160", "\u3164", hashed, 3.0),  # a blank name
            ("strasse", "Straße", hashed, 4.0),  # valid, but keyed "straße" now
            ("1ana", "1ana", hashed, 5.0),
        ]
        db.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?)", accounts)
        bans = [
            ("j.doe", "name", "j.doe", None, "op", 1.0),  # follows J.Doe's account
            ("x.y", "name", "x.y", None, "op", 1.0),
            ("\u1160", "name", "\u3164", None, "op", 1.0),
            ("10.0.0.7/32", "address", "10.0.0.7", None, "op", 1.0),
        ]
        db.executemany("INSERT INTO bans VALUES (?, ?, ?, ?, ?, ?)", bans)
        db.execute(
            "INSERT INTO messages VALUES (1, 'strasse', 'Straße', 'ana', 'message', 'hallo', 1.0)"
        )
        db.execute("INSERT INTO topics VALUES ('strasse', 'Straße', 'Verkehr')")
        db.execute("PRAGMA user_version = 3")


def test_names_that_no_longer_fit_are_renamed_to_their_closest_valid_form() -> None:
    assert fitting_name("j.doe") == "j_doe"
    assert fitting_name("1ana") == "_1ana"
    assert fitting_name("ana\u034f") == "ana"
    assert fitting_name("\ufb01sh") == "fish"
    assert fitting_name("\u3164") is None
    assert fitting_name("Zo\u00eb") == "Zo\u00eb"


def test_a_schema_3_file_is_migrated_with_a_log_line_for_each_name_changed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.sqlite3"
    schema_3_file(path)
    with caplog.at_level(logging.INFO):
        store = HistoryStore(path)
    try:
        accounts = store.query("SELECT name_key, name FROM accounts ORDER BY name_key")
        bans = store.query("SELECT target, kind, shown FROM bans ORDER BY target")
        renamed = store.query("SELECT old, new FROM renamed ORDER BY new")
        entries = store.recent("straße", 10, before=sys.maxsize, upto=sys.maxsize)
        topics = store.query("SELECT room_key, topic FROM topics")
    finally:
        store.close()
    assert accounts == [
        ("_1ana", "_1ana"),
        ("ana", "ana"),
        ("ana2", "ana2"),
        ("j_doe", "J_Doe"),
        ("straße", "Straße"),
    ]
    assert bans == [
        ("10.0.0.7/32", "address", "10.0.0.7"),
        ("j_doe", "name", "J_Doe"),
        ("x_y", "name", "x_y"),
    ]
    assert renamed == [("J.Doe", "J_Doe"), ("1ana", "_1ana"), ("ana\u034f", "ana2")]
    assert [entry.event.text for entry in entries] == ["hallo"]
    assert topics == [("straße", "Verkehr")]
    assert SCHEMA_VERSION == 5
    warnings = [r.getMessage() for r in caplog.records if r.name == "trio_chat.core.accounts"]
    assert warnings == [
        "the registered name 'ana\u034f' no longer fits the name rule (see README, Names): "
        "renamed to 'ana2', same password",
        "the registered name 'J.Doe' no longer fits the name rule (see README, Names): "
        "renamed to 'J_Doe', same password",
        "the registered name '\u3164' fits no valid name (see README, Names): "
        "its account is removed; its owner may register a valid name",
        "the registered name '1ana' no longer fits the name rule (see README, Names): "
        "renamed to '_1ana', same password",
        "the ban on the name 'j.doe' now bans 'J_Doe' (the name rule changed)",
        "the ban on the name 'x.y' now bans 'x_y' (the name rule changed)",
        "the ban on the name '\u3164' is lifted: no valid name is like it",
    ]


async def test_a_renamed_user_is_told_the_new_name_and_logs_in_with_it(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    schema_3_file(path)
    async with running_app(db=str(path), scrypt_cost=CHEAP) as chat:
        doe = chat.open()
        await doe.line()  # greeting
        await doe.send(f"/login j.doe {PASSWORD}")
        assert await doe.line() == (
            "! invalid character '.' in name: use letters, digits and _-[]\\`^{}|;"
            " your registered name is now J_Doe: send /login J_Doe PASSWORD"
        )
        await doe.send(f"/login j_doe {PASSWORD}")
        assert (await doe.line()).startswith("! you are banned")  # the ban followed
        strasse = chat.open()
        await strasse.line()
        await strasse.send(f"/login STRAßE {PASSWORD}")
        await strasse.until("*** Welcome, Straße!")
        other = chat.open()
        await other.line()
        await other.send("x.z")  # no account was renamed from it: just the rule
        assert (await other.line()).endswith("; try another name")
