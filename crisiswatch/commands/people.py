"""Organisations, users and the audit log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from core.settings import Settings
from crisiswatch.commands.common import CONTEXT, fail, with_home
from desk.vocabulary import ORG_KINDS, ORG_LEVELS, ROLES

CLI_ACTOR = "cli"  # who the audit log names for changes made here
ROLE_CHOICES = click.Choice(ROLES)
LEVEL_CHOICES = click.Choice(ORG_LEVELS)


def _workflow_session(settings: Settings):
    """A session on the workflow's tables of this home (created if missing)."""
    from core.store import Store
    from desk.database import open_sessions

    settings.ensure_home()
    try:
        return open_sessions(Store(settings.database_url).engine, settings.home)()
    except ValueError as err:  # the home's audit key is lost or damaged: it says what to do
        fail(str(err))


@click.group(context_settings=CONTEXT)
def org():
    """Organisations: government bodies and enterprises."""


@org.command("add", context_settings=CONTEXT)
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(ORG_KINDS))
@click.option("--level", required=True, type=LEVEL_CHOICES,
              help="government: province, city, county or department; enterprise: company or branch.")
@click.option("--parent", help="The organisation it belongs under, by name.")
@with_home
def org_add(settings: Settings, name, kind, level, parent):
    """Create an organisation."""
    from desk import accounts

    with _workflow_session(settings) as session:
        try:
            above = accounts.find_organisation(session, parent) if parent else None
            if parent and above is None:
                raise accounts.AccountError("org_unknown", name=parent)
            accounts.create_organisation(session, name, kind, level, above, actor=CLI_ACTOR)
        except accounts.AccountError as err:
            fail(str(err))
        session.commit()
    click.echo(f"created organisation {name}")


@org.command("list", context_settings=CONTEXT)
@with_home
def org_list(settings: Settings):
    """List the organisations."""
    from desk import accounts

    with _workflow_session(settings) as session:
        orgs = accounts.list_organisations(session)
        names = {item.id: item.name for item in orgs}
        for item in orgs:
            click.echo(f"{item.name}\t{item.kind}\t{item.level}\t{names.get(item.parent_id, '')}")


@click.group(context_settings=CONTEXT)
def user():
    """Users of the review UI: their organisation, roles and password."""


def _new_password(from_stdin: bool) -> tuple[str, bool]:
    """The password read from standard input, else a generated one (then it is printed)."""
    import secrets

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return secrets.token_urlsafe(12), True


@user.command("add", context_settings=CONTEXT)
@click.argument("username")
@click.option("--org", "org_name", required=True, help="The user's organisation, by name.")
@click.option("--role", "roles", multiple=True, required=True,
              type=ROLE_CHOICES, help="Repeatable.")
@click.option("--name", "display_name", help="The name shown in the UI (default: the username).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (else one is generated).")
@with_home
def user_add(settings: Settings, username, org_name, roles, display_name, password_stdin):
    """Create a user; prints the generated password unless --password-stdin."""
    from desk import accounts

    password, generated = _new_password(password_stdin)
    with _workflow_session(settings) as session:
        try:
            found = accounts.find_organisation(session, org_name)
            if found is None:
                raise accounts.AccountError("org_unknown", name=org_name)
            accounts.create_user(session, username, display_name or username, password, found, roles, actor=CLI_ACTOR)
        except accounts.AccountError as err:
            fail(str(err))
        session.commit()
    click.echo(f"created user {username} ({', '.join(roles)}) in {org_name}")
    if generated:
        click.echo(f"password: {password}")


def _change_user(settings: Settings, username: str, change) -> None:
    """Apply ``change(session, user)`` to one user and commit, or fail with the reason."""
    from desk import accounts

    with _workflow_session(settings) as session:
        try:
            change(session, accounts.require_user(session, username))
        except accounts.AccountError as err:
            fail(str(err))
        session.commit()


@user.command("roles", context_settings=CONTEXT)
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True,
              type=ROLE_CHOICES, help="Repeatable.")
