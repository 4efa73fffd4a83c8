#!/bin/sh
# Start Mosquitto with a password file written from the environment (compose service `mosquitto`).
#   MQTT_BROKER_USER / MQTT_BROKER_PASSWORD  the one account (from .env); required, never defaulted
#   MOSQUITTO_CONFIG                         default /mosquitto/config/mosquitto.conf
#   MOSQUITTO_PASSWORD_FILE                  default /mosquitto/data/passwd (the config's password_file)
set -eu

config="${MOSQUITTO_CONFIG:-/mosquitto/config/mosquitto.conf}"
password_file="${MOSQUITTO_PASSWORD_FILE:-/mosquitto/data/passwd}"

if [ -z "${MQTT_BROKER_USER:-}" ] || [ -z "${MQTT_BROKER_PASSWORD:-}" ]; then
    echo "mosquitto: MQTT_BROKER_USER and MQTT_BROKER_PASSWORD must be set in .env" >&2
    exit 1
fi

# Owner-only file; recreated each start so that a changed password in .env applies.
umask 077
mosquitto_passwd -c -b "$password_file" "$MQTT_BROKER_USER" "$MQTT_BROKER_PASSWORD"
exec mosquitto -c "$config"
