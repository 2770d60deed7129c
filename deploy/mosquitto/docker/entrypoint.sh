#!/bin/sh
# Start Mosquitto with the project's configuration, the dynamic-security plugin and the
# project's retain guard (no retained telemetry), no anonymous access. The configuration
# is rendered from the same files the local set-up and the tests use
# (deploy/mosquitto/ioc.conf.in, with dynsec.auth.in as its @AUTH@ block), so queue,
# in-flight and persistence settings are never copied by hand.
#
# On first start it creates the dynamic-security file with the admin account from
# MQTT_ADMIN_USER / MQTT_ADMIN_PASSWORD (`mosquitto_ctrl dynsec init`); after that the
# file in the data volume is the truth, and accounts change at run time over MQTT.
#
# With MQTT_TLS_DIR (a directory holding ca.pem, server.pem and server.key, made by
# `python -m ioc certs`), it also listens with TLS on MQTT_TLS_PORT: compose runs every
# hop over that listener and keeps the plain one on the container's loopback.
#
# Environment (defaults are the container's paths; the tests point them elsewhere):
#   MQTT_ADMIN_USER, MQTT_ADMIN_PASSWORD   required on first start
#   MQTT_PORT (1883)  MQTT_BIND (0.0.0.0)  MQTT_DATA (/mosquitto/data)
#   MQTT_TLS_DIR (unset: no TLS)  MQTT_TLS_PORT (8883)  MQTT_TLS_BIND (0.0.0.0)
#   MQTT_CONF_DIR (/ioc, where ioc.conf.in, tls.listener.in and dynsec.auth.in are)
#   MQTT_RUN_AS (mosquitto)
set -eu

PORT="${MQTT_PORT:-1883}"
BIND="${MQTT_BIND:-0.0.0.0}"
DATA="${MQTT_DATA:-/mosquitto/data}"
CONF_DIR="${MQTT_CONF_DIR:-/ioc}"
RUN_AS="${MQTT_RUN_AS:-mosquitto}"
DYNSEC="$DATA/dynamic-security.json"
CONF="$DATA/mosquitto.conf"

# The plugins of the broker that runs: beside its own build (local, /opt/ioc-mosquitto),
# or where the project's image (deploy/mosquitto/docker/Dockerfile: the official image's
# /usr/lib plus our ioc_retain_guard.so) or Debian puts them.
binary="$(command -v mosquitto)"
plugin_dir=""
for candidate in "$(dirname "$(readlink -f "$binary")")/../lib" /usr/lib \
                 /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu; do
  if [ -f "$candidate/mosquitto_dynamic_security.so" ] && [ -f "$candidate/mosquitto_persist_sqlite.so" ] \
     && [ -f "$candidate/ioc_retain_guard.so" ]; then
    plugin_dir="$(cd "$candidate" && pwd)"; break
  fi
done
[ -n "$plugin_dir" ] || { echo "Mosquitto 2.1 plugins (dynamic security, persist-sqlite, ioc_retain_guard) not found" >&2; exit 1; }

mkdir -p "$DATA"
if [ ! -f "$DYNSEC" ]; then
  : "${MQTT_ADMIN_USER:?set MQTT_ADMIN_USER for the first start}"
  : "${MQTT_ADMIN_PASSWORD:?set MQTT_ADMIN_PASSWORD for the first start}"
  mosquitto_ctrl dynsec init "$DYNSEC" "$MQTT_ADMIN_USER" "$MQTT_ADMIN_PASSWORD" >/dev/null
  echo "dynamic security initialised with admin account $MQTT_ADMIN_USER" >&2
fi

sed -e "s|@DYNSEC_FILE@|$DYNSEC|g" -e "s|@PLUGIN_DIR@|$plugin_dir|g" \
    "$CONF_DIR/dynsec.auth.in" > "$DATA/auth.conf"
: > "$DATA/tls.conf"
if [ -n "${MQTT_TLS_DIR:-}" ]; then
  for f in ca.pem server.pem server.key; do
    [ -r "$MQTT_TLS_DIR/$f" ] || { echo "MQTT_TLS_DIR=$MQTT_TLS_DIR has no readable $f" >&2; exit 1; }
  done
  sed -e "s|@TLS_PORT@|${MQTT_TLS_PORT:-8883}|" -e "s|@TLS_BIND@|${MQTT_TLS_BIND:-0.0.0.0}|" \
      -e "s|@TLS_DIR@|$MQTT_TLS_DIR|g" "$CONF_DIR/tls.listener.in" > "$DATA/tls.conf"
fi
sed -e "s|^listener @PORT@ .*|listener $PORT $BIND|" -e "s|@STATE_DIR@|$DATA|g" \
    -e "s|@USER@|$RUN_AS|" -e "s|@PLUGIN_DIR@|$plugin_dir|g" \
    -e "/^@TLS_LISTENER@\$/{r $DATA/tls.conf" -e "d}" \
    -e "/^@AUTH@\$/{r $DATA/auth.conf" -e "d}" \
    "$CONF_DIR/ioc.conf.in" > "$CONF"
echo "log_dest stdout" >> "$CONF"

if [ "$(id -u)" = "0" ] && [ "$RUN_AS" != "root" ]; then
  chown -R "$RUN_AS" "$DATA"
fi
exec "$binary" -c "$CONF"
