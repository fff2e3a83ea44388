#!/bin/sh
# Starts the Kafka Connect worker of the compose stack: the fixed settings of
# connect-distributed.properties, plus the addresses, which follow the stack's ports.
# Every service shares one network namespace, so 127.0.0.1 is the same place for the host
# and for Connect.
set -eu
: "${CONNECT_BOOTSTRAP_SERVERS:?set CONNECT_BOOTSTRAP_SERVERS, e.g. 127.0.0.1:19092}"
: "${CONNECT_REST_PORT:?set CONNECT_REST_PORT, e.g. 18083}"

config=/tmp/connect-distributed.properties
{
    cat /etc/cdc-facts/connect-distributed.properties
    echo "bootstrap.servers=${CONNECT_BOOTSTRAP_SERVERS}"
    echo "listeners=http://0.0.0.0:${CONNECT_REST_PORT}"
    echo "rest.advertised.host.name=127.0.0.1"
    echo "rest.advertised.port=${CONNECT_REST_PORT}"
} > "$config"
exec /opt/kafka/bin/connect-distributed.sh "$config"
