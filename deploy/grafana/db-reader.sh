#!/bin/sh
# First start of the TimescaleDB container (/docker-entrypoint-initdb.d): Grafana's
# read-only role. It may read every table the services create later (default
# privileges of the services' account), and nothing else: dashboards never write.
set -eu
: "${IOC_GRAFANA_DB_USER:?}" "${IOC_GRAFANA_DB_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v reader="$IOC_GRAFANA_DB_USER" -v password="$IOC_GRAFANA_DB_PASSWORD" \
     -v owner="$POSTGRES_USER" -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"reader" LOGIN PASSWORD :'password';
GRANT CONNECT ON DATABASE :"db" TO :"reader";
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";
ALTER ROLE :"reader" SET default_transaction_read_only = on;
ALTER ROLE :"reader" SET statement_timeout = '30s';
SQL
