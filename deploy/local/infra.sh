#!/usr/bin/env bash
# Install and start what the IOC needs on this machine, on loopback, idempotently:
#   - PostgreSQL 15 with the TimescaleDB extension: its own cluster "15/ioc" on port
#     ${IOC_PG_PORT:-5433}, so that the machine's own cluster on 5432 is left alone;
#   - Mosquitto 2.1 with the project's configuration (persistence, queue and in-flight
#     limits set for ack-after-commit, the retain-guard plugin built here against it:
#     no retained telemetry), its own instance on ${IOC_MQTT_PORT:-1884}, and
#     with TLS (mqtts://) on ${IOC_MQTT_TLS_PORT:-8884}, its certificate from a private CA
#     made here once (.run/tls: ca.pem for clients, server.pem/key, client.pem/key);
#   - the Python virtual environment .venv with the project installed.
# It creates the database "ioc"; the tests create (and drop) their own databases in the
# same cluster. Run it again at any time: each step is skipped when already done.
#
# TimescaleDB is not packaged for Debian 12; Debian 13's source package builds against
# PostgreSQL 15 (Apache edition: hypertables, time_bucket, drop_chunks). We fetch that
# source package through a private apt configuration, reusing the mirror this machine
# is already configured with.
#
# Mosquitto: Debian 12 ships 2.0.11, whose persistence file does not keep shared
# subscriptions ($share/...): after a clean restart the broker acknowledges devices'
# messages and routes them to no one until ingest subscribes again. No 2.0.x release
# fixes that (their persistence file still skips shared subscriptions); 2.1's
# persist-sqlite plugin keeps them (docs/broker.md). Debian's next-but-one release (sid)
# carries 2.1; its source package builds here against Debian 12's libraries in about
# 20 s. It is installed under /opt/ioc-mosquitto/<version> with links in /usr/local so
# that `mosquitto` and `mosquitto_ctrl` on PATH are this build; Debian's own package
# (and the machine's broker on 1883) stay as they are.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE_DIR="${IOC_STATE_DIR:-$ROOT/.run}"
PG_VERSION=15
PG_CLUSTER=ioc
PG_PORT="${IOC_PG_PORT:-5433}"
MQTT_PORT="${IOC_MQTT_PORT:-1884}"
MQTT_TLS_PORT="${IOC_MQTT_TLS_PORT:-8884}"
TLS_DIR="$STATE_DIR/tls"
MOSQUITTO_SOURCE_VERSION="${IOC_MOSQUITTO_SOURCE_VERSION:-2.1.2-3}"  # Debian sid's source package
MOSQUITTO_ROOT=/opt/ioc-mosquitto
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

private_apt() {
  # private_apt SUITE: apt-get options for a deb-src line of SUITE, kept in our state dir.
  local apt_dir="$STATE_DIR/build/apt-$1"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
  printf 'deb-src %s %s main\n' "$(mirror_uri)" "$1" > "$apt_dir/sources.list"
  APT_OPTS=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=-"
            -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache::Archives=$apt_dir/archives"
            -o "APT::Sandbox::User=root")
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

make_certs() {
  # The private CA and certificates (ioc/broker_admin/certs.py, standard library and the
  # openssl command only: it runs before .venv exists). Kept when they exist.
  apt_install openssl
  python3 "$ROOT/ioc/broker_admin/certs.py" "$TLS_DIR" >/dev/null
}

render_mosquitto_conf() {
  # render_mosquitto_conf PORT STATE_DIR AUTH_BLOCK TLS_PORT > file
  sed -e "s|@TLS_PORT@|$4|" -e "s|@TLS_BIND@|127.0.0.1|" -e "s|@TLS_DIR@|$TLS_DIR|g" \
      "$ROOT/deploy/mosquitto/tls.listener.in" > "$2/tls.conf"
  sed -e "s|@PORT@|$1|" -e "s|@STATE_DIR@|$2|g" -e "s|@USER@|$(id -un)|" \
      -e "/^@TLS_LISTENER@\$/{r $2/tls.conf" -e "d}" \
      -e "s|@AUTH@|$3|" -e "s|@PLUGIN_DIR@|$MOSQUITTO_ROOT/current/lib|g" \
      "$ROOT/deploy/mosquitto/ioc.conf.in"
}

