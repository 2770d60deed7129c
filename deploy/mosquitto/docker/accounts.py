"""Create (or reset) the services' broker accounts with passwords from the environment.

The one-shot ``broker-setup`` service of docker-compose.yml runs this once the broker is
up. Roles and ACLs are the project's own (:data:`ioc.broker_admin.accounts.SERVICE_ACLS`);
only the passwords come from here, so that the compose file can hand each service its
MQTT URL from ``.env``. Idempotent: an existing account gets the configured password.

Environment: ``IOC_BROKER_ADMIN_URL`` (``mqtt://admin:pass@host:port``) and, per service,
``MQTT_<NAME>_PASSWORD`` (e.g. ``MQTT_INGEST_PASSWORD``).
"""

from __future__ import annotations

import os
import sys
import time

from ioc.broker_admin.accounts import SERVICE_ACLS, DynsecAccounts
from ioc.broker_admin.dynsec import DynsecClient
from ioc.config import Settings, parse_mqtt_url
from ioc.errors import IOCError


def main() -> int:
    settings = Settings()
    if settings.broker_admin_url is None:
        print("set IOC_BROKER_ADMIN_URL=mqtt://admin:password@host:port", file=sys.stderr)
        return 2
    admin = parse_mqtt_url(settings.broker_admin_url.get_secret_value())
    accounts = DynsecAccounts(DynsecClient(admin))
    wanted = {n: os.environ.get(f"MQTT_{n.upper()}_PASSWORD") for n in SERVICE_ACLS}
    for attempt in range(30):  # the broker may still be starting
        try:
            for name, password in wanted.items():
                if password:
                    accounts.ensure_service(name, password, reset=True)
                    print(f"broker account ready: {name}", file=sys.stderr)
            return 0
        except IOCError as exc:
            print(f"broker not ready ({exc}); retrying", file=sys.stderr)
            time.sleep(min(1 + attempt, 5))
    return 1


if __name__ == "__main__":
    sys.exit(main())
