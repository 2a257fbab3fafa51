from common.rpc import rpc
from sqlalchemy import text


class HealthRpc:
    """The `health` RPC every service answers: the gateway's /readyz asks it, so a ready gateway means
    each service is consuming from the broker and reaches its own database."""

    @rpc
    def health(self) -> dict:
        with self.db.begin():
            self.db.execute(text("SELECT 1"))
        return {"service": self.name, "status": "ok"}
