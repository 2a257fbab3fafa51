"""Fixtures the service tests share."""
import pytest

from services.notifications.service import NotificationsService


@pytest.fixture
def notifications(container_factory, service_config, sms_operator):
    container = container_factory(NotificationsService, {**service_config, "SMS_PROVIDER_URL": sms_operator.url})
    container.start()
    return container


@pytest.fixture
def db(engine_of):
    return engine_of("notifications")
