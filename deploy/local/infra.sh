#!/usr/bin/env bash
# Install and start what the IOC needs on this machine, on loopback, idempotently:
#   - PostgreSQL 15 with the TimescaleDB extension: its own cluster "15/ioc" on port
#     ${IOC_PG_PORT:-5433}, so that the machine's own cluster on 5432 is left alone;
#   - Mosquitto with the project's configuration (persistence, queue and in-flight
#     limits set for ack-after-commit), its own instance on ${IOC_MQTT_PORT:-1884};
#   - the Python virtual environment .venv with the project installed.
# It creates the database "ioc"; the tests create (and drop) their own databases in the
# same cluster. Run it again at any time: each step is skipped when already done.
#
# TimescaleDB is not packaged for Debian 12; Debian 13's source package builds against
# PostgreSQL 15 (Apache edition: hypertables, time_bucket, drop_chunks). We fetch that
# source package through a private apt configuration, reusing the mirror this machine
# is already configured with.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE_DIR="${IOC_STATE_DIR:-$ROOT/.run}"
PG_VERSION=15
PG_CLUSTER=ioc
PG_PORT="${IOC_PG_PORT:-5433}"
MQTT_PORT="${IOC_MQTT_PORT:-1884}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

log() { printf '[infra] %s\n' "$*" >&2; }

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated -eq 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

mirror_uri() {
  # The Debian archive URI this machine already uses (deb822 or one-line format).
  local uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || { log "no Debian mirror configured in /etc/apt"; exit 1; }
  echo "$uri"
}

install_timescaledb() {
  local sharedir
  sharedir="$(/usr/lib/postgresql/$PG_VERSION/bin/pg_config --sharedir 2>/dev/null || pg_config --sharedir)"
  if [ -f "$sharedir/extension/timescaledb.control" ]; then
    log "timescaledb already installed"
    return 0
  fi
  apt_install postgresql-server-dev-$PG_VERSION cmake dpkg-dev build-essential libssl-dev
  local work="$STATE_DIR/build/timescaledb" apt_dir="$STATE_DIR/build/apt"
  mkdir -p "$work" "$apt_dir/lists/partial" "$apt_dir/archives/partial"
  printf 'deb-src %s trixie main\n' "$(mirror_uri)" > "$apt_dir/sources.list"
  local apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=-"
                  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache::Archives=$apt_dir/archives"
                  -o "APT::Sandbox::User=root")
  log "fetching the timescaledb source package"
  apt-get "${apt_opts[@]}" update -qq
  (cd "$work" && apt-get "${apt_opts[@]}" source -qq timescaledb >/dev/null)
  local src
  src="$(find "$work" -maxdepth 1 -mindepth 1 -type d -name 'timescaledb-*' | head -n1)"
  log "building $(basename "$src") against PostgreSQL $PG_VERSION (Apache edition)"
  # GIT_CEILING_DIRECTORIES: the build asks git for a version; keep it out of our repository.
  (cd "$src" && export GIT_CEILING_DIRECTORIES="$work" && ./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
       -DPG_CONFIG="/usr/lib/postgresql/$PG_VERSION/bin/pg_config" >/dev/null \
   && make -C build -j"$(nproc)" >/dev/null && $SUDO make -C build install >/dev/null)
  log "timescaledb installed"
}

