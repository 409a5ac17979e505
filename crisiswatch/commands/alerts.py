"""Early warning: monitoring schemes, their alert rules, and the alerts they open."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import click

from core.schema import CHINA_TZ
from core.settings import Settings
from crisiswatch.commands.common import CONTEXT, emit_json, fail, time_option, with_home
from crisiswatch.commands.people import CLI_ACTOR


@contextmanager
def _desk(settings: Settings):
    """The home's store and a session on its desk's tables; a refusal of the desk is one
    line and exit 1."""
    from crisiswatch.stages import open_store
    from desk.database import open_sessions
    from desk.errors import WorkflowError

    store = open_store(settings)
    try:
        sessions = open_sessions(store.engine, settings.home)
    except ValueError as err:  # the home's audit key is lost or damaged: it says what to do
        fail(str(err))
    try:
        with sessions() as session:
            yield store, session
            session.commit()
    except WorkflowError as err:
        fail(str(err))
    finally:
        store.close()


def _duration(_ctx, _param, value: str | None) -> int | None:
    from desk.alert_rules import parse_duration

    try:
        return None if value is None else parse_duration(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


def _levels(_ctx, _param, value: str | None) -> list[float] | None:
    if value is None:
        return None
    try:
        return [float(part) for part in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not three numbers such as 5,10,20") from None


def _china(value: datetime | None) -> str:
    """A time (naive: UTC, as stored) in China time, to the minute."""
    if value is None:
        return "-"
    aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return aware.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def _org(session, name: str):
    """The organisation named, or the desk's refusal."""
    from desk import accounts
    from desk.errors import Invalid

    owner = accounts.find_organisation(session, name)
    if owner is None:
        raise Invalid("unknown_org", org=name)
    return owner


def _user(session, username: str):
    """The user named, or the desk's refusal."""
    from desk import accounts
    from desk.errors import Invalid

    user = accounts.find_user(session, username)
    if user is None:
        raise Invalid("unknown_user", user=username)
    return user


@click.group(context_settings=CONTEXT)
def alert():
    """Early warning (预警): monitoring schemes, alert rules, and the alerts they open.

    \b
    crisiswatch alert scheme add 龙华停电 --query '停电 龙华区' --org 海口供电局
    crisiswatch alert rule add 龙华停电 --kind spike --window 15m --ratio 3
    crisiswatch alert check && crisiswatch alert list
    """


@alert.group(context_settings=CONTEXT)
def scheme():
    """Monitoring schemes (监测方案): saved searches that the rules watch."""


@scheme.command("add", context_settings=CONTEXT)
@click.argument("name")
@click.option("--query", "text", default="", help="Words to find, as on the search page: A OR B, NOT A or -A excludes.")
@click.option("--org", required=True, help="The organisation that owns it, by name.")
@click.option("--platform", multiple=True, help="Only this platform (repeatable).")
@click.option("--place", multiple=True, help="Only posts about this place (administrative code; repeatable).")
@with_home
def scheme_add(settings: Settings, name, text, org, platform, place):
    """Save a monitoring scheme."""
    from desk import alerts

    with _desk(settings) as (_, session):
        alerts.add_scheme(session, name, _org(session, org), text, platform, place, actor=CLI_ACTOR)
    click.echo(f"created monitoring scheme {name}")


@scheme.command("list", context_settings=CONTEXT)
@with_home
def scheme_list(settings: Settings):
    """List the monitoring schemes with their rules, durations as their options take them (15m)."""
    from desk import accounts, alerts
    from desk.alert_rules import duration_label

    durations = ("window", "baseline", "cool_down")  # seconds in the rule
    with _desk(settings) as (_, session):
        for item in alerts.list_schemes(session):
            owner = accounts.get_organisation(session, item.org_id)
            click.echo(f"{item.name}\t{owner.name}\t{item.text}\t{','.join(item.platforms)}\t{','.join(item.places)}")
            for rule in alerts.list_rules(session, item):
                options = " ".join(f"{name}={duration_label(value) if name in durations else value}"
                                   for name, value in rule.params.items())
                click.echo(f"  rule {rule.id}: {rule.kind} {options}".rstrip() + f" levels {rule.levels}")


