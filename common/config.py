"""Configuration from the environment, in one place.

Every default makes the local run work on a laptop: RabbitMQ on localhost, an embedded PostgreSQL in
the project's .data folder when no database URL is given, the fake SMS operator on port 8025.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("complaints", "notifications", "payments", "transparency")

# One Prometheus port per process kind; the gateway's is beside its HTTP port.
DEFAULT_METRICS_PORTS = {
    "gateway": 9100,
    "complaints": 9101,
    "notifications": 9102,
    "payments": 9103,
    "transparency": 9104,
    "relay": 9110,
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

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
    rpc_blocked_hold_seconds: float = 5.0  # after connection.blocked, answer 503 at once this long, then try again
    max_request_bytes: int = 64 * 1024
    max_upload_bytes: int = 10 * 1024 * 1024 + 256 * 1024  # an evidence file (10 MB) and its multipart wrapping
    cors_origins: str = "http://localhost:8000,http://localhost:5173"  # comma-separated
    trusted_proxies: int = 0  # how many proxies in front set X-Forwarded-For (0: none)
    rate_limits_enabled: bool = True
    rate_limit_storage: str = "memory://"  # per process; a shared store (redis://) across replicas
    rate_limit_default: str = "300/minute"
    rate_limit_register: str = "10/minute;100/hour"
    rate_limit_login: str = "5/minute;30/hour"
    # Signs the gateway's access tokens. The default is for the local run only; every deployment
    # sets its own (k8s: Secret welfare-secrets).
    token_secret: str = "local-development-secret-change-me-0123456789"
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
    # the token in the receipt URL given to the operators (POST /api/v1/sms/receipts/<provider>?token=…)
    sms_callback_token: str = "local-development-callback-token"
    sms_max_segments: int = 3  # a template that renders longer is refused (cost)
    quiet_hours: str = "22:00-07:00"  # Tehran time; non-urgent messages wait until it ends ("" for none)
    public_base_url: str = "http://localhost:8000"

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
    transparency_publish_seconds: float = 30.0  # how often event-fed datasets are published anew when changed
    # publish the generated demo datasets (local run, demo overlay); production publishes the units' own files
    transparency_demo_data: bool = True
    beneficiary_token_seconds: int = 600  # a beneficiary's session after the one-time code (SPEC T1)

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
