#!/bin/sh
# As in the official image: arguments that start with "-" are Envoy's flags, and Envoy runs as the
# unprivileged user envoy unless ENVOY_UID=0; ENVOY_UID and ENVOY_GID renumber that user first (the
# sidecar runs as 1337, the uid the capture rules let pass).
set -e
if [ "${1#-}" != "$1" ]; then set -- envoy "$@"; fi
if [ "$(id -u)" = 0 ] && [ "${ENVOY_UID:-101}" != 0 ]; then
  if [ -n "$ENVOY_UID" ]; then usermod -u "$ENVOY_UID" envoy; fi
  if [ -n "$ENVOY_GID" ]; then groupmod -g "$ENVOY_GID" envoy; fi
  exec setpriv --reuid=envoy --regid=envoy --init-groups "$@"
fi
exec "$@"
