"""Organisations, users and their roles, and logging in, in plain Python.

The functions change the caller's session and leave the commit to the caller, so that
each change and its audit entry land together - except a failed ``authenticate``, which
commits itself: a failed login must be counted and recorded even though it raises.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from core.errors import CodedError
from core.store import utcnow
from desk import audit
from desk.tables import LoginSession, Organisation, User
from desk.vocabulary import ORG_KINDS, ROLES

MIN_PASSWORD_LENGTH = 10
MAX_FAILED_LOGINS = 5  # in a row; then the account is locked
LOCK_DURATION = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)  # from the login, whatever the activity
LEVELS_OF_KIND = {"government": ("province", "city", "county", "department"), "enterprise": ("company", "branch")}
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")

# Checked against even when the username is unknown, so that both failures take as long.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))

MESSAGES = {  # English, for the command line; the UI's catalogs have each as account_<code>
    "org_name": "an organisation needs a name (at most 200 characters)",
    "name_nul": "a name cannot contain a NUL character",
    "display_name": "a display name has at most 200 characters (it has {length})",
    "org_taken": "there is already an organisation called {name}",
    "org_kind": "kind must be one of: {choices}",
    "org_level": "the level of a {kind} organisation must be one of: {choices}",
    "org_unknown": "there is no organisation called {name}",
    "username": "a username is 2 to 64 letters, digits, '.', '_' or '-'",
    "username_taken": "the username {username} is taken",
    "user_unknown": "there is no user {username}",
    "password_short": "a password needs at least {min} characters",
    "roles": "roles must be one or more of: {choices}",
    "last_admin": "{username} is the last administrator: give another user the admin role first",
}


class AccountError(CodedError, ValueError):
    """A request the accounts cannot carry out."""

    PREFIX = "account_"
    MESSAGES = MESSAGES


class LoginFailed(Exception):
    """The username or password is wrong, or the account is locked or disabled. The
    message never says which, except for a lock (``locked_until``)."""

    def __init__(self, locked_until: datetime | None = None):
        self.locked_until = locked_until
        super().__init__("account locked" if locked_until else "wrong username or password")


# -- organisations ----------------------------------------------------------------------


def create_organisation(session: Session, name: str, kind: str, level: str, parent: Organisation | None = None,
                        *, actor: str = "system") -> Organisation:
    name = _without_nul((name or "").strip())
    if not name or len(name) > 200:
        raise AccountError("org_name")
    if kind not in ORG_KINDS:
        raise AccountError("org_kind", choices=", ".join(ORG_KINDS))
    if level not in LEVELS_OF_KIND[kind]:
        raise AccountError("org_level", kind=kind, choices=", ".join(LEVELS_OF_KIND[kind]))
    if find_organisation(session, name) is not None:
        raise AccountError("org_taken", name=name)
    org = Organisation(name=name, kind=kind, level=level, parent_id=parent.id if parent else None)
    session.add(org)
    session.flush()
    audit.record(session, actor, "org_created", f"org:{org.id}",
                 {"name": name, "kind": kind, "level": level, "parent": parent.name if parent else None})
    return org


def find_organisation(session: Session, name: str) -> Organisation | None:
    return session.execute(select(Organisation).where(Organisation.name == name)).scalar()


def get_organisation(session: Session, org_id: int) -> Organisation | None:
    return session.get(Organisation, org_id)


def list_organisations(session: Session) -> list[Organisation]:
    return list(session.execute(select(Organisation).order_by(Organisation.id)).scalars())


# -- users ------------------------------------------------------------------------------


def _without_nul(name: str) -> str:
    """``name``, refused if it holds a NUL (PostgreSQL refuses it in text)."""
    if "\x00" in name:
        raise AccountError("name_nul")
    return name


def _checked_roles(roles) -> list[str]:
    chosen = set(roles)
    if not chosen or not chosen <= set(ROLES):
        raise AccountError("roles", choices=", ".join(ROLES))
    return [role for role in ROLES if role in chosen]


def _checked_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError("password_short", min=MIN_PASSWORD_LENGTH)
    return generate_password_hash(password)


def create_user(session: Session, username: str, display_name: str, password: str, org: Organisation, roles,
                *, actor: str = "system") -> User:
    if not USERNAME.match(username or ""):
        raise AccountError("username")
    if find_user(session, username) is not None:
        raise AccountError("username_taken", username=username)
    display_name = _without_nul((display_name or "").strip())
    if len(display_name) > 200:
        raise AccountError("display_name", length=len(display_name))
    user = User(username=username, display_name=display_name or username,
                password_hash=_checked_password(password), org_id=org.id, roles=_checked_roles(roles),
                active=True, failed_logins=0)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user_created", f"user:{user.id}",
                 {"username": username, "org": org.name, "roles": user.roles}, org_id=org.id)
    return user


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def find_user(session: Session, username: str) -> User | None:
    return session.execute(select(User).where(User.username == username)).scalar()


def require_user(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise AccountError("user_unknown", username=username)
    return user


def list_users(session: Session, org: Organisation | None = None) -> list[User]:
    query = select(User).order_by(User.org_id, User.id)
    if org is not None:
        query = query.where(User.org_id == org.id)
    return list(session.execute(query).scalars())


def set_roles(session: Session, user: User, roles, *, actor: str) -> User:
    """Change a user's roles (a permission change, audited with the roles before and after)."""
    new = _checked_roles(roles)
    if "admin" not in new:
        _keep_an_admin(session, user)
    old, user.roles = list(user.roles), new
    audit.record(session, actor, "permission_change", f"user:{user.id}",
                 {"username": user.username, "from": old, "to": new}, org_id=user.org_id)
    return user