mosquitto_ok() {
  # mosquitto_ok PREFIX: a 2.1 broker with the persist-sqlite plugin is installed there.
  local banner
  [ -x "$1/sbin/mosquitto" ] && [ -f "$1/lib/mosquitto_persist_sqlite.so" ] \
    && [ -f "$1/include/mosquitto/broker_plugin.h" ] || return 1
  banner="$("$1/sbin/mosquitto" -h 2>/dev/null || true)"
  [[ "$banner" == *"mosquitto version 2.1."* ]]
}

install_mosquitto() {
  # Mosquitto 2.1 from Debian sid's source package, under $MOSQUITTO_ROOT/<version>.
  local prefix="$MOSQUITTO_ROOT/$MOSQUITTO_SOURCE_VERSION"
  if ! mosquitto_ok "$prefix"; then
    apt_install cmake dpkg-dev build-essential pkgconf libssl-dev libcjson-dev libsqlite3-dev libargon2-dev
    local work="$STATE_DIR/build/mosquitto"
    rm -rf "$work"; mkdir -p "$work"
    private_apt sid
    log "fetching the mosquitto $MOSQUITTO_SOURCE_VERSION source package"
    apt-get "${APT_OPTS[@]}" update -qq
    if ! (cd "$work" && apt-get "${APT_OPTS[@]}" source -qq "mosquitto=$MOSQUITTO_SOURCE_VERSION" >/dev/null 2>&1); then
      # sid moved on: take its current 2.1.x (checked below) rather than fail.
      log "mosquitto $MOSQUITTO_SOURCE_VERSION is gone from sid; fetching its current version"
      (cd "$work" && apt-get "${APT_OPTS[@]}" source -qq mosquitto >/dev/null)
      prefix="$MOSQUITTO_ROOT/$(basename "$(find "$work" -maxdepth 1 -name 'mosquitto_*.dsc' | head -n1)" .dsc | cut -d_ -f2)"
    fi
    local src
    src="$(find "$work" -maxdepth 1 -mindepth 1 -type d -name 'mosquitto-*' | head -n1)"
    log "building $(basename "$src") into $prefix"
    # Only what the project uses: broker, plugins (dynamic security, persist-sqlite),
    # clients and mosquitto_ctrl. No websockets/HTTP API (their libraries are not in
    # Debian 12), no tests or docs. About 20 s on two cores; time-boxed.
    (cd "$src" && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
       -DCMAKE_INSTALL_RPATH="$prefix/lib" -DWITH_TESTS=OFF -DWITH_DOCS=OFF -DWITH_WEBSOCKETS=OFF \
       -DWITH_HTTP_API=OFF -DWITH_CTRL_SHELL=OFF -DWITH_LTO=OFF >/dev/null \
     && timeout 900 make -C build -j"$(nproc)" >"$work/build.log" 2>&1 \
     && $SUDO make -C build install >>"$work/build.log" 2>&1) \
     || { tail -n 30 "$work/build.log" >&2; log "building mosquitto failed"; exit 1; }
    rm -rf "$work"
    mosquitto_ok "$prefix" || { log "the mosquitto build in $prefix is not a 2.1 broker with persist-sqlite"; exit 1; }
    log "mosquitto installed in $prefix"
  fi
  local tool
  for tool in sbin/mosquitto bin/mosquitto_ctrl bin/mosquitto_pub bin/mosquitto_sub \
              bin/mosquitto_passwd bin/mosquitto_db_dump; do
    $SUDO ln -sfn "$prefix/$tool" "/usr/local/$tool"
  done
  $SUDO ln -sfn "$prefix" "$MOSQUITTO_ROOT/current"
  install_retain_guard "$prefix"
}

