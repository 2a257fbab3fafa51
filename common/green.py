"""nameko runs on eventlet; psycopg2 is a C driver that would block the whole hub during a query.
psycogreen makes it yield to other green threads while it waits on the database."""
import eventlet
from psycogreen.eventlet import patch_psycopg


def monkey_patch() -> None:
    eventlet.monkey_patch()
    patch_psycopg()
