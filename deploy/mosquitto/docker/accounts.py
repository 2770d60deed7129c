"""Create (or reset) the services' broker accounts with passwords from the environment.

The one-shot ``broker-setup`` service of docker-compose.yml runs this once the broker is
up. Roles and ACLs are the project's own (:data:`ioc.broker_admin.accounts.SERVICE_ACLS`);
only the passwords come from here, so that the compose file can hand each service its
MQTT URL from ``.env``. Every replica has its own account, bound to client id = its
name (``ingest-1``, ``ingest-2``, ``alerts-1``, and ``simulator-0`` … ``-3`` for the
simulator's four pooled connections); the replicas of one service share its password.
Idempotent: an existing account gets the configured password and its binding. The
admin is also allowed to clear a decommissioned device's retained status.

Environment: ``IOC_BROKER_ADMIN_URL`` (``mqtt[s]://admin:pass@host:port``, with
``IOC_MQTT_CA_FILE`` for mqtts), per service ``MQTT_<NAME>_PASSWORD`` (e.g.
``MQTT_INGEST_PASSWORD``) and optionally ``MQTT_<NAME>_ACCOUNTS`` (comma-separated, to
change the replicas' names).
"""

from __future__ import annotations

import os
import sys
import time

from ioc.broker_admin.accounts import SERVICE_ACLS, DynsecAccounts, replica_accounts
from ioc.broker_admin.dynsec import DynsecClient
from ioc.config import Settings
from ioc.errors import IOCError

#: Service → its replicas' accounts (= client ids, as docker-compose.yml sets them).
REPLICAS = {
    "ingest": ["ingest-1", "ingest-2"],
    "alerts": ["alerts-1"],
    "simulator": replica_accounts("simulator", 4),
}


def main() -> int:
    settings = Settings()
    admin = settings.broker_admin
    if admin is None:
        print("set IOC_BROKER_ADMIN_URL=mqtt://admin:password@host:port", file=sys.stderr)
        return 2
    accounts = DynsecAccounts(DynsecClient(admin))
    wanted = {n: os.environ.get(f"MQTT_{n.upper()}_PASSWORD") for n in SERVICE_ACLS}
    names = {
        n: [a.strip() for a in os.environ[f"MQTT_{n.upper()}_ACCOUNTS"].split(",") if a.strip()]
        if os.environ.get(f"MQTT_{n.upper()}_ACCOUNTS")
        else REPLICAS.get(n, [n])
        for n in SERVICE_ACLS
    }
    for attempt in range(30):  # the broker may still be starting
        try:
            accounts.grant_status_clearing()
            for name, password in wanted.items():
                if password:
                    for account in names[name]:
                        accounts.ensure_service(name, password, reset=True, account=account)
                        print(f"broker account ready: {account} ({name})", file=sys.stderr)
            return 0
        except IOCError as exc:
            print(f"broker not ready ({exc}); retrying", file=sys.stderr)
            time.sleep(min(1 + attempt, 5))
    return 1


if __name__ == "__main__":
    sys.exit(main())
