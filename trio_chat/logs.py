"""How the server's log looks: ``--log-format text`` (for people) or ``json`` (for collectors).

Theory of operation
-------------------
Modules log through ``logging.getLogger(__name__)`` with %-args, as usual.
A call site that describes a connection event adds structured fields in one
dict under ``extra={"fields": ...}``, for example::

    LOGGER.info("%s joined from %s", name, peer,
                extra={"fields": {"event": "registered", "address": peer, "name": name}})

(One dict, because ``logging`` refuses ``extra`` keys that clash with a
record's own attributes, ``name`` among them, and would raise at the call.)

The text format shows only the message. The JSON format writes one object
per line: ``time`` (ISO 8601, UTC, milliseconds), ``level``, ``logger``,
``message``, then those of :data:`FIELDS` the call site gave, and
``exception`` (the traceback) if there is one.

Secrets: only the fields named in :data:`FIELDS` are ever copied, so a stray
``{"password": ...}`` is not written. No call site
logs the text of a line a client sent; the only client-chosen text in the
log is names, room names and ``/quit`` reasons, all of which other users
see anyway. A password command must keep it that way.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# The structured fields a log call may give in ``extra={"fields": {...}}``, in output order.
FIELDS = ("event", "address", "name", "old_name", "reason", "room", "connections")
# The text format, as it always was.
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(message)s"
TEXT_DATE_FORMAT = "%H:%M:%S"
LOG_FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        given = getattr(record, "fields", None)
        if isinstance(given, dict):
            for field in FIELDS:
                if given.get(field) is not None:
                    entry[field] = given[field]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str, log_format: str = "text") -> None:
    """Send the process's log to stderr at ``level``, in ``log_format`` (text or json)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, TEXT_DATE_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