def _keep_an_admin(session: Session, user: User) -> None:
    """Refuse to take the admin role (or the account) from the last active administrator.
    Under the workflow lock, reading the others afresh: two admins disabling each other at
    once would each have seen the other still active."""
    if "admin" in user.roles and user.active:
        audit.lock(session)
        others = session.execute(select(User).where(User.active.is_(True), User.id != user.id)
                                 .execution_options(populate_existing=True)).scalars()
        if not any("admin" in other.roles for other in others):
            raise AccountError("last_admin", username=user.username)


def set_active(session: Session, user: User, active: bool, *, actor: str) -> None:
    """Enable or disable an account. A disabled user cannot log in, and their open
    sessions end at once (their next request is refused)."""
    if user.active == active:
        return
    if not active:
        _keep_an_admin(session, user)
        end_sessions(session, user)
    user.active = active
    audit.record(session, actor, "user_enabled" if active else "user_disabled", f"user:{user.id}",
                 {"username": user.username}, org_id=user.org_id)


def set_password(session: Session, user: User, password: str, *, actor: str) -> None:
    """A new password; it also lifts a lock, and ends the user's sessions."""
    new_hash = _checked_password(password)
    audit.lock(session)  # before the change: a login checking the old password meanwhile waits and sees it
    user.password_hash = new_hash
    user.failed_logins, user.locked_until = 0, None
    end_sessions(session, user)
    audit.record(session, actor, "password_reset", f"user:{user.id}", {"username": user.username},
                 org_id=user.org_id)


def unlock(session: Session, user: User, *, actor: str) -> None:
    user.failed_logins, user.locked_until = 0, None
    audit.record(session, actor, "unlocked", f"user:{user.id}", {"username": user.username}, org_id=user.org_id)


def is_locked(user: User, now: datetime | None = None) -> bool:
    return user.locked_until is not None and (now or _now()) < user.locked_until


def _now() -> datetime:
    return utcnow().replace(tzinfo=None)  # naive UTC, as the tables store it


# -- logging in -------------------------------------------------------------------------


def authenticate(session: Session, username: str, password: str, now: datetime | None = None) -> User:
    """The user with this username and password, or ``LoginFailed``. After
    ``MAX_FAILED_LOGINS`` failures in a row the account is locked for ``LOCK_DURATION``,
    during which even the right password is refused. A failure commits (see the module's
    doc); a success leaves the transaction open, holding the workflow lock, so that the
    caller's ``start_session`` lands with it before a new password can end the sessions."""
    now = now or _now()
    user = find_user(session, username) if USERNAME.match(username or "") else None  # no NUL reaches the database
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password or "")
        _fail(session, username, "unknown or disabled user", user)
    if is_locked(user, now):
        _fail(session, username, "locked", user, locked_until=user.locked_until)
    checked = user.password_hash
    if not check_password_hash(checked, password or ""):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.failed_logins, user.locked_until = 0, now + LOCK_DURATION
            audit.record(session, "system", "locked", f"user:{user.id}",
                         {"username": user.username, "until": user.locked_until.isoformat()}, org_id=user.org_id)
        _fail(session, username, "wrong password", user, user.locked_until if is_locked(user, now) else None)
    audit.lock(session)  # a new password set while the old one was being checked is seen now
    session.refresh(user)
    if user.password_hash != checked or not user.active:
        _fail(session, username, "password changed or account disabled during the login", user)
    user.failed_logins, user.locked_until = 0, None
    audit.record(session, user.username, "login", f"user:{user.id}", org_id=user.org_id)
    return user


def _fail(session: Session, username: str, reason: str, user: User | None,
          locked_until: datetime | None = None) -> NoReturn:
    actor = (username or "")[:64].replace("\x00", "\\x00")  # as typed, but no NUL (PostgreSQL refuses it)
    audit.record(session, actor, "login_failed", f"user:{user.id}" if user else "",
                 {"reason": reason}, org_id=user.org_id if user else None)
    session.commit()
    raise LoginFailed(locked_until)


# -- login sessions ---------------------------------------------------------------------


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(session: Session, user: User, now: datetime | None = None) -> str:
    """Open a login session of ``user``; return its token, for the session cookie. Expired
    sessions of anyone are deleted meanwhile."""
    now = now or _now()
    session.execute(delete(LoginSession).where(LoginSession.created_at <= now - SESSION_LIFETIME))
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(id=_session_id(token), user_id=user.id, created_at=now))
    return token


def session_user(session: Session, token: str | None, now: datetime | None = None) -> User | None:
    """The user of the open login session with this token, if the session has not
    ended or expired and the user is not disabled."""
    if not token:
        return None
    now = now or _now()
    return session.execute(
        select(User).join(LoginSession, LoginSession.user_id == User.id)
        .where(LoginSession.id == _session_id(token), LoginSession.created_at > now - SESSION_LIFETIME,
               User.active.is_(True))
    ).scalar()


def end_session(session: Session, token: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.id == _session_id(token)))


def end_sessions(session: Session, user: User) -> None:
    """End every login session of ``user`` (a copied cookie is refused from now on)."""
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
