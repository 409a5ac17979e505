"""Where a crisiswatch installation keeps its data, and which engines it uses.

Everything lives under one *home* folder (``--home`` or ``CRISISWATCH_HOME``), so
that two installations never share state and a test can use a temporary folder.
Environment variables override the defaults; nothing is read from the network.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOME = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "crisiswatch"


def _default_data_dir() -> Path:
    """The shared training data: ``CRISISWATCH_DATA`` or ``../shared/data`` beside the checkout."""
    env = os.environ.get("CRISISWATCH_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def _default_encoder() -> str:
    """The precise tier's encoder: ``CRISISWATCH_ENCODER``, else the shared one beside the
    checkout where it exists, else ``off``."""
    shared = REPO_ROOT.parent / "shared" / "models" / "weibo-char-encoder"
    return os.environ.get("CRISISWATCH_ENCODER") or (str(shared) if shared.is_dir() else "off")


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str = ""
    index_backend: str = "embedded"
    elasticsearch_url: str = "http://127.0.0.1:9200"
    data_dir: Path = field(default_factory=_default_data_dir)
    host: str = "127.0.0.1"
    port: int = 5000
    login_limit: str = "30 per 15 minutes"  # failed logins per client address; "off" for none
    login_limit_storage: str = "memory://"  # where they are counted (see load): a redis:// URI to share it wider
    trusted_proxies: int = 0  # reverse proxies in front of the UI whose X-Forwarded-For is believed
    site_url: str = ""  # the review site's address, which the links in alert notices start with
    daily_report_at: str = "08:00"  # China time ("HH:MM") the scheduler makes yesterday's daily report; or "off"
    encoder: str = field(default_factory=_default_encoder)  # the precise tier's encoder folder, or "off"
    precise_budget: str = "120"  # seconds of precise tagging after each crawl job's tag batch; "0" or "off": none

    def __post_init__(self):
        parts = urlsplit(self.site_url)
        if self.site_url and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError(f"CRISISWATCH_SITE_URL {self.site_url!r} is not the review site's address, "
                             "such as https://yq.example.cn (or empty for links without one)")
        if self.daily_report_at != "off" and not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", self.daily_report_at):
            raise ValueError(f"CRISISWATCH_DAILY_REPORT_AT {self.daily_report_at!r} is not a time of day such as "
                             "08:00 (China time), nor off")
        if self.encoder != "off" and not Path(self.encoder).expanduser().is_dir():
            raise ValueError(f"CRISISWATCH_ENCODER {self.encoder!r} is not a folder holding an encoder "
                             "(config.json, model.safetensors, vocab.txt), nor off")
        if self.precise_budget != "off" and not re.fullmatch(r"[0-9]+(\.[0-9]+)?", self.precise_budget):
            raise ValueError(f"CRISISWATCH_PRECISE_BUDGET {self.precise_budget!r} is not a number of seconds, nor off")

    @classmethod
    def load(cls, home: str | os.PathLike | None = None, **overrides) -> "Settings":
        """Settings for ``home`` (or ``CRISISWATCH_HOME``, or the per-user default)."""
        home_path = Path(home or os.environ.get("CRISISWATCH_HOME") or DEFAULT_HOME).expanduser().resolve()
        values = {
            "database_url": os.environ.get("CRISISWATCH_DATABASE_URL", ""),
            "index_backend": os.environ.get("CRISISWATCH_INDEX", "embedded"),
            "elasticsearch_url": os.environ.get("CRISISWATCH_ES_URL", "http://127.0.0.1:9200"),
            "login_limit": os.environ.get("CRISISWATCH_LOGIN_LIMIT", "30 per 15 minutes"),
            # by default a file in the home, shared by the server's worker processes (review_ui.login_limits)
            "login_limit_storage": os.environ.get("CRISISWATCH_LOGIN_LIMIT_STORAGE")
            or f"crisiswatch+sqlite://{home_path / 'login-limits.db'}",
            "trusted_proxies": int(os.environ.get("CRISISWATCH_TRUSTED_PROXIES", "0")),
            "site_url": os.environ.get("CRISISWATCH_SITE_URL", ""),
            "daily_report_at": os.environ.get("CRISISWATCH_DAILY_REPORT_AT", "08:00"),
            "precise_budget": os.environ.get("CRISISWATCH_PRECISE_BUDGET", "120"),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if not values["database_url"]:
            values["database_url"] = f"sqlite:///{home_path / 'crisiswatch.db'}"
        return cls(home=home_path, **values)

    def ensure_home(self) -> "Settings":
        for sub in ("", "index", "models", "cache", "logs"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        return self

    @property
    def encoder_dir(self) -> Path | None:
        """The folder of the precise tier's encoder; None where the tier is off."""
        return None if self.encoder == "off" else Path(self.encoder).expanduser().resolve()

    @property
    def precise_seconds(self) -> float | None:
        """How long the scheduler tags precisely after each crawl job's tag batch; None: never."""
        seconds = 0.0 if self.precise_budget == "off" else float(self.precise_budget)
        return seconds or None

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def pool_file(self) -> Path:
        """Cookies and proxies for the crawlers (a secret: keep it readable by the operator only)."""
        return self.home / "pool.toml"

    @property
    def channels_file(self) -> Path:
        """Where releases are published to (webhook secrets: readable by the operator only)."""
        return self.home / "channels.toml"

    @property
    def places_file(self) -> Path:
        """The home's own places beside the gazetteer's (the demo writes its scenario's there)."""
        return self.home / "places.csv"

    @property
    def own_places(self) -> Path | None:
        """``places_file`` where the home has one (what the gazetteer takes), else None."""
        return self.places_file if self.places_file.exists() else None

    @property
    def jobs_file(self) -> Path:
        """The crawl jobs of this home; the shipped demo jobs are used when it is absent."""
        return self.home / "jobs.toml"
