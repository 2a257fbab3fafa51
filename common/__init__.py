"""What every service of the platform needs, once: configuration, database access, events
(envelope, schemas, outbox, inbox, reliable consumers), metrics, logging and Iranian identifiers."""

import warnings

# nameko 2.14 stands on eventlet, which warns on import that it is in maintenance mode; we know.
warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
