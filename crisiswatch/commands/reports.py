"""Briefings from the terminal: the daily, special and flash reports (desk.reports)."""

from __future__ import annotations

import importlib.util
import sys
from datetime import date, datetime, time
from pathlib import Path

import click

from core.settings import Settings
from crisiswatch.commands.common import CONTEXT, emit_json, fail, time_option, with_home
from desk.place_map import MAP_FILES
from desk.vocabulary import REPORT_KINDS

FORMATS = ("docx", "pdf", "html")  # desk.reports.FORMATS, named without loading the reports


def _day(_ctx, _param, value: str | None) -> date | None:
    """A day within the years the search takes (one near year 9999 would overflow its window)."""
    from indexes.query import QueryError, check_year

    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write it as 2024-07-31") from None
    try:
        if day is not None:
            check_year(datetime.combine(day, time()))
    except QueryError as err:
        raise click.BadParameter(str(err)) from None
    return day


@click.command(context_settings=CONTEXT)
@click.argument("kind", type=click.Choice(REPORT_KINDS))
@click.option("--incident", type=int, help="The incident of a special report (its query and window).")
@click.option("--query", default="", help="The search the report covers (daily and flash); default: every post.")
@click.option("--date", "day", callback=_day, help="The China-time day of a daily report; default: yesterday.")
@click.option("--since", callback=time_option, help="Start of a flash report (China time); default: 2 hours before --until.")
@click.option("--until", callback=time_option, help="End of a flash report (China time); default: now.")
@click.option("--format", "form", type=click.Choice(FORMATS), default="html", show_default=True,
              help="A Word file, a PDF or a printable page.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True),
              help="Write the report to this file (default: print it; a Word file or PDF only into a pipe).")
@click.option("--json", "as_json", is_flag=True, help="Print the report's figures as one JSON object instead.")
@with_home
def report(settings: Settings, kind, incident, query, day, since, until, form, out, as_json):
    """Make a briefing: a daily report (舆情日报) of one day, a special report (舆情专报) on an
    incident, a flash report (舆情快报) of the last hours.

    \b
    Examples:
      crisiswatch report daily --date 2024-07-24 --format pdf --out daily.pdf
      crisiswatch report special --incident 1 --json
      crisiswatch report flash --query 停电 --since 2024-07-25T10:00
    """
    _check(kind, incident, query, day, since, until)
    if not as_json:
        _check_output(form, out)
    from crisiswatch.stages import open_store
    from desk.clocks import load_clocks
    from desk.database import open_sessions
    from desk.errors import WorkflowError
    from desk.releases import get_incident
    from desk.report_charts import NoChineseFont
    from desk.reports import make_report, render
    from indexes.backends import open_index
    from indexes.errors import IndexUnavailable
    from indexes.query import QueryError

    store = open_store(settings)
    try:
        with open_sessions(store.engine, settings.home)() as session:
            chosen = get_incident(session, incident) if incident is not None else None
            made = make_report(kind, store, open_index(settings), session, load_clocks(settings.home / "clocks.toml"),
                               query=query, day=day, since=since, until=until, incident=chosen,
                               places=settings.own_places)
    except (WorkflowError, IndexUnavailable, QueryError) as err:
        fail(str(err))
    finally:
        store.close()
    if as_json:
        emit_json(made.as_dict())
        return
    try:
        made_file = render(made, form, china_map=_china_map())
    except NoChineseFont as err:
        fail(str(err))
    if not out:
        click.echo(made_file.decode("utf-8") if form == "html" else made_file, nl=form == "html")
        return
    try:
        with open(out, "wb") as handle:
            handle.write(made_file)
    except OSError as err:
        fail(f"cannot write {out}: {err.strerror or err}")
    click.echo(f"{made.title}: {made.total_posts} posts, written to {out}")


def _check_output(form: str, out: str | None) -> None:
    """Before the report is made: a Word file or PDF not printed on a terminal, a folder to
    write ``--out`` into."""
    if out is None:
        if form != "html" and sys.stdout.isatty():
            raise click.UsageError(f"--format {form} writes a binary file, not for the terminal: "
                                   "give --out FILE, or pipe it")
        return
    folder = Path(out).absolute().parent
    if not folder.is_dir():
        fail(f"cannot write {out}: there is no folder {folder}")


def _china_map() -> Path | None:
    """The provinces' GeoJSON the dashboard draws its map with, that ``make`` copies into
    the review UI's static files; without it the places are drawn as bars. Found without
    importing the UI, which would load Flask."""
    folder = Path(importlib.util.find_spec("review_ui").origin).with_name("static") / MAP_FILES
    return folder if folder.is_dir() else None


def _check(kind, incident, query, day, since, until) -> None:
    """Each option goes with the kinds it applies to."""
    if kind == "special" and incident is None:
        raise click.UsageError("a special report needs --incident")
    wrong = [(incident is not None and kind != "special", "--incident", "special"),
             (bool(query) and kind == "special", "--query", "daily and flash (a special report takes its incident's)"),
             (day is not None and kind != "daily", "--date", "daily"),
             ((since or until) is not None and kind != "flash", "--since/--until", "flash")]
    for given, option, kinds in wrong:
        if given:
            raise click.UsageError(f"{option} goes with {kinds} reports")
