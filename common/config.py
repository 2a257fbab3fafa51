"""Configuration from the environment, in one place.

Every default makes the local run work on a laptop: RabbitMQ on localhost, an embedded PostgreSQL in
the project's .data folder when no database URL is given, the fake SMS operator on port 8025.

With ENVIRONMENT=production no process starts while one of its secrets holds its development default
(SECRETS_OF, Settings.refuse_unsafe_secrets, called by each process's entry point). Secrets come from the
environment or, when SECRETS_DIR names a folder, from files in it named as the settings (TOKEN_SECRET, ...):
Kubernetes mounts them so (k8s/overlays/production).
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SecretsSettingsSource, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("complaints", "notifications", "payments", "transparency")
# processes beside each service's own: the event consumers of a service whose RPCs must stay quick while
# a payment cycle is ingested (services/transparency/service.py), by process → its service
SPLIT_PROCESSES = {"transparency-feeds": "transparency"}


def service_of(process: str) -> str:
    """The service a process belongs to: its database, its broker user, its image, its queues' names."""
    return SPLIT_PROCESSES.get(process, process)

# One Prometheus port per process kind; the gateway's is beside its HTTP port.
DEFAULT_METRICS_PORTS = {
    "gateway": 9100,
    "complaints": 9101,
    "notifications": 9102,
    "payments": 9103,
    "transparency": 9104,
    "transparency-feeds": 9105,
    "relay": 9110,
}


# The secrets each process holds (k8s/overlays/production mounts each pod only its own). In production a
# process refuses to start while one of its own holds a development default (Settings.refuse_unsafe_secrets).
SECRETS_OF = {
    "gateway": ("amqp_uri", "token_secret", "token_previous_keys", "kavenegar_receipt_secret",
                "smsir_receipt_secret", "caller_signing_key"),
    "complaints": ("amqp_uri", "secret_derivation_key", "caller_verify_keys"),
    "notifications": ("amqp_uri", "secret_derivation_key", "sms_api_key", "smsir_api_key", "caller_verify_keys",
                      "broker_admin_url"),
    "payments": ("amqp_uri", "secret_derivation_key", "bank_shared_key", "ipg_shared_key", "caller_verify_keys"),
    "transparency": ("amqp_uri", "transparency_signing_key", "caller_verify_keys"),
    "transparency-feeds": ("amqp_uri", "transparency_signing_key"),
    "relay": ("amqp_uri",),
}
SECRET_SETTINGS = tuple(dict.fromkeys(name for names in SECRETS_OF.values() for name in names))
# The platform's own secrets (not given by an operator or a bank): long enough not to be guessed.
OWN_SECRETS = ("token_secret", "token_previous_keys", "secret_derivation_key", "kavenegar_receipt_secret",
               "smsir_receipt_secret", "caller_signing_key")
MIN_SECRET_LENGTH = 32