@with_home
def user_roles(settings: Settings, username, roles):
    """Replace a user's roles (recorded in the audit log)."""
    from desk import accounts

    _change_user(settings, username, lambda session, found: accounts.set_roles(session, found, roles, actor=CLI_ACTOR))
    click.echo(f"{username}: {', '.join(roles)}")


@user.command("unlock", context_settings=CONTEXT)
@click.argument("username")
@with_home
def user_unlock(settings: Settings, username):
    """Lift the lock that repeated failed logins put on an account."""
    from desk import accounts

    _change_user(settings, username, lambda session, found: accounts.unlock(session, found, actor=CLI_ACTOR))
    click.echo(f"{username} unlocked")


@user.command("disable", context_settings=CONTEXT)
@click.argument("username")
@with_home
def user_disable(settings: Settings, username):
    """Disable an account: its sessions end at once and it cannot log in until enabled."""
    from desk import accounts

    _change_user(settings, username, lambda session, found: accounts.set_active(session, found, False, actor=CLI_ACTOR))
    click.echo(f"{username} disabled")


@user.command("enable", context_settings=CONTEXT)
@click.argument("username")
@with_home
def user_enable(settings: Settings, username):
    """Enable a disabled account again."""
    from desk import accounts

    _change_user(settings, username, lambda session, found: accounts.set_active(session, found, True, actor=CLI_ACTOR))
    click.echo(f"{username} enabled")


@user.command("password", context_settings=CONTEXT)
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (else one is generated).")
@with_home
def user_password(settings: Settings, username, password_stdin):
    """Reset a user's password (prints the new one unless --password-stdin); this also
    unlocks the account and logs the user out everywhere."""
    from desk import accounts

    password, generated = _new_password(password_stdin)
    _change_user(settings, username,
                 lambda session, found: accounts.set_password(session, found, password, actor=CLI_ACTOR))
    click.echo(f"password of {username} reset" + (f": {password}" if generated else ""))


@user.command("list", context_settings=CONTEXT)
@with_home
def user_list(settings: Settings):
    """List the users: username, organisation, roles, and active, locked or disabled."""
    from desk import accounts

    with _workflow_session(settings) as session:
        names = {item.id: item.name for item in accounts.list_organisations(session)}
        for found in accounts.list_users(session):
            state = "locked" if accounts.is_locked(found) else ("active" if found.active else "disabled")
            click.echo(f"{found.username}\t{names[found.org_id]}\t{','.join(found.roles)}\t{state}")


@click.group(context_settings=CONTEXT)
def audit():
    """The audit log of every action: a keyed hash chain, anchored in <home>/audit-anchors.jsonl."""


@audit.command("verify", context_settings=CONTEXT)
@with_home
def audit_verify(settings: Settings):
    """Check the audit log: its hash chain, each entry's keyed hash (<home>/audit.key)
    and the log against every anchor. Exit 1 and name the first entry that breaks it, or
    the entries missing from its end; when it verifies, its head is anchored."""
    from desk import audit as audit_log

    with _workflow_session(settings) as session:
        result = audit_log.verify(session)
    if result.missing:
        fail(f"the audit log was cut short: {result.reason}")
    if not result.ok:
        where = f" at entry {result.broken_at}" if result.broken_at else ""
        before = f" ({result.entries - 1} entries before it verify)" if result.broken_at else ""
        fail(f"the audit log is broken{where}: {result.reason}{before}")
    click.echo(f"audit log verified: {result.entries} entries, anchored in {settings.home / audit_log.ANCHORS_FILE}")


@audit.command("export", context_settings=CONTEXT)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file (default: stdout).")
@with_home
def audit_export(settings: Settings, out):
    """Write the audit log as JSON Lines, oldest entry first."""
    from desk import audit as audit_log

    with _workflow_session(settings) as session:
        lines = [json.dumps(entry, ensure_ascii=False) + "\n" for entry in audit_log.export(session)]
        audit_log.anchor(session)  # the export's last entry, anchored
    if out:
        out.write_text("".join(lines), encoding="utf-8")
        click.echo(f"wrote {len(lines)} entries to {out}", err=True)
    else:
        click.echo("".join(lines), nl=False)
