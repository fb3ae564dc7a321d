#!/bin/sh
set -e
if [ "${1#-}" != "$1" ]; then set -- memcached "$@"; fi
if [ "$(id -u)" = 0 ]; then exec setpriv --reuid=memcache --regid=memcache --init-groups "$@"; fi
exec "$@"