@scheme.command("remove", context_settings=CONTEXT)
@click.argument("name")
@with_home
def scheme_remove(settings: Settings, name):
    """Stop watching a scheme (its alerts are kept)."""
    from desk import alerts

    with _desk(settings) as (_, session):
        alerts.remove_scheme(session, alerts.find_scheme(session, name), actor=CLI_ACTOR)
    click.echo(f"removed monitoring scheme {name}")


@alert.group(context_settings=CONTEXT)
def account():
    """Watched accounts (重点账号) of an organisation, for its account rules."""


@account.command("add", context_settings=CONTEXT)
@click.argument("platform")
@click.argument("account_id", metavar="ACCOUNT_ID")
@click.option("--org", required=True, help="The organisation that watches it, by name.")
@click.option("--name", default="", help="The account's name, as shown.")
@with_home
def account_add(settings: Settings, platform, account_id, org, name):
    """Watch an account of a platform (weibo, wechat, tieba, news, gov) by its id there."""
    from desk import alerts

    with _desk(settings) as (_, session):
        alerts.watch_account(session, _org(session, org), platform, account_id, name, actor=CLI_ACTOR)
    click.echo(f"{org} watches {platform} account {account_id}")


@account.command("list", context_settings=CONTEXT)
@click.option("--org", help="Only this organisation's, by name.")
@with_home
def account_list(settings: Settings, org):
    """List the watched accounts: organisation, platform, id, name, when added."""
    from desk import accounts, alerts

    with _desk(settings) as (_, session):
        for item in alerts.watched_accounts(session, _org(session, org) if org else None):
            owner = accounts.get_organisation(session, item.org_id)
            click.echo(f"{owner.name}\t{item.platform}\t{item.account_id}\t{item.account_name}\t"
                       f"{_china(item.added_at)}")


@account.command("remove", context_settings=CONTEXT)
@click.argument("platform")
@click.argument("account_id", metavar="ACCOUNT_ID")
@click.option("--org", required=True, help="The organisation that watches it, by name.")
@with_home
def account_remove(settings: Settings, platform, account_id, org):
    """Stop watching an account."""
    from desk import alerts

    with _desk(settings) as (_, session):
        alerts.unwatch_account(session, _org(session, org), platform, account_id, actor=CLI_ACTOR)
    click.echo(f"{org} no longer watches {platform} account {account_id}")


@alert.group(context_settings=CONTEXT)
def rule():
    """Alert rules on a scheme."""


@rule.command("add", context_settings=CONTEXT)
@click.argument("scheme_name", metavar="SCHEME")
@click.option("--kind", required=True, help="spike, share, keyword, rumor, account or clock.")
@click.option("--window", callback=_duration, help="The recent window, e.g. 15m [default 15m].")
@click.option("--baseline", callback=_duration, help="The trailing baseline before it, e.g. 12h [default 12h].")
@click.option("--cool-down", callback=_duration, help="How long an alert waits for its condition to return [30m].")
@click.option("--ratio", type=float, help="spike: fires at this ratio of the window to the baseline's rate [3].")
@click.option("--min-count", type=int, help="Fires only with this many posts in the window [20; keyword 1].")
@click.option("--share", type=float, help="share: fires at this share of negative posts (0-1) [default 0.5].")
@click.option("--sentiment", multiple=True,
              help="share, account: a sentiment counted (repeatable) [weak_negative, anger, anxiety].")
@click.option("--word", multiple=True, help="keyword: a sensitive word (repeatable).")
@click.option("--probability", type=float,
              help="rumor, account: counts posts of this rumor probability or more [0.5].")
@click.option("--rate", type=float, help="rumor: fires for a cluster seen before at this many posts an hour [20].")
@click.option("--elapsed", type=float, help="clock: fires once this share of a running clock has gone [0.8].")
@click.option("--levels", callback=_levels,
              help="The figure's thresholds of levels III, II and I, e.g. 5,10,20 [the kind's, from its threshold].")
