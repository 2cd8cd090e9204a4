"""One settings object, read in one place: defaults < `cityos.toml` < `CITYOS_*` environment < CLI.

Each part gets a small typed dataclass; `Settings` groups them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "CITYOS_"


@dataclass(frozen=True)
class StorageSettings:
    database_url: str = ""  # empty → sqlite file under data_dir
    sqlite_synchronous: str = "FULL"  # FULL (durable, default) or NORMAL
    group_commit_max: int = 512  # jobs per transaction at most
    # deleting an entity keeps its attribute history (for the temporal API and aggregates,
    # until ngsi.history_retention removes it); false: the history goes with the entity
    keep_history_on_delete: bool = True


@dataclass(frozen=True)
class NgsiSettings:
    open_ngsi: bool = False  # conformance runs only: NGSI-LD API without tokens
    max_body_bytes: int = 1_048_576  # larger bodies → 413
    default_limit: int = 20
    max_limit: int = 1000
    allow_remote_contexts: tuple[str, ...] = ()  # URL prefixes that may be fetched
    context_dir: str = ""  # preloaded @context files for offline sites
    context_timeout: float = 5.0
    # a temporal response holds at most this many attribute instances; a longer history is
    # cut along the time axis and answered 206 with Content-Range (§6.3.10); 0 = no cut
    temporal_max_instances: int = 10_000
    # how long attribute history is kept: "Type=days" entries, "*=days" for every other type
    # (none: for ever); see cityos.ngsi.retention
    history_retention: tuple[str, ...] = ()
    # seconds a registered context source may take to answer a forwarded query or retrieval
    # (a registration's management.timeout, in ms, overrides it)
    forward_timeout: float = 3.0

    def __post_init__(self) -> None:
        from cityos.ngsi.retention import parse_rules  # checked when read, not when served

        parse_rules(self.history_retention)


@dataclass(frozen=True)
class AccessSettings:
    token_ttl: int = 900  # seconds an access token lives
    key_rotation_days: float = 30.0  # a new token signing key after this many days
    secret_overlap_hours: float = 168.0  # an old client secret keeps working after rotation
    rate_per_second: float = 50.0  # requests per client and second (0 = unlimited)
    rate_burst: int = 100  # requests a client may send at once
    lockout_after: int = 10  # failed logins before an account is locked
    lockout_seconds: float = 60.0  # first lock; doubles with every further failure
    review_unused_days: int = 90  # account review flags accounts unused this long
    secret_max_age_days: int = 365  # account review flags client secrets older than this
    alert_webhook: str = ""  # URL that receives every security alert as a JSON POST
    scan_404_per_minute: int = 100  # not-found answers to one client a minute → id-scan alert
    volume_factor: float = 10.0  # a client's minute above this × its own baseline → alert
    volume_floor: int = 600  # … and above this many requests (small clients stay quiet)
    cors_origins: tuple[str, ...] = ()  # web origins whose browsers may call the API
    resident_signup: bool = True  # residents may open their own accounts (password or passkey)
    resident_tenant: str = ""  # the tenant (municipality) residents who sign up belong to
    passkey_rp_id: str = ""  # WebAuthn RP ID; default: the host of base_url
    passkey_rp_name: str = "cityos"  # the name a browser shows when making a passkey
    passkey_origins: tuple[str, ...] = ()  # pages allowed to run passkey ceremonies; default base_url
    oidc_issuer: str = ""  # the municipality's OIDC provider for staff sign-in (off when empty)
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scopes: str = "openid email profile"
    oidc_staff_claim: str = "email"  # ID-token claim whose value is the staff user name
    oidc_default_role: str = ""  # role for unknown staff; empty = no access unless mapped
    oidc_default_tenant: str = ""  # tenant of staff accounts made at their first OIDC sign-in
    audit_retention_days: int = 0  # audit records older than this are pruned (0 = keep all)
    # staff roles that must sign in with a passkey after the password (e.g. "admin"); a
    # member of such a role without one gets a token that can only register a passkey
    second_factor_roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrustSettings:
    checkpoint_seconds: float = 10.0  # a signed, time-stamped tree head this often (if new leaves)
    feed_seconds: float = 1.0  # new audit records taken into the log this often in between
    origin: str = ""  # the log's name in its checkpoints; default host:port/trust/v1/log
    tsa_url: str = ""  # external RFC 3161 TSA (production); empty = the built-in TSA
    tsa_max_outage_seconds: float = 300.0  # TSA unreachable this long → writes refused
    ca_name: str = "cityos"  # the municipality named by the platform CA made at `cityos init`
    seal_days: int = 365  # lifetime of organisation seal certificates the platform issues


@dataclass(frozen=True)
class IotSettings:
    mqtt_url: str = ""  # mqtt://[user:password@]host:port of the broker devices publish to
    mqtt_topic_prefix: str = "cityos"  # devices publish to PREFIX/<tenant>/<device-id>/attrs
    liveness_seconds: float = 10.0  # how often silent devices are looked for (offline alerts)

    def __post_init__(self) -> None:  # checked when read, not when the broker is first dialled
        if self.mqtt_url and not self.mqtt_url.startswith(("mqtt://", "mqtts://")):
            raise ValueError("iot.mqtt_url is mqtt://[user:password@]host[:port] (or mqtts://)")
        if self.liveness_seconds <= 0:
            raise ValueError("iot.liveness_seconds must be more than 0")


@dataclass(frozen=True)
class PersonalSettings:
    # master key wrapping residents' data keys (32 bytes, base64); empty: personal/master.key
    # in the data dir, made on first start (CITYOS_PERSONAL_MASTER_KEY sets it from outside)
    master_key: str = ""
    oidc_issuer: str = ""  # residents' identity provider (e.g. the My Number card's); off when empty
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scopes: str = "openid profile"
    oidc_signup: bool = True  # a first sign-in through the provider opens a resident account
    expiry_seconds: float = 60.0  # how often ended consents are marked EXPIRED


@dataclass(frozen=True)
class EgressSettings:
    # where outbound requests (notifications, context sources, remote @contexts, the TSA,
    # webhooks) may go besides public addresses: CIDRs / addresses (any port) or host:port;
    # loopback, private, link-local… are refused unless listed (see cityos.egress)
    allow: tuple[str, ...] = ()
    # seconds a host name may take to resolve, and an outbound request without a timeout of its
    # own (the alert webhook) may take
    timeout: float = 10.0

    def __post_init__(self) -> None:  # checked when read, not at the first request
        from cityos.egress import EgressPolicy

        EgressPolicy(self.allow, self.timeout)
        if self.timeout <= 0:
            raise ValueError("egress.timeout must be more than 0")


@dataclass(frozen=True)
class ConsoleSettings:
    # background map of the staff console: an XYZ tile URL ({z}/{x}/{y}); empty = no tiles
    # (the map then draws the town's outline, areas and data layers on a plain background)
    tile_url: str = "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
    tile_attribution: str = "地理院タイル (国土地理院)"  # shown on the map with the tiles
    tile_max_zoom: int = 18


@dataclass(frozen=True)
class BackupSettings:
    # where the backup key, the erasure ledger and the journal of backups and restore drills
    # live, apart from the data dir (a backup never holds its own key); empty: beside the
    # data dir, DIR.backup (e.g. /var/lib/cityos → /var/lib/cityos.backup)
    home: str = ""
    key_file: str = ""  # the AES-256 backup key; empty: HOME/backup.key, made by the first backup
    keep: int = 7  # generations `cityos backup --out-dir` keeps (older ones are deleted)
    max_age_hours: float = 26.0  # the self-check fails when the newest backup is older
    drill_max_days: float = 92.0  # … or when the last restore drill is older than this

    def __post_init__(self) -> None:
        if self.keep < 1:
            raise ValueError("backup.keep must be 1 or more")


@dataclass(frozen=True)
class ServicesSettings:
    # the town services shipped in cityos.services (docs/services/): which run, as whom
    # names of the services to run ("all": every shipped one); none by default, `cityos demo`
    # runs all of them
    enabled: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()  # names never to run
    corporate_number: str = ""  # 法人番号 of the services' operator; empty = a fictional one
    demo: bool = False  # `cityos demo`: each service loads its demo data once it is up
    # per-service settings over the manifest's defaults: [services.options.evacuation] …
    options: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = ""  # public URL of the platform; default http(s)://host:port
    tls_cert: str = ""  # PEM certificate (chain): serve HTTPS only, with HSTS
    tls_key: str = ""  # PEM private key of tls_cert
    storage: StorageSettings = field(default_factory=StorageSettings)
    ngsi: NgsiSettings = field(default_factory=NgsiSettings)
    access: AccessSettings = field(default_factory=AccessSettings)
    trust: TrustSettings = field(default_factory=TrustSettings)
    iot: IotSettings = field(default_factory=IotSettings)
    personal: PersonalSettings = field(default_factory=PersonalSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    egress: EgressSettings = field(default_factory=EgressSettings)
    backup: BackupSettings = field(default_factory=BackupSettings)
    services: ServicesSettings = field(default_factory=ServicesSettings)

    @property
    def public_url(self) -> str:
        scheme = "https" if self.tls_cert else "http"
        return self.base_url.rstrip("/") or f"{scheme}://{self.host}:{self.port}"

    @property
    def database_url(self) -> str:
        return self.storage.database_url or f"sqlite:///{(self.data_dir / 'cityos.db').resolve()}"


_SECTIONS = {"storage": StorageSettings, "ngsi": NgsiSettings, "access": AccessSettings,
             "trust": TrustSettings, "iot": IotSettings, "personal": PersonalSettings,
             "console": ConsoleSettings, "egress": EgressSettings,
             "backup": BackupSettings, "services": ServicesSettings}


def _coerce(kind: Any, raw: Any) -> Any:
    text = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    if isinstance(raw, str):
        if "bool" in text:
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        if "int" in text:
            return int(raw)
        if "float" in text:
            return float(raw)
        if "tuple" in text:
            return tuple(p.strip() for p in raw.split(",") if p.strip())
        if "Path" in text:
            return Path(raw)
    if "tuple" in text and isinstance(raw, list):
        return tuple(raw)
    if "Path" in text and isinstance(raw, str):
        return Path(raw)
    return raw


def _apply(obj: Any, values: dict[str, Any]) -> Any:
    known = {f.name: f for f in fields(obj)}
    changes: dict[str, Any] = {}
    for key, raw in values.items():
        if key in _SECTIONS and isinstance(raw, dict):
            changes[key] = _apply(getattr(obj, key), raw)
        elif key in known:
            changes[key] = _coerce(known[key].type, raw)
        else:
            raise ValueError(f"unknown setting {key!r}")
    return replace(obj, **changes)


def _from_env(environ: dict[str, str]) -> dict[str, Any]:
    """CITYOS_PORT=8001, CITYOS_NGSI_OPEN_NGSI=1, and short aliases for the common ones."""
    aliases = {"OPEN_NGSI": ("ngsi", "open_ngsi"), "DATABASE_URL": ("storage", "database_url")}
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX):]
        if key in aliases:
            section, attr = aliases[key]
            out.setdefault(section, {})[attr] = raw
            continue
        lowered = key.lower()
        for section in _SECTIONS:
            if lowered.startswith(section + "_"):
                out.setdefault(section, {})[lowered[len(section) + 1:]] = raw
                break
        else:
            if lowered in {f.name for f in fields(Settings)}:
                out[lowered] = raw
    return out


def load_settings(data_dir: Path | str | None = None, environ: dict[str, str] | None = None,
                  **overrides: Any) -> Settings:
    """Build the settings; `overrides` are CLI values (None means "not given")."""
    environ = dict(os.environ) if environ is None else environ
    settings = Settings()
    env_values = _from_env(environ)
    root = Path(data_dir) if data_dir else Path(env_values.get("data_dir", "var"))
    for candidate in (Path("cityos.toml"), root / "cityos.toml"):
        if candidate.is_file():
            settings = _apply(settings, tomllib.loads(candidate.read_text("utf-8")))
    settings = _apply(settings, env_values)
    if data_dir is not None:
        settings = replace(settings, data_dir=Path(data_dir))
    top = {k: v for k, v in overrides.items() if v is not None and k in {f.name for f in fields(Settings)}}
    ngsi = {k: v for k, v in overrides.items() if v is not None and k in {f.name for f in fields(NgsiSettings)}}
    storage = {k: v for k, v in overrides.items()
               if v is not None and k in {f.name for f in fields(StorageSettings)}}
    return _apply(settings, {**top, **({"ngsi": ngsi} if ngsi else {}),
                             **({"storage": storage} if storage else {})})
