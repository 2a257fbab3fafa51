from __future__ import annotations

from dataclasses import dataclass

from nameko.extensions import DependencyProvider

from common.config import Settings, get_settings
from services.notifications.providers.kavenegar import KavenegarProvider
from services.notifications.providers.smsir import SmsIrProvider
from services.notifications.routing import ProviderRouter

SMS_PROVIDER_URL_KEY = "SMS_PROVIDER_URL"  # Kavenegar's address
SMSIR_URL_KEY = "SMSIR_URL"
SMS_PROVIDERS_KEY = "SMS_PROVIDERS"


def build_router(settings: Settings, kavenegar_url: str | None = None, smsir_url: str | None = None,
                 names: str | None = None) -> ProviderRouter:
    """The operators named in `sms_providers`, in that order, behind one router."""
    makers = {
        "kavenegar": lambda: KavenegarProvider(kavenegar_url or settings.sms_provider_url, settings.sms_api_key,
                                               settings.sms_sender_line, settings.sms_timeout),
        "smsir": lambda: SmsIrProvider(smsir_url or settings.smsir_url, settings.smsir_api_key,
                                       settings.smsir_line_number, settings.sms_timeout),
    }
    wanted = [n.strip().lower() for n in (names or settings.sms_providers).split(",") if n.strip()]
    unknown = [n for n in wanted if n not in makers]
    if unknown or not wanted:
        raise ValueError(f"sms_providers: unknown or none: {unknown or wanted} (known: {', '.join(makers)})")
    return ProviderRouter([makers[n]() for n in wanted], rate_per_second=settings.sms_rate_per_second,
                          fail_max=settings.sms_breaker_fail_max,
                          reset_timeout=settings.sms_breaker_reset_seconds)


class SmsProviderDependency(DependencyProvider):
    """The SMS operators, behind a router with failover (services/notifications/routing.py). The defaults talk
    to the local fake operator (fakes/sms_operator), which answers like both real APIs; production points
    SMS_PROVIDER_URL at Kavenegar and SMSIR_URL at SMS.ir. The container config may set either, and
    SMS_PROVIDERS (the priority order)."""

    def setup(self):
        config = self.container.config
        self.provider = build_router(get_settings(), kavenegar_url=config.get(SMS_PROVIDER_URL_KEY),
                                     smsir_url=config.get(SMSIR_URL_KEY), names=config.get(SMS_PROVIDERS_KEY))

    def get_dependency(self, worker_ctx):
        return self.provider


class IntegratorsDependency(DependencyProvider):
    """What integrators' registry and webhooks work with (services/notifications/integrators.py, webhooks.py):
    the broker, on the vhost of the container's AMQP_URI, and the webhooks' retry policy. The container config
    may override BROKER_ADMIN_URL, WEBHOOK_MAX_ATTEMPTS and WEBHOOK_RETRY_BASE_SECONDS (tests)."""

    def setup(self):
        from services.notifications.integrators import Broker
        from services.notifications.webhooks import RetryPolicy

        settings = get_settings()
        config = self.container.config
        self.tools = Integrators(
            broker=Broker(config.get("BROKER_ADMIN_URL", settings.broker_admin_url), config["AMQP_URI"],
                          settings.integrator_amqp_address),
            amqp_uri=config["AMQP_URI"],
            policy=RetryPolicy(max_attempts=int(config.get("WEBHOOK_MAX_ATTEMPTS", settings.webhook_max_attempts)),
                               base_delay=float(config.get("WEBHOOK_RETRY_BASE_SECONDS",
                                                           settings.webhook_retry_base_seconds)),
                               timeout=settings.webhook_timeout),
            derivation_key=settings.secret_derivation_key, production=settings.is_production)

    def get_dependency(self, worker_ctx):
        return self.tools


@dataclass(frozen=True)
class Integrators:
    broker: object
    amqp_uri: str
    policy: object
    derivation_key: str
    production: bool
