from __future__ import annotations

from nameko.extensions import DependencyProvider

from common.config import get_settings
from services.notifications.providers.kavenegar import KavenegarProvider

SMS_PROVIDER_URL_KEY = "SMS_PROVIDER_URL"


class SmsProviderDependency(DependencyProvider):
    """The SMS operator adapter. The default talks to the local fake operator (fakes/sms_operator),
    which answers like the real API; production points SMS_PROVIDER_URL at the operator."""

    def setup(self):
        settings = get_settings()
        url = self.container.config.get(SMS_PROVIDER_URL_KEY) or settings.sms_provider_url
        self.provider = KavenegarProvider(url, settings.sms_api_key, settings.sms_sender_line,
                                          settings.sms_timeout)

    def get_dependency(self, worker_ctx):
        return self.provider
