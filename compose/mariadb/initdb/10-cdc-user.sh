#!/usr/bin/env bash
# Runs once, when the mariadb image initialises an empty data directory: creates the demo
# database and the user Debezium connects as, with the grants the MariaDB and MySQL
# connectors need, as `cdc-facts local up` does.
# The password comes from MARIADB_CDC_PASSWORD (see docker-compose.yml).
cdc_password_literal=${MARIADB_CDC_PASSWORD//\\/\\\\}
cdc_password_literal=${cdc_password_literal//\'/\\\'}
MYSQL_PWD="$MARIADB_ROOT_PASSWORD" mariadb --protocol=socket --user=root <<SQL
CREATE DATABASE IF NOT EXISTS shop;
CREATE USER IF NOT EXISTS 'cdc'@'%' IDENTIFIED BY '${cdc_password_literal}';
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'cdc'@'%';
GRANT ALL PRIVILEGES ON shop.* TO 'cdc'@'%';
SQL
