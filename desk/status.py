"""What a home holds, as one report for `crisiswatch status` and the administrator's page:
posts stored, tagged and indexed per platform, crawl jobs and their health, the models,
whether the precise tier has an encoder and its models, and how far its tags have come."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from core import segment
from core.settings import Settings
from core.store import PreciseTagRow, Store
from crawlers.jobs import load_jobs
from indexes.backends import IndexBackend
from nlp import precise
from nlp.encoder import FILES, describe
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
        "precise_tier": {**describe(settings.encoder_dir), **precise_progress(settings, store)},
        "segmenter": segment.engine_name(),
    }


def precise_progress(settings: Settings, store: Store, count_left: bool = True) -> dict:
    """The precise tier's models (per task: when trained and its held-out macro-F1, or the
    command that trains it; ``training`` while a training's checkpoint is in the home), with
    both models how many posts carry tags of their version and how many are left, and its
    ``state`` as the UI tells it: "training" while a model trains, else "ready" with both
    models, else None. Without ``count_left`` (a count over every tagged post) ``left`` is None."""
    from nlp.precise_train import training_dir  # here: it brings scikit-learn

    models = {}
    for task in precise.TASKS:
        folder = precise.model_dir(settings.models_dir, task)
        training = training_dir(settings.models_dir, task).is_dir()
        damaged = precise.model_problem(settings.models_dir, task)
        if damaged is None:
            card = json.loads((folder / precise.CARD).read_text(encoding="utf-8"))
            models[task] = {"trained": True, "training": training, "trained_at": card.get("trained_at"),
                            "held_out_macro_f1": card.get("held_out", {}).get("macro_f1")}
        else:
            models[task] = {"trained": False, "training": training,
                            "train": f"crisiswatch train {task} --tier precise"}
            if all((folder / name).is_file() for name in (*FILES, precise.CARD)):
                models[task]["damaged"] = damaged
    state = "training" if any(model["training"] for model in models.values()) else None
    if not all(model["trained"] for model in models.values()):
        return {"models": models, "tagged": None, "left": None, "state": state}
    version = precise.tier_version(settings.models_dir)
    with store.engine.connect() as conn:
        tagged = conn.execute(select(func.count()).select_from(PreciseTagRow)
                              .where(PreciseTagRow.model_version == version)).scalar_one()
    return {"models": models, "tagged": tagged, "left": store.count_to_tag_precisely(version) if count_left else None,
            "state": state or "ready"}
