#!/bin/sh
# As in the official image: arguments that start with "-" are Envoy's flags, and Envoy runs as the
# unprivileged user envoy unless ENVOY_UID=0.
set -e
if [ "${1#-}" != "$1" ]; then set -- envoy "$@"; fi
if [ "$(id -u)" = 0 ] && [ "${ENVOY_UID:-101}" != 0 ]; then
  exec setpriv --reuid=envoy --regid=envoy --init-groups "$@"
fi
exec "$@"
