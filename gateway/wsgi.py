from common.logs import configure_logging
from gateway.app import create_app

configure_logging("gateway")
app = create_app()
