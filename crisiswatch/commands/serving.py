"""Serving the review UI, and the demo that runs everything."""

from __future__ import annotations

from datetime import timedelta

import click

from core.settings import Settings
from crisiswatch.commands.common import CONTEXT, SPEED, fail, speed_option, stop_on_interrupt, with_home

DEMO_LENGTH = timedelta(minutes=30)  # the demo's scenario day, played at its default speed


@click.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, envvar="CRISISWATCH_PORT", type=click.IntRange(1, 65535))
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes [default: one per core].")
@click.option("--threads", type=click.IntRange(min=1), default=8, show_default=True, help="Threads per worker.")
@click.option("--access-log", default="-", show_default=True, help="Where to write the access log ('-': stdout).")
@with_home
def serve(settings: Settings, host, port, workers, threads, access_log):
    """Serve the review UI with gunicorn until Ctrl-C (or SIGTERM).

    \b
    Behind a login: search with facets, charts and near-duplicate clusters (/), post
    pages where analysts correct tags (/posts/ID), stories (/stories/), incidents with
    fact sheets, releases through drafting, approval and publication, and their
    dashboards (/incidents/), administration of organisations, users and the audit
    log (/admin), the JSON search API (/api/search); /healthz is open for probes.
    SIGHUP restarts the workers gracefully (they open the index and the models afresh).
    """
    from crisiswatch import server
    from crisiswatch.stages import open_store

    if server.port_in_use(host, port):  # gunicorn would retry for 5 s and log five errors
        fail(f"port {port} on {host} is in use (another server?): stop it, or choose another port with --port N")
    open_store(settings).close()  # create or upgrade the database once, before the workers open it
    server.serve(settings, host, port, workers=workers or server.default_workers(), threads=threads,
                 access_log=access_log)


@click.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, envvar="CRISISWATCH_PORT", type=click.IntRange(1, 65535))
@click.option("--sample/--no-sample", default=True, show_default=True,
              help="Also import a slice of the real Weibo corpus from the data folder, when present.")
@click.option("--speed", type=SPEED, callback=speed_option,
              help="How many times faster than the clock the scenario plays [default: its day in 30 minutes]; "
                   "a replay going on keeps its own.")
@with_home
def demo(settings: Settings, host, port, sample, speed):
    """The whole product on the embedded default, until Ctrl-C.

    \b
    Plays the shipped scenario (a typhoon's day in the fictional 滨海市) live: its site on
    loopback publishes the posts, releases and news as their time comes, the crawl jobs
    pick them up each minute (crawl -> tag -> index -> alert rules), and a player sets its
    facts and publishes its releases through the workflow. Trains the classifiers if
    needed (NER then trains in a process of its own, at a lower priority, while the rest
    runs), imports three days of the real Weibo corpus, and serves the review UI as
    `crisiswatch serve` does, with the scenario's organisations, their users (passwords
    printed the first time) and its incident. Stopped, its clock pauses; started again,
    it goes on where it was.
    """
    from crisiswatch.demo import demo_scenario
    from crisiswatch.live import run_live
    from crisiswatch.server import port_in_use

    if port_in_use(host, port):
        fail(f"port {port} on {host} is in use (another demo or server?): stop it, or choose another "
             f"port with --port N (with make: CRISISWATCH_PORT=N make demo)")
    stop_on_interrupt()
    scenario = demo_scenario()
    run_live(settings, scenario, "demo", speed or scenario.length / DEMO_LENGTH, host=host, port=port, sample=sample)
