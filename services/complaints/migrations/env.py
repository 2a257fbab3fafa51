from common.migration_env import run
from services.complaints.models import Base

run(Base.metadata)
