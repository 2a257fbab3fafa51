"""Demo datasets are never published in production (issue 18): generated rows signed with the
production key would read as the organization's own."""
import pytest
from nameko.testing.services import worker_factory

from common.config import get_settings
from common.errors import Forbidden
from services.transparency import publishing
from services.transparency.service import TransparencyFeeds, TransparencyService


@pytest.fixture
def production(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_publish_demo_is_refused_and_the_timer_publishes_no_demo_in_production(production, monkeypatch):
    published = []
    monkeypatch.setattr(publishing, "publish_demo", lambda *args: published.append("demo") or ["demo"])
    monkeypatch.setattr(publishing, "publish_changed", lambda *args: [])
    service = worker_factory(TransparencyService)
    with pytest.raises(Forbidden) as refused:
        service.publish_demo()
    assert refused.value.code == "no_demo_in_production"
    feeds = worker_factory(TransparencyFeeds)
    feeds.config = {"TRANSPARENCY_DEMO_DATA": True}
    assert feeds.publish_changed() == [] and published == []


def test_the_demo_is_published_outside_production(monkeypatch):
    get_settings.cache_clear()
    monkeypatch.setattr(publishing, "publish_demo", lambda *args: ["demo"])
    monkeypatch.setattr(publishing, "publish_changed", lambda *args: [])
    feeds = worker_factory(TransparencyFeeds)
    feeds.config = {"TRANSPARENCY_DEMO_DATA": True}
    assert feeds.publish_changed() == ["demo"] and worker_factory(TransparencyService).publish_demo() == ["demo"]
