#!/bin/sh
# JVM_EXTRA_OPTS is split on spaces on purpose: it holds -D flags, as in the official image.
set -e
exec setpriv --reuid=cassandra --regid=cassandra --init-groups \
  java @/etc/cassandra/jvm.options -Xms"${MAX_HEAP_SIZE:-1G}" -Xmx"${MAX_HEAP_SIZE:-1G}" $JVM_EXTRA_OPTS \
  -cp '/opt/cassandra/lib/*' org.apache.cassandra.service.CassandraDaemon
