"""The embedded local stack: Kafka, Kafka Connect with Debezium, PostgreSQL, MariaDB,
Apicurio Registry, run as plain local processes on loopback."""
