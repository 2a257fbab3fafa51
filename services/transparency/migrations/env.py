from common.migration_env import run
from services.transparency.models import Base

run(Base.metadata)
