"""The process's log, on stderr: text lines for people (the default), or one JSON object per
line for log pipelines (EKS_ACCESS_LOG_FORMAT=json).

In JSON mode every line the process writes to stderr is one object: the bot's own lines and
those of the libraries (Alembic, waitress, APScheduler, Bolt, slack_sdk, urllib3), Python
warnings, and tracebacks, which are a field (`exc_info`) of their line, crashes included.
Each line has `time` (ISO 8601, UTC), `level`, `logger` and `message`, and `grant_id`,
`actor` and `cluster` when the work in progress concerns them (bot.services.log_context).

Whatever the format, the secrets the process holds (Slack tokens, the signing secret, the
database password) are replaced by `***` in every line before it is written: the bot never
logs them, and neither may a library's message or a traceback that happens to contain one.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from bot.services.log_context import current

#: Today's text format, kept as the default.
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Shorter secrets are not searched for in lines: they would mask ordinary words.
SHORTEST_SECRET = 8
#: Loggers that say too much at INFO: every scheduler tick, every Alembic plugin loaded.
QUIET = ("apscheduler", "alembic.runtime.plugins")

log = logging.getLogger("eks-access")


class OperationFields(logging.Filter):
    """Puts the fields of the work in progress on each record (`extra=` given at the call
    wins): grant_id, actor, cluster."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in current().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonLines(JsonFormatter):
    """One JSON object per record: time, level, logger, message, then any fields."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class Redacting(logging.Formatter):
    """Formats with `inner`, then masks each secret, as written and as JSON escapes it."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self.inner = inner
        forms = {f for s in secrets if len(s) >= SHORTEST_SECRET for f in (s, _json_escaped(s))}
        self.forms = sorted(forms, key=len, reverse=True)  # a longer form first: no leftovers

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record)
        for form in self.forms:
            line = line.replace(form, "***")
        return line


def _json_escaped(secret: str) -> str:
    return json.dumps(secret)[1:-1]


def log_handler(
    log_format: str, *, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> logging.Handler:
    """A handler writing `log_format` lines to `stream` (stderr), with the fields of the work
    in progress, secrets masked."""
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.addFilter(OperationFields())
    inner = JsonLines() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(Redacting(inner, secrets))
    return handler


def configure_logging(log_format: str, *, secrets: Iterable[str] = ()) -> None:
    """The process's log: one handler on the root logger (replacing any), at INFO. In JSON
    mode Python warnings and uncaught exceptions (of any thread) become JSON lines too."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(log_handler(log_format, secrets=secrets))
    root.setLevel(logging.INFO)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    if log_format == "json":
        logging.captureWarnings(True)
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_thread_death


def _log_uncaught(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        log.info("interrupted")
        return
    log.critical("eks-access stopped: %s", error or kind.__name__, exc_info=(kind, error, trace))


def _log_thread_death(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "a thread"
    log.critical(
        "%s stopped: %s",
        name,
        args.exc_value or args.exc_type.__name__,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),  # type: ignore[arg-type]
    )
