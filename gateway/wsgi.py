import logging

from common.config import Settings, get_settings
from common.logs import configure_logging
from gateway.app import create_app

configure_logging("gateway")
if get_settings().token_secret == Settings.model_fields["token_secret"].default:
    logging.getLogger("gateway").warning("TOKEN_SECRET is the development default: set it in any deployment")
get_settings().refuse_unsafe_secrets("gateway")  # production: no development secret
app = create_app()
