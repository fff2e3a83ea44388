"""Kafka Connect: a typed REST client with retries and typed errors."""

from cdc_facts.connect.client import ConnectClient, Status, failure, is_running, split_userinfo

__all__ = ["ConnectClient", "Status", "failure", "is_running", "split_userinfo"]
