"""Searching the index from the terminal."""

from __future__ import annotations

import click

from core.schema import CHINA_TZ
from core.settings import Settings
from crisiswatch.commands.common import CONTEXT, emit_json, fail, time_option, with_home


@click.command(context_settings=CONTEXT)
@click.argument("query", required=False, default="")
@click.option("--platform", multiple=True, help="Only this platform (repeatable): weibo, wechat, tieba, news, gov.")
@click.option("--since", callback=time_option, help="From this date or time (China time), e.g. 2020-02-01.")
@click.option("--until", callback=time_option, help="Up to this date or time (China time), inclusive.")
@click.option("--polarity", multiple=True, type=click.Choice(["negative", "neutral", "positive"]),
              help="Only this polarity (repeatable).")
@click.option("--sentiment", multiple=True, help="Only this sentiment (repeatable): positive, weak_negative, anger, anxiety.")
@click.option("--emotion", multiple=True, help="Only this emotion (repeatable), e.g. fear, anger, sadness.")
@click.option("--topic", multiple=True, help="Only this topic (repeatable), e.g. outage_report, rationing.")
@click.option("--place", multiple=True, help="Only posts about this place (administrative code; repeatable).")
@click.option("--cluster", multiple=True, help="Only this near-duplicate cluster (repeatable).")
@click.option("--verified/--unverified", default=None, help="Only verified (or only unverified) authors.")
@click.option("--rumor", is_flag=True, help="Only posts that are likely rumors.")
@click.option("--rumor-min", type=float, help="Lowest rumor probability (0-1).")
@click.option("--rumor-max", type=float, help="Highest rumor probability (0-1).")
@click.option("--sort", type=click.Choice(["relevance", "newest", "engagement"]), default="relevance", show_default=True)
@click.option("--page", default=1, show_default=True, help="Page number (relevance sort).")
@click.option("--after", type=int, help="Cursor printed by the previous page (newest and engagement sorts).")
@click.option("--per-page", default=20, show_default=True)
@click.option("--interval", type=click.Choice(["day", "hour", "minute"]), default="day", show_default=True,
              help="Buckets of the time histogram (China time).")
@click.option("--json", "as_json", is_flag=True, help="Print the result page as one JSON object.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, writable=True),
              help="Write every page of the results (the first 100,000) to this CSV file, as the UI's export does.")
@with_home
def search(settings: Settings, query, platform, since, until, polarity, sentiment, emotion, topic, place, cluster,
           verified, rumor, rumor_min, rumor_max, sort, page, after, per_page, interval, as_json, csv_file):
    """Search the posts, as the UI's search page does.

    \b
    Words must all occur; "..." is an exact phrase; A OR B; NOT A or -A excludes.
    Examples:
      crisiswatch search '停电 东湖区 -谣言' --sort newest
      crisiswatch search '"全城停电" OR 拉闸限电' --since 2024-07-25 --json
    """
    from crisiswatch.stages import open_store
    from indexes.backends import open_index
    from indexes.errors import IndexUnavailable
    from indexes.query import QueryError, SearchQuery, check_labels
    from indexes.results import search as run_search
    from indexes.serialize import page_as_dict
    from nlp.models import filter_labels

    try:
        q = SearchQuery(
            text=query, platforms=tuple(platform), polarities=tuple(polarity), sentiments=tuple(sentiment),
            emotions=tuple(emotion), topics=tuple(topic), places=tuple(place), clusters=tuple(cluster), verified=verified,
            rumor=rumor, rumor_min=rumor_min, rumor_max=rumor_max, since=since, until=until,
            sort=sort, page=page, after=after, per_page=per_page, interval=interval,
        )
    except QueryError as err:
        fail(str(err))
    try:
        check_labels(q, filter_labels(settings.models_dir))
    except QueryError as err:
        raise click.UsageError(str(err)) from None
    if csv_file:
        _export(open_store(settings), open_index(settings), q, csv_file, settings.own_places)
        return
    try:
        result = run_search(open_store(settings), open_index(settings), q)
    except IndexUnavailable as err:
        fail(str(err))
    if as_json:
        emit_json(page_as_dict(result))
        return
    click.echo(f"{result.total} posts match" + (f" (page {page} of {result.pages})" if q.ranked and result.total else ""))
    for hit in result.hits:
        post, tags = hit.post, hit.post["tags"] or {}
        when = post["created_at"].astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if post["created_at"] else "-"
        label = f"rumor {tags['rumor_prob']:.0%} {tags['sentiment']}" if tags else "untagged"
        click.echo(f"\n#{post['id']} [{post['platform']}] {when}  {label}")
        click.echo("  " + _terminal_snippet(hit.snippet_html))
    for name, counts in result.facets.items():
        if counts:
            click.echo(f"\n{name}: " + ", ".join(f"{value} {count}" for value, count in counts))
    if result.next_after is not None and len(result.hits) == per_page:
        click.echo(f"\nnext page: --after {result.next_after}")


def _export(store, index, query, path: str, own_places) -> None:
    """A file the export could not finish is removed: its first rows would pass for all of them."""
    from pathlib import Path

    from desk.export import MAX_ROWS, export_csv
    from indexes.errors import IndexUnavailable

    opened = False
    try:
        total = index.count(query)
        with open(path, "w", encoding="utf-8", newline="") as out:  # the csv module ends rows with CRLF itself
            opened = True
            out.writelines(export_csv(store, index, query, MAX_ROWS, own_places))
    except (IndexUnavailable, OSError) as err:
        if opened and Path(path).is_file():  # a device such as /dev/stdout is left alone
            Path(path).unlink()
        fail(f"cannot write {path}: {err.strerror or err}" if isinstance(err, OSError) else str(err))
    click.echo(f"{total} posts match; " + (f"the first {MAX_ROWS} written to {path}" if total > MAX_ROWS
                                           else f"written to {path}"))


def _terminal_snippet(snippet_html: str) -> str:
    import html

    bold = click.style("\x00", bold=True).split("\x00")
    return html.unescape(snippet_html.replace("<mark>", bold[0]).replace("</mark>", bold[1]))