class UnsafeSettings(RuntimeError):
    """A production process was given a development secret: it refuses to start."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    # production: every secret must be set (unsafe_secrets) and Swagger UI is off
    environment: Literal["development", "production"] = "development"

    amqp_uri: str = "amqp://guest:guest@localhost:5672/"
    # A PostgreSQL server URL; each service uses its own database on it (see database_url_for).
    database_url: str | None = None
    complaints_database_url: str | None = None
    notifications_database_url: str | None = None
    payments_database_url: str | None = None
    transparency_database_url: str | None = None
    data_dir: Path = PROJECT_ROOT / ".data"

    # Metrics: a port per process; 0 turns the metrics server off (tests run many containers).
    metrics_port: int | None = None

    # Events
    event_max_attempts: int = 4  # first try + 3 retries in-process, then the dead-letter queue
    event_retry_base_delay: float = 0.5  # seconds, doubled at each retry
    # An event that failed because the database was unreachable (common/transient.py) is tried again with
    # this back-off cap for as long as it takes, never dead-lettered.
    event_transient_max_delay: float = 30.0
    # Messages a bulk event handler (common.events.handler.bulk_event_handler) takes at a time: a few 5,000-item
    # batches keep the database busy, and the service's other workers (its RPC) free (docs/benchmarks.md §8).
    bulk_event_prefetch: int = 4
    # The event queues' broker-side delivery limit: a crash-loop guard only (common/events/handler.py says
    # why 100). A handler that fails is dead-lettered by the handler itself after event_max_attempts.
    event_delivery_limit: int = 100
    outbox_batch_size: int = 500
    outbox_poll_interval: float = 2.0  # fallback when no NOTIFY arrives
    deadline_sweep_seconds: float = 15.0  # SPEC C8: every miss is caught within a minute

    # Gateway
    gateway_host: str = "0.0.0.0"
    gateway_port: int = 8000
    rpc_timeout: float = 10.0  # a request's deadline: the caller's wait, the message's expiry
    rpc_confirm_timeout: float = 3.0  # the broker's publisher confirm; past it (an alarm, a dying node): 503
    rpc_connect_timeout: float = 3.0
    # a staff principal confirmed by complaints is reused this long at most (gateway/principal_cache.py; any
    # revocation or password change drops it at once on every replica); 0: ask complaints on every request
    principal_cache_seconds: float = 30.0
    rpc_blocked_hold_seconds: float = 5.0  # after connection.blocked, answer 503 at once this long, then try again
    max_request_bytes: int = 64 * 1024
    max_upload_bytes: int = 10 * 1024 * 1024 + 256 * 1024  # an evidence file (10 MB) and its multipart wrapping
    cors_origins: str = "http://localhost:8000,http://localhost:5173"  # comma-separated
    trusted_proxies: int = 0  # how many proxies in front set X-Forwarded-For (0: none)
    rate_limits_enabled: bool = True
    # memory:// counts per process (the local run: one gateway); compose and k8s share redis:// across replicas
    rate_limit_storage: str = "memory://"
    rate_limit_default: str = "300/minute"
    rate_limit_register: str = "60/minute;1000/hour"  # per address: a town can be one carrier-grade NAT address
    rate_limit_register_mobile: str = "10/hour;30/day"  # per mobile in the body: a person's own budget
    # per national ID in a beneficiary's code request: services/notifications/otp.py's codes a mobile
    rate_limit_code_national_id: str = "3 per 10 minutes"
    rate_limit_code_case: str = "3 per 10 minutes"  # per case in a reporter's code request: the same budget
    rate_limit_bad_api_keys: str = "30/minute;300/hour"  # refused API keys (each a lookup), per address
    rate_limit_login: str = "5/minute;30/hour"
    # Signs the gateway's access tokens (HS256), under the key id token_key_id (the tokens' `kid`). The
    # default is for the local run only. Rotation: the old key goes to token_previous_keys ({"kid": "key"},
    # still accepted for verification), the new one here under a new id; the old one is removed once the
    # longest token signed with it has expired (docs/security.md).
    token_secret: str = "local-development-secret-change-me-0123456789"
    token_key_id: str = "dev"
    token_previous_keys: dict[str, str] = {}
    access_token_seconds: int = 300
    # Derives, from a request's idempotency key, the secrets a retry must answer again without
    # their being stored (anonymous reports' secrets, integrators' API keys); set per deployment.
    secret_derivation_key: str = "local-development-case-secret-change-me"

    # SMS
    sms_provider_url: str = "http://localhost:8025"
    sms_api_key: str = "demo-api-key"
    sms_sender_line: str = "10001482"
    sms_timeout: float = 5.0
    sms_max_attempts: int = 5
    # SMS operators in priority order (services/notifications/routing.py); sms_provider_url is Kavenegar's,
    # smsir_url SMS.ir's host (production: https://api.sms.ir); the fake operator imitates both.
    sms_providers: str = "kavenegar,smsir"
    smsir_url: str = "http://localhost:8025"
    smsir_api_key: str = "demo-smsir-key"
    smsir_line_number: str = "30001482"
    sms_rate_per_second: float = 1000.0  # per operator
    sms_breaker_fail_max: int = 3
    sms_breaker_reset_seconds: float = 30.0
    # Each operator's receipt secret, in the path of the receipt URL set in its panel
    # (POST /api/v1/sms/receipts/<provider>/<secret>): neither operator signs its receipts or sends a header.
    kavenegar_receipt_secret: str = "local-development-kavenegar-receipt-secret"
    smsir_receipt_secret: str = "local-development-smsir-receipt-secret"
    sms_max_segments: int = 3  # a template that renders longer is refused (cost)
    quiet_hours: str = "22:00-07:00"  # Tehran time; non-urgent messages wait until it ends ("" for none)
    public_base_url: str = "http://localhost:8000"
    # Integrators' broker users, queues and replay streams are made through RabbitMQ's management API by
    # an administrator (http://user:password@host:15672); integrators connect to integrator_amqp_address
    # (host:port as they reach the broker; default: the platform's own AMQP host and port)
    broker_admin_url: str = "http://guest:guest@localhost:15672"
    integrator_amqp_address: str | None = None
    # webhooks (services/notifications/webhooks.py): tries, the first back-off (doubling), each post's timeout
    webhook_max_attempts: int = 10
    webhook_retry_base_seconds: float = 5.0
    webhook_timeout: float = 5.0

    # Evidence files of complaint cases: where their bytes are kept (services/complaints/files.py).
    file_store_url: str | None = None  # file:///path; default: <data_dir>/files

    # Payments: the bank (the local fake by default; `python -m fakes.bank --port 8026 --open`)
    bank_url: str = "http://localhost:8026"
    bank_shared_key: str = "demo-bank-key"  # signs the bank's answers; set per deployment
    bank_timeout: float = 30.0
    cycle_run_seconds: float = 5.0  # how often each replica moves the open payment cycles on
    payment_batch_size: int = 5000  # orders per pain.001 file and beneficiaries per disbursements event
    bank_in_flight: int = 3  # files (then statements) at the bank at once; answers are still recorded in order
    # how long a worker's claim on a bank file lasts (0: long enough for the files before it and its own,
    # each within bank_timeout); a crashed worker's files are taken over by another replica after it
    bank_claim_seconds: float = 0.0
    donation_retry_seconds: float = 60.0  # how often each replica retries donations left unverified or unsettled
    # Donations (SPEC P5, P6): the payment gateway (the local fake by default; `python -m fakes.ipg --port 8027`)
    ipg_url: str = "http://localhost:8027"
    ipg_merchant_id: str = "behzisti-donations"
    ipg_shared_key: str = "demo-ipg-key"  # signs the gateway's answers and callbacks; set per deployment
    ipg_timeout: float = 15.0
    # where the gateway sends donors' browsers back: <base>/api/v1/donations/callback (default: public_base_url)
    donation_callback_base_url: str | None = None

    # Transparency (SPEC T): the Ed25519 key that signs every published version (base64 of the 32-byte
    # seed; k8s: Secret welfare-secrets). Empty: the local run's key in <data_dir>/transparency-ed25519.key.
    transparency_signing_key: str = ""
    # Who a request acts for is vouched for by the gateway alone (common/caller_signature.py): its Ed25519
    # key (base64 of the 32-byte seed), and the services' verify keys (base64, comma-separated: rotation).
    # Both empty: the local run's well-known development key (production refuses it).
    caller_signing_key: str = ""
    caller_verify_keys: str = ""
    transparency_publish_seconds: float = 30.0  # how often event-fed datasets are published anew when changed
    # publish the generated demo datasets (local run, demo overlay); production publishes the units' own files
    transparency_demo_data: bool = True
    transparency_demo_scale: float = Field(1.0, gt=0, le=1)  # the share of the demo's big datasets published
    beneficiary_token_seconds: int = 600  # a beneficiary's session after the one-time code (SPEC T1)
    reporter_token_seconds: int = 1800  # a named case's reporter session after the one-time code (issue 18)

    # Every database connection (common/db.py): found dead within these bounds, never waited on forever.
    db_connect_timeout: int = 5  # seconds
    db_tcp_user_timeout_ms: int = 15000  # sent data unacknowledged this long: the link is dead
    db_keepalives_idle: int = 10  # seconds idle before the first keepalive; then every 3 s, 3 missed = dead
    # statement and lock timeouts by kind of work: a request (RPC; the gateway gives up after RPC_TIMEOUT),
    # and background work (sweeps, payment cycles, ingest, the relay)
    db_request_statement_timeout_ms: int = 15000
    db_request_lock_timeout_ms: int = 5000
    db_background_statement_timeout_ms: int = 600000
    db_background_lock_timeout_ms: int = 60000
    # the server's side of a partition: a transaction left idle (its client gone or stuck) ends after this and
    # frees its locks; the server probes an idle client as the client probes it (tcp_keepalives_*)
    db_idle_in_transaction_timeout_ms: int = 60000

    log_level: str = "INFO"
    log_format: str = "json"  # json | text

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource):
        folder = os.environ.get("SECRETS_DIR")
        files = SecretsSettingsSource(settings_cls, secrets_dir=folder) if folder else file_secret_settings
        return init_settings, env_settings, dotenv_settings, files

    def refuse_unsafe_secrets(self, process: str) -> None:
        """At a process's start: in production, raise UnsafeSettings naming every secret of this process (all
        of them for a process not in SECRETS_OF) that holds a development default, is empty, or is too short."""
        if self.is_production and (unsafe := self.unsafe_secrets(SECRETS_OF.get(process, SECRET_SETTINGS))):
            raise UnsafeSettings(f"ENVIRONMENT=production: {process} refuses to start: " + "; ".join(unsafe))

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def unsafe_secrets(self, names=SECRET_SETTINGS) -> list[str]:
        """What is wrong with these secrets, by setting name (never a value): a development default (any
        secret's), an empty one, or one of the platform's own secrets shorter than MIN_SECRET_LENGTH."""
        fields = type(self).model_fields
        defaults = {fields[n].default for n in SECRET_SETTINGS if isinstance(fields[n].default, str)}
        problems = []
        for name in names:
            value = getattr(self, name)
            values = list(value.values()) if isinstance(value, dict) else [value]
            label = name.upper()
            if any(v in defaults for v in values) or not all(values) or (name == "amqp_uri" and "guest:guest@" in value):
                problems.append(f"{label} holds a development default or is empty")
            elif name in OWN_SECRETS and any(len(v) < MIN_SECRET_LENGTH for v in values):
                problems.append(f"{label} is shorter than {MIN_SECRET_LENGTH} characters")
        return problems

    def token_keys(self) -> dict[str, str]:
        """The keys that verify access tokens, by key id: the current one and those still accepted."""
        return {**self.token_previous_keys, self.token_key_id: self.token_secret}

    def receipt_secret(self, provider: str) -> str | None:
        return {"kavenegar": self.kavenegar_receipt_secret, "smsir": self.smsir_receipt_secret}.get(provider)

    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    def database_url_for(self, service: str) -> str:
        """The database of one service: its own URL, or its own database on DATABASE_URL's server,
        or its own database on the embedded PostgreSQL of the project's data folder."""
        own = getattr(self, f"{service}_database_url", None)
        if own:
            return own
        if self.database_url:
            return with_database(self.database_url, database_name(service))
        from common.embedded_postgres import embedded_server_url

        return with_database(embedded_server_url(self.data_dir), database_name(service))

    def metrics_port_for(self, process: str) -> int:
        if self.metrics_port is not None:
            return self.metrics_port
        return DEFAULT_METRICS_PORTS.get(process, 0)

    def nameko_config(self) -> dict:
        return {
            "AMQP_URI": self.amqp_uri,
            "SERIALIZER": "json",
            "ACCEPT": ["json", "cloudevents"],
            "SERIALIZERS": {
                "cloudevents": {
                    "encoder": "common.events.envelope.encode",
                    "decoder": "common.events.envelope.decode",
                    "content_type": "application/cloudevents+json",
                    "content_encoding": "utf-8",
                }
            },
            "max_workers": 20,
            "parent_calls_tracked": 10,
        }


def database_name(service: str) -> str:
    return f"welfare_{service}"


def amqp_uris(amqp_uri: str) -> list[str]:
    """The broker URLs of AMQP_URI: one, or several nodes of a cluster separated by `;`
    (`amqp://u:p@h1:5672/vh;amqp://u:p@h2:5672/vh`), which kombu tries in turn when one is unreachable."""
    return [part.strip() for part in amqp_uri.split(";") if part.strip()]


def with_database(url: str, database: str) -> str:
    """Replace the database part of a libpq URL, keeping host, port, credentials and query."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


@lru_cache
def get_settings() -> Settings:
    return Settings()