@with_home
def rule_add(settings: Settings, scheme_name, kind, window, baseline, cool_down, ratio, min_count, share, sentiment,
             word, probability, rate, elapsed, levels):
    """Add a rule to a scheme: spike (posts in the window against the baseline's rate), share
    (the share of negative posts), keyword (any of a word list), rumor (a new rumor cluster,
    or one growing at a rate), account (negative or rumor-like posts of a watched account),
    clock (an incident's rumor clock near its end, unanswered)."""
    from desk import alerts

    given = {"window": window, "baseline": baseline, "cool_down": cool_down, "ratio": ratio, "min_count": min_count,
             "share": share, "sentiments": list(sentiment), "words": list(word), "probability": probability,
             "rate": rate, "elapsed": elapsed}
    params = {name: value for name, value in given.items() if value not in (None, [])}
    with _desk(settings) as (_, session):
        added = alerts.add_rule(session, alerts.find_scheme(session, scheme_name), kind, params, levels,
                                actor=CLI_ACTOR)
        click.echo(f"added rule {added.id}: {kind} on {scheme_name}")


@alert.command("check", context_settings=CONTEXT)
@click.option("--at", "at", callback=time_option,
              help="Evaluate as at this time (China time) instead of now; an alert found since is left as it is "
                   "(to look at the past, use alert backtest).")
@with_home
def check(settings: Settings, at):
    """Evaluate every rule now: prints the alerts opened and updated."""
    from desk import alerts
    from desk.clocks import load_clocks
    from indexes.backends import open_index
    from indexes.errors import IndexUnavailable

    with _desk(settings) as (store, session):
        try:
            changes = alerts.check(session, store, open_index(settings), at, actor="system",
                                   clocks=load_clocks(settings.home / "clocks.toml"))
        except IndexUnavailable as err:
            fail(str(err))
        for change in changes:
            item = change.alert
            click.echo(f"{'opened' if change.opened else 'updated'} alert {item.id}: level {item.level} "
                       f"{change.rule.kind} {item.key}, {item.count} posts against {item.baseline} expected")
    if not changes:
        click.echo("no alert")


@alert.command("backtest", context_settings=CONTEXT)
@click.option("--since", required=True, callback=time_option, help="From this time (China time).")
@click.option("--until", required=True, callback=time_option, help="Up to this time (China time).")
@click.option("--every", default="5m", show_default=True, callback=_duration, help="Evaluate at this step.")
@click.option("--json", "as_json", is_flag=True, help="Print the alerts as a JSON list.")
@with_home
def backtest(settings: Settings, since, until, every, as_json):
    """Replay the stored posts: evaluate every rule as at each step from --since to --until,
    counting only the posts up to it, and list the alerts that would have opened (none is
    written)."""
    from desk import alerts
    from desk.clocks import load_clocks
    from indexes.backends import open_index
    from indexes.errors import IndexUnavailable

    if since > until:
        raise click.BadParameter("--since is after --until", param_hint="--since")
    with _desk(settings) as (store, session):
        try:
            fired = alerts.backtest(session, store, open_index(settings), since, until, timedelta(seconds=every),
                                    load_clocks(settings.home / "clocks.toml"))
        except IndexUnavailable as err:
            fail(str(err))
        if as_json:
            emit_json([alerts.fired_json(item) for item in fired])
            return
        for item in fired:
            found, reached = item.finding, item.reached
            click.echo("\t".join([_china(item.opened_at), f"level {item.level} at {_china(item.reached_at)}",
                                  f"{item.rule.kind} {found.key}",
                                  f"{reached.count} posts against {reached.baseline} expected",
                                  f"first post {_china(found.first_post_at)}", f"/?{found.query}"]))
    if not fired:
        click.echo("no alert")


