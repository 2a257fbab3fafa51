"""The transactional outbox: a state change and the events it causes commit in one transaction; a
relay (common.outbox.relay) publishes them with publisher confirms and marks them published."""
from common.outbox.store import add, add_many, define_outbox_table

__all__ = ["add", "add_many", "define_outbox_table"]
