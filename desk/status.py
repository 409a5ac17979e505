"""What a home holds, as one report for `crisiswatch status` and the administrator's page:
posts stored, tagged and indexed per platform, crawl jobs and their health, the models and
whether the precise tier has an encoder."""

from __future__ import annotations

from core import segment
from core.settings import Settings
from core.store import Store
from crawlers.jobs import load_jobs
from indexes.backends import IndexBackend
from nlp.encoder import describe
from nlp.models import model_cards


def report(settings: Settings, store: Store, index: IndexBackend) -> dict:
    """The report as a dict of plain values (the JSON of `crisiswatch status --json`)."""
    counts = store.counts()
    runs = {run["job"]: run for run in store.last_crawl_runs()}
    return {
        "home": str(settings.home),
        "database": store.engine.url.render_as_string(hide_password=True),
        "index": {"backend": settings.index_backend,
                  "location": settings.elasticsearch_url if settings.index_backend == "elasticsearch"
                  else str(settings.index_dir),
                  "documents": index.num_docs()},
        "posts": {c.platform: {"stored": c.stored, "tagged": c.tagged, "indexed": c.indexed} for c in counts},
        "totals": {
            "stored": sum(c.stored for c in counts),
            "tagged": sum(c.tagged for c in counts),
            "indexed": sum(c.indexed for c in counts),
        },
        "jobs": [
            {"name": job.name, "spider": job.spider, "schedule": job.schedule,
             "health": runs.get(job.name, {}).get("status", "never run"), "last_run": runs.get(job.name)}
            for job in load_jobs(settings.jobs_file).values()
        ],
        "models": {
            task: {"version": card["version"], "fallback": card.get("fallback", False),
                   "held_out_macro_f1": card.get("held_out", {}).get("macro_f1")}
            for task, card in model_cards(settings.models_dir).items()
        },
        "tagged_by": store.model_versions(),
        "precise_tier": describe(settings.encoder_dir),
        "segmenter": segment.engine_name(),
    }