@alert.command("list", context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print the alerts as a JSON list.")
@with_home
def list_alerts(settings: Settings, as_json):
    """List the alerts, the newest first."""
    from desk import accounts, alerts

    with _desk(settings) as (_, session):
        found = alerts.list_alerts(session)
        org_names = {org.id: org.name for org in accounts.list_organisations(session)}
        if as_json:
            emit_json([alerts.as_json(item, item_rule, org_names) for item, item_rule in found])
            return
        for item, item_rule in found:
            escalated = (f"\tescalated to {org_names[item.escalated_to_org_id]} {_china(item.escalated_at)}"
                         if item.escalated_to_org_id else "")
            click.echo(f"{item.id}\t{item.level}\t{item.state}\t{item_rule.kind} {item.key}\t{item.count} posts\t"
                       f"opened {_china(item.opened_at)}\tfirst post {_china(item.first_post_at)}\t/?{item.query}"
                       + escalated)


@alert.command("ack", context_settings=CONTEXT)
@click.argument("alert_id", metavar="ID", type=int)
@with_home
def ack(settings: Settings, alert_id):
    """Acknowledge an alert (研判): it is being handled."""
    from desk import alerts

    with _desk(settings) as (_, session):
        item = alerts.get_alert(session, alert_id)
        alerts.acknowledge(session, item, actor=CLI_ACTOR)
        click.echo(f"alert {alert_id}: {item.state}")


@alert.command("assign", context_settings=CONTEXT)
@click.argument("alert_id", metavar="ID", type=int)
@click.option("--to", "username", help="The user who handles it.")
@click.option("--org", help="The organisation that handles it, by name.")
@click.option("--due", callback=time_option, help="Handled by this time (China time) [default: the shortest clock from now].")
@with_home
def assign(settings: Settings, alert_id, username, org, due):
    """Assign an alert to a person or an organisation, with a due time."""
    from desk import alerts
    from desk.clocks import load_clocks

    if (username is None) == (org is None):
        fail("an alert is assigned to a person or to an organisation: give --to USER or --org ORG, one of them")
    now = datetime.now(timezone.utc)
    if due is None:
        due = alerts.default_due([clock.hours for clock in load_clocks(settings.home / "clocks.toml")], now)
    with _desk(settings) as (_, session):
        item = alerts.get_alert(session, alert_id)
        user = _user(session, username) if username else None
        owner = _org(session, org) if org else None
        alerts.assign(session, item, due, user=user, org=owner, actor=CLI_ACTOR, now=now)
        click.echo(f"alert {alert_id}: {item.state}, assigned to {username or org}, due {_china(due)}")


@alert.command("link", context_settings=CONTEXT)
@click.argument("alert_id", metavar="ID", type=int)
@click.option("--incident", "incident_id", required=True, type=int, help="The incident's id.")
@with_home
def link(settings: Settings, alert_id, incident_id):
    """Link an alert to the incident it is part of (the incident's page lists it)."""
    from desk import alerts, releases

    with _desk(settings) as (_, session):
        item = alerts.get_alert(session, alert_id)
        incident = releases.get_incident(session, incident_id)
        alerts.link_incident(session, item, incident, actor=CLI_ACTOR)
        click.echo(f"alert {alert_id}: linked to incident {incident_id} {incident.title}")


@alert.command("close", context_settings=CONTEXT)
@click.argument("alert_id", metavar="ID", type=int)
@with_home
def close(settings: Settings, alert_id):
    """Close an alert."""
    from desk import alerts

    with _desk(settings) as (_, session):
        item = alerts.get_alert(session, alert_id)
        alerts.close(session, item, actor=CLI_ACTOR)
        click.echo(f"alert {alert_id}: {item.state}")


@alert.group(context_settings=CONTEXT)
def recipient():
    """Who a scheme's alerts go to: channels of <home>/channels.toml, for a person or not."""


def _recipient_options(command):
    """SCHEME and the options that name a recipient: the same to add one and to remove it."""
    for option in reversed([
        click.argument("scheme_name", metavar="SCHEME"),
        click.option("--org", required=True, help="The organisation whose channel it is, by name."),
        click.option("--channel", help="The channel's name in the channels file [--copy: every channel]."),
        click.option("--user", "username", help="The person the channel reaches (their quiet hours apply)."),
        click.option("--copy", "on_escalation", is_flag=True, help="A department copied when an alert is escalated."),
        with_home,
    ]):
        command = option(command)
    return command


def _named(session, org: str, username: str | None):
    """The organisation and the person (or None) that a recipient's options name."""
    return _org(session, org), _user(session, username) if username else None


def _where(org: str, channel: str | None, username: str | None, on_escalation: bool) -> str:
    return (f"{'copied on escalation to' if on_escalation else 'go to'} {org} / {channel or 'every channel'}"
            + (f" for {username}" if username else ""))


@recipient.command("add", context_settings=CONTEXT)
@_recipient_options
def recipient_add(settings: Settings, scheme_name, org, channel, username, on_escalation):
    """Send a scheme's alerts to a channel, or copy them to a department on escalation."""
    from desk import alert_outbox, alerts
    from desk.errors import Invalid
    from desk.outbox import ChannelConfigError, load_channels

    with _desk(settings) as (_, session):
        owner, user = _named(session, org, username)
        try:
            channels = load_channels(settings.channels_file)
        except ChannelConfigError as err:
            raise Invalid("channels_file", error=err) from None
        alert_outbox.add_recipient(session, alerts.find_scheme(session, scheme_name), owner, channel,
                                   user and user.id, on_escalation, actor=CLI_ACTOR, channels=channels)
    click.echo(f"{scheme_name}: alerts {_where(org, channel, username, on_escalation)}")


@recipient.command("remove", context_settings=CONTEXT)
@_recipient_options
def recipient_remove(settings: Settings, scheme_name, org, channel, username, on_escalation):
    """Stop sending a scheme's alerts to a recipient, named by the options it was added with."""
    from desk import alert_outbox, alerts

    with _desk(settings) as (_, session):
        owner, user = _named(session, org, username)
        scheme = alerts.find_scheme(session, scheme_name)
        found = alert_outbox.find_recipient(session, scheme, owner, channel, user and user.id, on_escalation)
        alert_outbox.remove_recipient(session, scheme, found, actor=CLI_ACTOR)
    click.echo(f"{scheme_name}: alerts no longer {_where(org, channel, username, on_escalation)}")


@recipient.command("list", context_settings=CONTEXT)
@click.argument("scheme_name", metavar="SCHEME")
@with_home
def recipient_list(settings: Settings, scheme_name):
    """List where a scheme's alerts go."""
    from desk import accounts, alert_outbox, alerts

    with _desk(settings) as (_, session):
        for item in alert_outbox.recipients(session, alerts.find_scheme(session, scheme_name)):
            user = accounts.get_user(session, item.user_id) if item.user_id else None
            click.echo(f"{accounts.get_organisation(session, item.org_id).name}\t{item.channel or '*'}\t"
                       f"{user.username if user else '-'}\t{'copy' if item.on_escalation else 'alerts'}")


def _quiet(_ctx, _param, value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    try:
        starts, ends = (datetime.strptime(part, "%H:%M").strftime("%H:%M") for part in value.split("-"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a span of China time such as 22:00-07:00") from None
    if starts == ends:
        raise click.BadParameter(f"{value!r} starts and ends at the same time; give a span such as 22:00-07:00")
    return starts, ends


@alert.command("quiet", context_settings=CONTEXT)
@click.argument("username", metavar="USER")
@click.argument("hours", required=False, callback=_quiet, metavar="[22:00-07:00]")
@with_home
def quiet(settings: Settings, username, hours):
    """Set a person's quiet hours (China time), when only levels II and I reach them; without HOURS, end them."""
    from desk import alert_outbox

    with _desk(settings) as (_, session):
        alert_outbox.set_quiet_hours(session, _user(session, username).id, hours, actor=CLI_ACTOR)
    click.echo(f"{username}: quiet hours {'-'.join(hours)}" if hours else f"{username}: no quiet hours")


@alert.command("deliver", context_settings=CONTEXT)
@click.option("--at", "at", callback=time_option, help="As at this time (China time) instead of now.")
@with_home
def deliver(settings: Settings, at):
    """Escalate the alerts not acknowledged in time, then send the alerts' notices that are due.

    \b
    The scheduler (`crisiswatch schedule`) does this every 15 s. Exits 1 when an attempt failed.
    """
    from crisiswatch.publishing import deliver_alerts
    from crisiswatch.stages import open_store
    from desk.outbox import ChannelConfigError, load_channels
    from desk.states import DeliveryStatus

    try:
        load_channels(settings.channels_file)
    except ChannelConfigError as err:
        fail(str(err))
    open_store(settings).close()  # the database brought to the head first
    results = deliver_alerts(settings, at)
    attempted = [result for result in results if result.status != DeliveryStatus.CANCELLED]
    for result in attempted:
        line = f"{result.status:9} alert {result.alert_id} -> {result.org} / {result.channel}"
        click.echo(line + (f": {result.error} (attempt {result.attempts})" if result.error else ""))
    failed = sum(1 for result in attempted if result.status != DeliveryStatus.DELIVERED)
    click.echo(f"{len(attempted)} notices attempted, {failed} failed")
    if len(results) > len(attempted):
        click.echo(f"{len(results) - len(attempted)} notices cancelled, their alert closed before they went")
    if failed:
        raise SystemExit(1)
