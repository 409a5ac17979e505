"""What every command shares: the ``--home`` option, errors and JSON output."""

from __future__ import annotations

import json
import math
import signal
import sys
from functools import wraps
from pathlib import Path

import click

from core.settings import DEFAULT_HOME, Settings

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def with_home(command):
    """Add ``--home`` to a command and pass it the loaded ``Settings``."""

    @click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="CRISISWATCH_HOME",
        default=None,
        help=f"Folder holding the database, index, models and logs [env CRISISWATCH_HOME; default {DEFAULT_HOME}].",
    )
    @wraps(command)
    def wrapper(*args, home, **kwargs):
        try:
            settings = Settings.load(home)
        except ValueError as err:  # a setting's variable that is wrong (CRISISWATCH_SITE_URL not a URL)
            fail(str(err))
        try:
            return command(settings, *args, **kwargs)
        except Exception as err:  # a full disk, or a database a newer release upgraded, is one line, not a traceback
            from core.disk import disk_full_message, is_disk_full
            from desk.migrations import NewerDatabase

            if isinstance(err, NewerDatabase):
                fail(str(err))
            if not is_disk_full(err):
                raise
            fail(disk_full_message(f"crisiswatch {click.get_current_context().command.name}", settings.home))

    return wrapper


def stop_on_interrupt() -> None:
    """Ctrl-C and SIGTERM stop a long-running command cleanly (as KeyboardInterrupt), even
    when it was started from a shell that ignores SIGINT, as shells do for background jobs."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)


def fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(1)


def emit_json(value) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


# A replay's speed (demo, drill): at most its day in under nine seconds, a finite number above 0.
SPEED = click.FloatRange(min=0, min_open=True, max=10_000)


def speed_option(_ctx, _param, value: float | None):
    """A ``SPEED``, nan refused too (a range lets it through, and a replay's clock cannot run on it)."""
    if value is not None and math.isnan(value):
        raise click.BadParameter("nan is not a speed")
    return value


def time_option(_ctx, param, value: str | None):
    """A time option (China time; an ``--until`` date means the day's end), or a usage error
    that says what is wrong."""
    from indexes.query import QueryError, parse_time

    try:
        return parse_time(value, end_of_day=param.name == "until")
    except QueryError as err:
        raise click.BadParameter(str(err)) from None
