"""Logging: one JSON object per line in production, plain text in the demo and tests.

A JSON line has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``; inside a request also
``request_id``, ``method``, ``path`` and ``route`` (the Flask endpoint); an exception adds ``exception``
(its traceback, for the log only: responses never carry one). gunicorn's access log goes through the same
formatter (see web/gunicorn_conf.py): its fields come from gunicorn's atoms, so nothing is parsed back
out of a formatted string.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

#: gunicorn access-log atoms kept in a JSON access line, and their names there.
ACCESS_FIELDS = {"h": "remote_addr", "m": "method", "U": "path", "q": "query", "s": "status", "B": "bytes",
                 "M": "duration_ms", "a": "user_agent", "{x-request-id}o": "request_id"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            line["message"] = "request"
            for atom, name in ACCESS_FIELDS.items():
                value = record.args.get(atom)
                if value not in (None, "-", ""):
                    line[name] = int(value) if name in ("status", "bytes", "duration_ms") and str(value).isdigit() \
                        else value
        else:
            line["message"] = record.getMessage()
            line.update(_request_fields())
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _request_fields() -> dict[str, object]:
    try:
        from flask import g, has_request_context, request
    except ImportError:  # the CLI without the web extras
        return {}
    if not has_request_context():
        return {}
    fields: dict[str, object] = {"method": request.method, "path": request.path, "route": request.endpoint}
    if request_id := g.get("request_id"):
        fields["request_id"] = request_id
    return fields


def wants_json(log_format: str, production: bool) -> bool:
    return log_format == "json" or (log_format == "auto" and production)


def configure(log_format: str, production: bool, level: int = logging.INFO) -> None:
    """Send the root logger to stderr, as JSON or text (once per process; a second call replaces it)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if wants_json(log_format, production)
                         else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.set_name("harmmap")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "harmmap"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
