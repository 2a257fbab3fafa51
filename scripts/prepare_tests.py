"""Before the tests: a reachable RabbitMQ with its management API (PostgreSQL is the tests' own
business: DATABASE_URL's server, or an embedded one)."""
from common.config import get_settings
from scripts.broker import ensure_broker, ensure_management_api

if __name__ == "__main__":
    ensure_broker(get_settings().amqp_uri)
    ensure_management_api()
