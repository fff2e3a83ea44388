#!/bin/sh
# Prints the `export ...` lines that point cdc-facts, its tests and its connector specs at
# the compose stack: the variables `cdc-facts local env` prints for the local stack.
#
#   eval "$(compose/env.sh)"
#
# It reads the same variables as docker-compose.yml, with the same defaults, so run it with
# the environment you ran `docker compose up` with. Passwords go into DSNs as they are:
# keep them URL-safe (letters, digits, - . _ ~).
set -eu

host=127.0.0.1
kafka_port=${STACK_KAFKA_PORT:-19092}
connect_port=${STACK_CONNECT_PORT:-18083}
postgres_port=${STACK_POSTGRES_PORT:-15432}
mariadb_port=${STACK_MARIADB_PORT:-13306}
registry_port=${STACK_REGISTRY_PORT:-18080}
postgres_password=${STACK_POSTGRES_PASSWORD:-postgres-demo}
shop_password=${SHOP_DB_PASSWORD:-cdc-demo}
mariadb_root_password=${STACK_MARIADB_ROOT_PASSWORD:-root-demo}
mariadb_cdc_password=${STACK_MARIADB_CDC_PASSWORD:-cdc-demo}

# Prints `export NAME='value'`, quoted for any POSIX shell.
emit() {
    quoted=$(printf '%s' "$2" | sed "s/'/'\\\\''/g")
    printf "export %s='%s'\n" "$1" "$quoted"
}

emit CDC_FACTS_CONNECT_URL "http://$host:$connect_port"
emit CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS "$host:$kafka_port"
emit CDC_FACTS_MARIADB_CDC_DSN "mysql://cdc:$mariadb_cdc_password@$host:$mariadb_port/shop"
emit CDC_FACTS_MARIADB_DSN "mysql://root:$mariadb_root_password@$host:$mariadb_port/shop"
emit CDC_FACTS_POSTGRES_CDC_DSN "postgresql://cdc:$shop_password@$host:$postgres_port/shop"
emit CDC_FACTS_POSTGRES_DSN "postgresql://postgres:$postgres_password@$host:$postgres_port/shop"
emit CDC_FACTS_REGISTRY_URL "http://$host:$registry_port/apis/ccompat/v7"
emit SHOP_DB_HOST "$host"
emit SHOP_DB_PASSWORD "$shop_password"
emit SHOP_DB_PORT "$postgres_port"
