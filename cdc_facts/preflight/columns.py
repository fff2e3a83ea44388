"""Database column types, their families, and which fact field types they can fill.

>>> pg_family("numeric"), mysql_family("tinyint", "tinyint(1)"), mysql_family("bit", "bit(1)")
('decimal', 'integer', 'boolean')
>>> compatible("integer", "decimal")
False
"""

from __future__ import annotations

from dataclasses import dataclass

#: Fact field type -> column type families whose values it takes without loss.
_ACCEPTS: dict[str, frozenset[str]] = {
    "string": frozenset({"string", "uuid", "enum", "integer", "decimal", "float", "boolean",
                         "date", "timestamp", "time", "json", "other"}),
    "integer": frozenset({"integer"}),
    "number": frozenset({"integer", "decimal", "float"}),
    "decimal": frozenset({"integer", "decimal"}),
    "boolean": frozenset({"boolean"}),
    "timestamp": frozenset({"timestamp"}),
    "date": frozenset({"date"}),
    "json": frozenset({"json", "array"}),
}

_PG: dict[str, str] = {
    "int2": "integer", "int4": "integer", "int8": "integer",
    "numeric": "decimal", "float4": "float", "float8": "float", "money": "decimal",
    "bool": "boolean",
    "text": "string", "varchar": "string", "bpchar": "string", "char": "string",
    "name": "string", "citext": "string",
    "uuid": "uuid",
    "date": "date", "timestamp": "timestamp", "timestamptz": "timestamp",
    "time": "time", "timetz": "time", "interval": "other",
    "json": "json", "jsonb": "json",
    "bytea": "binary",
}

_MYSQL: dict[str, str] = {
    "tinyint": "integer", "smallint": "integer", "mediumint": "integer", "int": "integer",
    "integer": "integer", "bigint": "integer", "year": "integer",
    "decimal": "decimal", "numeric": "decimal", "float": "float", "double": "float",
    "char": "string", "varchar": "string", "tinytext": "string", "text": "string",
    "mediumtext": "string", "longtext": "string",
    "enum": "enum", "set": "string",
    "date": "date", "datetime": "timestamp", "timestamp": "timestamp", "time": "time",
    "json": "json",
    "binary": "binary", "varbinary": "binary", "tinyblob": "binary", "blob": "binary",
    "mediumblob": "binary", "longblob": "binary",
}

#: PostgreSQL types stored out of line (TOAST) when large: their unchanged values are not
#: in the WAL without REPLICA IDENTITY FULL.
_PG_TOASTABLE = frozenset({"text", "varchar", "bpchar", "json", "jsonb", "bytea", "xml",
                           "citext", "tsvector"})


@dataclass(frozen=True)
class Column:
    """One column as the catalog describes it."""

    name: str
    type: str
    family: str
    toastable: bool = False
    nullable: bool = True


def pg_family(typname: str, category: str = "") -> str:
    """The family of a PostgreSQL type (``pg_type.typname``, ``typcategory``)."""
    if typname in _PG:
        return _PG[typname]
    return {"A": "array", "E": "enum", "S": "string", "N": "decimal", "D": "timestamp"}.get(
        category, "other"
    )


def pg_toastable(typname: str, category: str = "", typlen: int = 0) -> bool:
    """Whether large values of this PostgreSQL type can be TOASTed."""
    return typname in _PG_TOASTABLE or category == "A" or (typlen == -1 and category == "U")


def mysql_family(data_type: str, column_type: str = "", *, tinyint_boolean: bool = False) -> str:
    """The family of a MySQL/MariaDB column (``DATA_TYPE``, ``COLUMN_TYPE``), as Debezium
    delivers it: ``bit(1)`` is a boolean and a wider ``bit(n)`` bytes
    (``io.debezium.data.Bits``); ``tinyint(1)`` is an integer (an int16) unless
    ``tinyint_boolean`` says a ``TinyIntOneToBooleanConverter`` turns the column into a
    boolean.

    >>> mysql_family("tinyint", "tinyint(1)", tinyint_boolean=True), mysql_family("bit", "bit(8)")
    ('boolean', 'binary')
    """
    data_type = data_type.lower()
    if data_type == "tinyint" and tinyint_boolean:
        return "boolean"
    if data_type == "bit":
        return "boolean" if column_type.lower() in ("bit", "bit(1)") else "binary"
    return _MYSQL.get(data_type, "other")


def compatible(field_type: str, family: str) -> bool:
    """Whether a column of ``family`` can fill a fact field of ``field_type``."""
    return family in _ACCEPTS.get(field_type, frozenset())


def json_text(family: str, data_type: str) -> bool:
    """MariaDB stores JSON as LONGTEXT; accept it for ``json`` fields."""
    return family == "string" and data_type.lower() == "longtext"
