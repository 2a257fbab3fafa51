"""Fixtures the service tests share."""
import pytest

from services.notifications.service import NotificationsService


@pytest.fixture
def notifications(container_factory, service_config, sms_operator):
    # one operator: these tests count what it received; failover has its own (tests/unit/test_sms_providers.py)
    container = container_factory(NotificationsService, {**service_config, "SMS_PROVIDER_URL": sms_operator.url,
                                                         "SMS_PROVIDERS": "kavenegar"})
    container.start()
    return container


@pytest.fixture
def db(engine_of):
    return engine_of("notifications")
