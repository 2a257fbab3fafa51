"""Fixtures the service tests share."""
import pytest
import sqlalchemy as sa

from fakes.bank.app import create_app
from services.complaints.demo_staff import load_demo_staff
from services.notifications.service import NotificationsService
from services.transparency.service import TransparencyFeeds, TransparencyService
from services.payments.bank import BankHttpAdapter
from tests.helpers import serving
from tests.service.payment_cycle_helpers import KEY


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


@pytest.fixture
def transparency(container_factory, service_config):
    """Both processes of the service (its RPCs, its feeds); the feeds' container, whose event handlers and
    timer the tests wait on."""
    config = {**service_config, "TRANSPARENCY_DEMO_DATA": False}
    container_factory(TransparencyService, config).start()
    feeds = container_factory(TransparencyFeeds, config)
    feeds.start()
    return feeds


@pytest.fixture
def engine(db_urls):
    """The complaints database, with the demo staff (tests/service/complaints_helpers.py works on it)."""
    load_demo_staff(db_urls["complaints"])
    engine = sa.create_engine(db_urls["complaints"])
    yield engine
    engine.dispose()


@pytest.fixture
def bank_server():
    """The fake bank over HTTP, in this process, as the payment cycle tests pay through it."""
    app = create_app(KEY, open_registry=True)
    with serving(app) as server:
        server.bank = app.config.get("bank")
        yield server


@pytest.fixture
def bank(bank_server):
    return BankHttpAdapter(bank_server.url, KEY, timeout=10)
