#!/usr/bin/env bash
# Runs once, when the postgres image initialises an empty data directory: creates the role
# Debezium connects as and the demo database it owns, as `cdc-facts local up` does.
# The password comes from SHOP_DB_PASSWORD (see docker-compose.yml); psql quotes it.
psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set cdc_password="$SHOP_DB_PASSWORD" <<'SQL'
CREATE ROLE cdc WITH LOGIN REPLICATION PASSWORD :'cdc_password';
CREATE DATABASE shop OWNER cdc;
SQL