start_postgres() {
  if ! pg_lsclusters -h | awk '{print $1"/"$2}' | grep -qx "$PG_VERSION/$PG_CLUSTER"; then
    log "creating PostgreSQL cluster $PG_VERSION/$PG_CLUSTER on port $PG_PORT"
    $SUDO pg_createcluster "$PG_VERSION" "$PG_CLUSTER" -p "$PG_PORT" >/dev/null -- --auth=trust
  fi
  local conf="/etc/postgresql/$PG_VERSION/$PG_CLUSTER/conf.d/ioc.conf"
  $SUDO tee "$conf" >/dev/null <<CONF
# Written by deploy/local/infra.sh
listen_addresses = '127.0.0.1'
port = $PG_PORT
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 300
shared_buffers = '512MB'
CONF
  local hba="/etc/postgresql/$PG_VERSION/$PG_CLUSTER/pg_hba.conf"
  if ! grep -q 'ioc: trust on loopback' "$hba"; then
    # Local development and CI only: trust on loopback, like the machine's own cluster.
    $SUDO sed -i '1i # ioc: trust on loopback\nhost all all 127.0.0.1/32 trust\nlocal all all trust' "$hba"
  fi
  if pg_lsclusters -h | awk -v c="$PG_CLUSTER" '$2==c {print $4}' | grep -qx online; then
    log "PostgreSQL $PG_VERSION/$PG_CLUSTER already running"
  else
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" start
    log "PostgreSQL $PG_VERSION/$PG_CLUSTER started on 127.0.0.1:$PG_PORT"
  fi
  for db in ioc; do
    if ! psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "select 1 from pg_database where datname='$db'" | grep -q 1; then
      psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "create database $db" >/dev/null
      log "database $db created"
    fi
  done
}

render_mosquitto_conf() {
  # render_mosquitto_conf PORT STATE_DIR AUTH_BLOCK > file
  sed -e "s|@PORT@|$1|" -e "s|@STATE_DIR@|$2|g" -e "s|@USER@|$(id -un)|" \
      -e "s|@AUTH@|$3|" "$ROOT/deploy/mosquitto/ioc.conf.in"
}

start_mosquitto() {
  apt_install mosquitto mosquitto-clients
  local dir="$STATE_DIR/mosquitto"
  mkdir -p "$dir"
  render_mosquitto_conf "$MQTT_PORT" "$dir" "allow_anonymous true" > "$dir/mosquitto.conf.new"
  local running=0
  if [ -f "$dir/mosquitto.pid" ] && kill -0 "$(cat "$dir/mosquitto.pid")" 2>/dev/null; then
    running=1
    if ! cmp -s "$dir/mosquitto.conf.new" "$dir/mosquitto.conf"; then
      log "Mosquitto configuration changed: restarting it (SIGTERM saves its queues)"
      local pid; pid="$(cat "$dir/mosquitto.pid")"
      kill "$pid"
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
      running=0
    fi
  fi
  mv "$dir/mosquitto.conf.new" "$dir/mosquitto.conf"
  if [ $running -eq 1 ]; then
    log "Mosquitto already running on 127.0.0.1:$MQTT_PORT"
  elif (exec 3<>"/dev/tcp/127.0.0.1/$MQTT_PORT") 2>/dev/null; then
    # Another checkout's instance (or another broker) already serves this port: use it.
    # The tests start private brokers of their own and do not depend on this one.
    log "something already listens on 127.0.0.1:$MQTT_PORT; leaving it as it is"
  else
    mosquitto -d -c "$dir/mosquitto.conf"
    log "Mosquitto started on 127.0.0.1:$MQTT_PORT (state in $dir)"
  fi
}

setup_python() {
  if [ ! -x "$ROOT/.venv/bin/python" ]; then
    log "creating .venv"
    python3 -m venv "$ROOT/.venv"
  fi
  if [ ! -f "$ROOT/.venv/.installed" ] || [ "$ROOT/pyproject.toml" -nt "$ROOT/.venv/.installed" ]; then
    log "installing the project into .venv"
    "$ROOT/.venv/bin/pip" install -q --upgrade pip >/dev/null
    "$ROOT/.venv/bin/pip" install -q -e "$ROOT[dev]"
    touch "$ROOT/.venv/.installed"
  fi
}

main() {
  mkdir -p "$STATE_DIR"
  apt_install postgresql-$PG_VERSION postgresql-client-$PG_VERSION
  install_timescaledb
  start_postgres
  start_mosquitto
  [ "${1:-}" = "--no-python" ] || setup_python
  cat >&2 <<MSG
[infra] ready:
[infra]   IOC_DATABASE_URL=postgresql://postgres@127.0.0.1:$PG_PORT/ioc
[infra]   IOC_MQTT_URL=mqtt://127.0.0.1:$MQTT_PORT
MSG
}

main "$@"
