"""Schema 4 of the history file: what it stores, under the one name rule.

Files written before it keyed names and rooms by NFKC + case folding and let
names hold ``.``, a leading digit or ``-`` and invisible characters, which
the rule of :mod:`trio_chat.core.names` refuses (one rule for text and IRC
users). :func:`rekey` runs once, inside the migration's transaction:

* every registered name gets its new key; a name that no longer fits is
  renamed to its closest valid form (:func:`~trio_chat.core.names.fitting_name`:
  ``j.doe`` -> ``j_doe``, a digit added if that is taken), keeping its
  password, and the rename is remembered (table ``renamed``) so that whoever
  tries the old name is told the new one. A name with no valid form (one
  made only of invisible characters) loses its account. One log line each.
* every name ban gets its new key and follows a renamed account, so that a
  banned user does not come back under the new name;
* room keys of stored messages and topics are recomputed (only names
  outside ASCII change: ASCII lower case is what both mappings do).

Blocking, like the rest of :mod:`~trio_chat.core.store`: runs in a worker thread.
"""

from __future__ import annotations

import logging
import sqlite3

from trio_chat.core.names import MAX_NAME_CHARS, fitting_name, name_key

LOGGER = logging.getLogger("trio_chat.core.accounts")

RENAMED_TABLE = """CREATE TABLE renamed (
    old_key TEXT PRIMARY KEY,
    old TEXT NOT NULL,
    new TEXT NOT NULL
)"""


def rekey(db: sqlite3.Connection) -> None:
    """Rekey accounts, name bans, messages and topics (inside a transaction)."""
    db.execute(RENAMED_TABLE)
    renamed = _rekey_accounts(db)
    _rekey_bans(db, renamed)
    _rekey_rooms(db)


def _rekey_accounts(db: sqlite3.Connection) -> dict[str, str]:
    """New keys for every account; those whose name no longer fits are renamed.

    Returns: the key of the old name -> the new name, for the accounts renamed.
    """
    rows = db.execute(
        "SELECT name, password_hash, created FROM accounts ORDER BY created, name"
    ).fetchall()
    db.execute("DELETE FROM accounts")
    taken: set[str] = set()
    renamed: dict[str, str] = {}
    # Names that still fit keep them first; the renamed ones come after them.
    fits = [row for row in rows if fitting_name(row[0]) == row[0]]
    for name, hashed, created in fits + [row for row in rows if row not in fits]:
        new = _free_form(name, taken)
        if new is None:
            LOGGER.warning(
                "the registered name %r fits no valid name (see README, Names): "
                "its account is removed; its owner may register a valid name",
                name,
            )
            continue
        taken.add(name_key(new))
        db.execute(
            "INSERT INTO accounts (name_key, name, password_hash, created) VALUES (?, ?, ?, ?)",
            (name_key(new), new, hashed, created),
        )
        if new != name:
            renamed[name_key(name)] = new
            db.execute(
                "INSERT OR IGNORE INTO renamed (old_key, old, new) VALUES (?, ?, ?)",
                (name_key(name), name, new),
            )
            LOGGER.warning(
                "the registered name %r no longer fits the name rule (see README, Names): "
                "renamed to %r, same password",
                name,
                new,
            )
    return renamed


def _free_form(name: str, taken: set[str]) -> str | None:
    """The valid form of ``name`` whose key is not ``taken`` (a digit added if need be)."""
    fitting = fitting_name(name)
    if fitting is None:
        return None
    for number in range(1, 1000):
        suffix = "" if number == 1 else str(number)
        candidate = fitting[: MAX_NAME_CHARS - len(suffix)] + suffix
        if name_key(candidate) not in taken:
            return candidate
    return None


def _rekey_bans(db: sqlite3.Connection, renamed: dict[str, str]) -> None:
    rows = db.execute(
        "SELECT target, shown, until, banned_by, created FROM bans WHERE kind = 'name'"
    ).fetchall()
    db.execute("DELETE FROM bans WHERE kind = 'name'")
    kept: dict[str, tuple[str, float | None, str, float]] = {}
    for _, shown, until, by, created in rows:
        new = fitting_name(shown)
        if new != shown:  # it no longer fits: the ban follows a renamed account
            new = renamed.get(name_key(shown), new)
        if new is None:
            LOGGER.warning("the ban on the name %r is lifted: no valid name is like it", shown)
            continue
        if new != shown:
            LOGGER.warning("the ban on the name %r now bans %r (the name rule changed)", shown, new)
        key = name_key(new)
        if key in kept and not _longer(until, kept[key][1]):
            continue
        kept[key] = (new, until, by, created)
    db.executemany(
        "INSERT INTO bans (target, kind, shown, until, banned_by, created)"
        " VALUES (?, 'name', ?, ?, ?, ?)",
        [(key, *entry) for key, entry in kept.items()],
    )


def _longer(until: float | None, other: float | None) -> bool:
    """Whether a ban until ``until`` lasts longer than one until ``other`` (None: for good)."""
    return other is not None and (until is None or until > other)


def _rekey_rooms(db: sqlite3.Connection) -> None:
    rooms = db.execute("SELECT DISTINCT room_key, room FROM messages").fetchall()
    for old_key, room in rooms:
        if name_key(room) != old_key:
            db.execute(
                "UPDATE messages SET room_key = ? WHERE room_key = ? AND room = ?",
                (name_key(room), old_key, room),
            )
    for old_key, room in db.execute("SELECT room_key, room FROM topics").fetchall():
        if name_key(room) != old_key:
            db.execute(
                "UPDATE OR REPLACE topics SET room_key = ? WHERE room_key = ?",
                (name_key(room), old_key),
            )
