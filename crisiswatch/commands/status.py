"""What a home holds: posts per stage, crawl jobs and their health, models."""

from __future__ import annotations

from datetime import datetime

import click

from core.schema import CHINA_TZ
from core.settings import Settings
from crisiswatch.commands.common import CONTEXT, emit_json, fail, with_home


@click.command(context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
@with_home
def status(settings: Settings, as_json):
    """Posts stored, tagged and indexed per platform; crawl jobs and their health; models."""
    from crawlers.jobs import JobError
    from crisiswatch.stages import open_store
    from desk.status import report
    from indexes.backends import open_index

    try:
        value = report(settings, open_store(settings), open_index(settings))
    except JobError as err:
        fail(str(err))
    if as_json:
        emit_json(value)
        return
    click.echo(f"home      {value['home']}\ndatabase  {value['database']}\nsegmenter {value['segmenter']}")
    click.echo(f"index     {settings.index_backend}, {value['index']['documents']} documents\n")
    click.echo(f"{'platform':10} {'stored':>10} {'tagged':>10} {'indexed':>10}")
    for platform, row in value["posts"].items():
        click.echo(f"{platform:10} {row['stored']:>10} {row['tagged']:>10} {row['indexed']:>10}")
    t = value["totals"]
    click.echo(f"{'total':10} {t['stored']:>10} {t['tagged']:>10} {t['indexed']:>10}\n")
    for job in value["jobs"]:
        last = job["last_run"]
        detail = ""
        if last:  # stored in UTC (the JSON keeps it so); shown in China time, as everywhere else
            started = datetime.fromisoformat(last["started_at"]).astimezone(CHINA_TZ)
            detail = f"last run {started:%Y-%m-%d %H:%M:%S} (China time): {last['pages']} pages, {last['stored']} new"
        click.echo(f"job {job['name']:20} {job['health']:10} {job['schedule']:14} {detail}")
    for task, model in value["models"].items():
        quality = "FALLBACK (no trained model)" if model["fallback"] else f"held-out macro-F1 {model['held_out_macro_f1']}"
        click.echo(f"model {task:10} {model['version']:36} {quality}")
    for version, count in value["tagged_by"].items():
        click.echo(f"tagged {count:>9} posts with {version}")
    tier = value["precise_tier"]
    for task, model in tier["models"].items():
        training = " (training: its checkpoint is in the home)" if model["training"] else ""
        if model["trained"]:
            click.echo(f"precise {task:9} trained {model['trained_at']}, "
                       f"held-out macro-F1 {model['held_out_macro_f1']}{training}")
        elif "damaged" in model:
            click.echo(f"precise {task:9} unusable: {model['damaged']}{training}")
        else:
            click.echo(f"precise {task:9} not trained: {model['train']}{training}")
    if tier["tagged"] is not None:
        click.echo(f"precise tags: {tier['tagged']} posts by the current models, {tier['left']} left")
    if tier["on"]:
        click.echo(f"precise tier: on (encoder {tier['encoder']}, {tier['size_mb']} MB)")
    else:
        click.echo(f"precise tier: off ({tier['problem']})")
