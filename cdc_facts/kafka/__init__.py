"""A thin, typed edge over confluent-kafka for the translator service.

Clients are created on first use (no network in ``__init__``), client errors become
cdc-facts errors in one place (:class:`ErrorPolicy`), and partitions travel as plain
``(topic, partition)`` pairs. Only the service joins these adapters to the translator.
"""

from cdc_facts.kafka.admin import TopicAdmin, TopicSpec
from cdc_facts.kafka.consumer import ChangeConsumer, Partition, RebalanceListener
from cdc_facts.kafka.deadletters import dead_letter_headers
from cdc_facts.kafka.errors import ErrorPolicy
from cdc_facts.kafka.position_store import PositionStore
from cdc_facts.kafka.positions import (
    HighWaterMark,
    HighWaterMarks,
    MarkKey,
    SourcePosition,
    decode_mark,
    encode_mark,
    source_place,
    source_position,
)
from cdc_facts.kafka.producer import AtLeastOnceProducer, BaseFactProducer, TransactionalProducer

__all__ = [
    "AtLeastOnceProducer",
    "BaseFactProducer",
    "ChangeConsumer",
    "ErrorPolicy",
    "HighWaterMark",
    "HighWaterMarks",
    "MarkKey",
    "Partition",
    "PositionStore",
    "RebalanceListener",
    "SourcePosition",
    "TopicAdmin",
    "TopicSpec",
    "TransactionalProducer",
    "dead_letter_headers",
    "decode_mark",
    "encode_mark",
    "source_place",
    "source_position",
]