install_retain_guard() {
  # install_retain_guard PREFIX: the project's ACL plugin (deploy/mosquitto/plugins,
  # refuses retained PUBLISHes except on .../status), compiled against this build's own
  # headers and installed beside its other plugins. Rebuilt when its source or the
  # flags change (the stamp beside it); a second or so, time-boxed.
  local src="$ROOT/deploy/mosquitto/plugins/ioc_retain_guard.c"
  local lib="$1/lib/ioc_retain_guard.so"
  local flags=(-std=gnu11 -O2 -Wall -Wextra -Werror -fPIC -shared -I"$1/include")
  local stamp
  stamp="$( (cat "$src"; echo "${flags[*]}") | sha256sum | cut -d' ' -f1)"
  if [ -f "$lib" ] && [ "$(cat "$lib.sha256" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  apt_install build-essential
  local tmp; tmp="$(mktemp -d)"
  timeout 120 cc "${flags[@]}" "$src" -o "$tmp/ioc_retain_guard.so" \
    || { rm -rf "$tmp"; log "building the retain-guard plugin failed"; exit 1; }
  $SUDO install -m 0644 "$tmp/ioc_retain_guard.so" "$lib"
  echo "$stamp" | $SUDO tee "$lib.sha256" >/dev/null
  rm -rf "$tmp"
  log "retain-guard plugin installed in $lib"
}

start_mosquitto() {
  apt_install mosquitto-clients
  install_mosquitto
  local dir="$STATE_DIR/mosquitto"
  mkdir -p "$dir"
  make_certs
  render_mosquitto_conf "$MQTT_PORT" "$dir" "allow_anonymous true" "$MQTT_TLS_PORT" > "$dir/mosquitto.conf.new"
  local binary="$MOSQUITTO_ROOT/current/sbin/mosquitto"
  # The build and the plugin it loads: either changing restarts the broker.
  { readlink -f "$binary"; sha256sum < "$MOSQUITTO_ROOT/current/lib/ioc_retain_guard.so"; } > "$dir/binary.new"
  local running=0
  if [ -f "$dir/mosquitto.pid" ] && kill -0 "$(cat "$dir/mosquitto.pid")" 2>/dev/null; then
    running=1
    if ! cmp -s "$dir/mosquitto.conf.new" "$dir/mosquitto.conf" || ! cmp -s "$dir/binary.new" "$dir/binary"; then
      log "Mosquitto build or configuration changed: restarting it (SIGTERM saves its state)"
      local pid; pid="$(cat "$dir/mosquitto.pid")"
      kill "$pid"
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
      running=0
    fi
  fi
  mv "$dir/mosquitto.conf.new" "$dir/mosquitto.conf"
  mv "$dir/binary.new" "$dir/binary"
  if [ $running -eq 1 ]; then
    log "Mosquitto already running on 127.0.0.1:$MQTT_PORT"
  elif (exec 3<>"/dev/tcp/127.0.0.1/$MQTT_PORT") 2>/dev/null; then
    # Another checkout's instance (or another broker) already serves this port: use it.
    # The tests start private brokers of their own and do not depend on this one.
    log "something already listens on 127.0.0.1:$MQTT_PORT; leaving it as it is"
  else
    "$binary" -d -c "$dir/mosquitto.conf"
    log "Mosquitto started on 127.0.0.1:$MQTT_PORT, TLS on 127.0.0.1:$MQTT_TLS_PORT (state in $dir)"
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
[infra]   or with TLS: IOC_MQTT_URL=mqtts://localhost:$MQTT_TLS_PORT IOC_MQTT_CA_FILE=$TLS_DIR/ca.pem
MSG
}

main "$@"
