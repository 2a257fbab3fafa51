from sqlalchemy.orm import DeclarativeBase

from common.inbox import define_inbox_table
from common.outbox import define_outbox_table


class Base(DeclarativeBase):
    pass


outbox = define_outbox_table(Base.metadata)
inbox = define_inbox_table(Base.metadata)
