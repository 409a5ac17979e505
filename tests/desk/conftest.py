"""Fixtures of the desk's tests: its tables on a real SQLite database, receivers on
loopback (``tests/desk/receivers.py``): an HTTP receiver, and an SMTP server with TLS, and
the alert outbox's desk (``tests/desk/alert_desk.py``)."""

from __future__ import annotations

import ipaddress
import ssl
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from desk.database import create_tables
from desk.tables import Organisation, User
from desk.transmitters import sign
from tests.conftest import free_port
from tests.desk.alert_desk import SECRET, Desk, webhook_paths
from tests.desk.receivers import SMTP_LOGIN, Mailbox, serving


@pytest.fixture
def db():
    engine = create_engine("sqlite://")
    create_tables(engine)
    with Session(engine) as session:
        orgs = {
            "city": Organisation(name="海口市人民政府", kind="government", level="city"),
            "county": Organisation(name="龙华区人民政府", kind="government", level="county"),
            "grid": Organisation(name="海南电网公司", kind="enterprise", level="company"),
            "branch": Organisation(name="海口供电局", kind="enterprise", level="branch"),
        }
        session.add_all(orgs.values())
        session.flush()
        orgs["county"].parent_id, orgs["branch"].parent_id = orgs["city"].id, orgs["grid"].id
        people = {  # name: (org, roles)
            "c_draft": ("city", ["drafter"]), "c_appr": ("city", ["approver"]), "c_pub": ("city", ["publisher"]),
            "c_both": ("city", ["drafter", "approver"]), "c_analyst": ("city", ["analyst"]),
            "k_draft": ("county", ["drafter"]), "k_appr": ("county", ["approver"]),
            "g_draft": ("grid", ["drafter"]), "g_appr": ("grid", ["approver"]), "g_pub": ("grid", ["publisher"]),
            "b_appr": ("branch", ["approver"]), "admin": ("city", ["admin"]),
        }
        users = {}
        for name, (org, roles) in people.items():
            users[name] = User(username=name, display_name=name, password_hash="x", org_id=orgs[org].id,
                               roles=roles, active=True, failed_logins=0)
        session.add_all(users.values())
        session.flush()
        yield SimpleNamespace(session=session, orgs=orgs, users=users, **users)


@pytest.fixture
def sessions(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'workflow.db'}")
    create_tables(engine)
    yield sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def receiver():
    """An HTTP receiver on loopback (``receivers.Receiver``)."""
    with serving() as server:
        yield server


@pytest.fixture
def desk(home, receiver):
    """A ``Desk`` whose notices go to ``receiver``: each one to its webhooks signed."""
    desk = Desk(home, receiver)
    yield desk
    desk.session.close()
    desk.store.close()
    assert all(r["headers"]["X-Crisiswatch-Signature"] == sign(SECRET, r["raw"])
               for r in receiver.received if r["path"] in webhook_paths())


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (``cryptography`` comes with Scrapy): its file is
    the client's cafile, with the server's context."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return folder / "cert.pem", context


def _login(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=(auth_data.login.decode(), auth_data.password.decode()) == SMTP_LOGIN, handled=False)


@pytest.fixture
def smtp_server(certificate):
    """An SMTP server on loopback that requires STARTTLS before a login (``SMTP_LOGIN``) or a
    message: its aiosmtpd controller and its ``Mailbox``."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), tls_context=certificate[1],
                            require_starttls=True, authenticator=_login)
    controller.start()
    yield controller, mailbox
    controller.stop()
