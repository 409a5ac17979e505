"""``crisiswatch``: the command line of the monitoring pipeline.

Every command works on one *home* folder (``--home`` or ``CRISISWATCH_HOME``) that holds
the database, the index, the models and the logs. The commands live by area in
``crisiswatch.commands``; this module gathers them into one group.
"""

import click

from crisiswatch.commands import alerts, bench, db, drill, models, people, reports, search, serving, stages, status
from crisiswatch.commands.common import CONTEXT


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="crisiswatch")
def main():
    """Crisis communication and media monitoring for power outages.

    \b
    Stages:  crawl -> tag -> index -> (search, serve)
    Start with `crisiswatch demo`, which runs them all on the embedded default.
    """


for command in (
    stages.import_command, stages.crawl, stages.tag, stages.index, stages.schedule, stages.publish,
    models.train, models.evaluate, models.pretrain, search.search, status.status, serving.serve, serving.demo,
    bench.bench, people.org, people.user, people.audit, db.db, alerts.alert, reports.report, drill.drill,
):
    main.add_command(command)


if __name__ == "__main__":
    main()
