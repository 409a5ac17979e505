"""What a home holds: posts per stage, crawl jobs and their health, models."""

from __future__ import annotations

from datetime import datetime

import click

from core.schema import CHINA_TZ
from core.settings import Settings
from crisiswatch.commands.common import CONTEXT, emit_json, with_home


@click.command(context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
@with_home
def status(settings: Settings, as_json):
    """Posts stored, tagged and indexed per platform; crawl jobs and their health; models."""
    from core import segment
    from crisiswatch.stages import jobs_of, open_store
    from indexes.backends import open_index
    from nlp.models import model_cards

    store = open_store(settings)
    counts = store.counts()
    runs = {run["job"]: run for run in store.last_crawl_runs()}
    cards = model_cards(settings.models_dir)
    value = {
        "home": str(settings.home),
        "database": store.engine.url.render_as_string(hide_password=True),
        "index": {"backend": settings.index_backend,
                  "location": settings.elasticsearch_url if settings.index_backend == "elasticsearch"
                  else str(settings.index_dir),
                  "documents": open_index(settings).num_docs()},
        "posts": {c.platform: {"stored": c.stored, "tagged": c.tagged, "indexed": c.indexed} for c in counts},
        "totals": {
            "stored": sum(c.stored for c in counts),
            "tagged": sum(c.tagged for c in counts),
            "indexed": sum(c.indexed for c in counts),
        },
        "jobs": [
            {"name": job.name, "spider": job.spider, "schedule": job.schedule,
             "health": runs.get(job.name, {}).get("status", "never run"), "last_run": runs.get(job.name)}
            for job in jobs_of(settings).values()
        ],
        "models": {
            task: {"version": card["version"], "fallback": card.get("fallback", False),
                   "held_out_macro_f1": card.get("held_out", {}).get("macro_f1")}
            for task, card in cards.items()
        },
        "tagged_by": store.model_versions(),
        "segmenter": segment.engine_name(),
    }
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
