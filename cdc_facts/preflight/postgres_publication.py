"""PostgreSQL preflight: the publication Debezium streams the captured tables from.

Debezium's ``publication.autocreate.mode`` decides what matters. ``filtered`` (the rendered
default) creates the publication when it is absent and runs ``ALTER PUBLICATION ... SET
TABLE`` on every start: the connector user must own the publication and every captured table
(or be a superuser), and it refuses a ``FOR ALL TABLES`` publication. With ``disabled`` the
publication must exist and hold the tables. Either way, a partitioned table needs
``publish_via_partition_root``, or its changes arrive under its partitions' names.
"""

from __future__ import annotations

from cdc_facts.preflight.model import Check, Target
from cdc_facts.preflight.postgres_catalog import PgCatalog, Publication, ident, qualified

#: publish_via_partition_root, and partitioned tables in publications, came in 13.
PARTITION_ROOT_VERSION = 130_000


def publication_check(catalog: PgCatalog, target: Target) -> Check:
    """The publication Debezium streams from, by ``target.publication_mode`` (Debezium's
    ``publication.autocreate.mode``): will the connector start, and will it see every
    captured table's changes under the table's own name?"""
    wanted = [t for t in target.tables if catalog.tables[t].exists] + [target.signal]
    roots = [t for t in wanted if catalog.tables[t].partitioned]
    pub = catalog.publication
    if roots and catalog.version < PARTITION_ROOT_VERSION:
        return Check("publication", "fail", f"PostgreSQL {catalog.version_text} cannot publish "
                     f"partitioned tables ({', '.join(roots)})", subject=target.publication,
                     remedy="list their partitions in `tables` instead, or upgrade to "
                     "PostgreSQL 13 or later")
    if pub is None:
        return _absent_publication(catalog, target, wanted, roots)
    if target.publication_mode == "filtered":
        blocked = _unalterable(catalog, target, pub, wanted)
        if blocked is not None:
            return blocked
    return _present_publication(catalog, target, pub, wanted, roots)


def _absent_publication(
    catalog: PgCatalog, target: Target, wanted: list[str], roots: list[str]
) -> Check:
    create = _create_publication(target.publication, wanted, roots)
    mode = target.publication_mode
    if mode == "filtered":
        unowned = _unowned(catalog, wanted)
        if unowned:
            return _not_owner_of_tables(catalog, target, unowned, create)
        fix = (create, f"ALTER PUBLICATION {ident(target.publication)} OWNER TO "
               f"{ident(target.user)}")
        if roots:
            return _publication_fix(target, f"absent; Debezium would create it without "
                                    f"publish_via_partition_root: {_leaf_names(roots)}", fix)
        if catalog.superuser or catalog.can_create:
            return Check("publication", "pass", f"absent; Debezium creates {target.publication}",
                         subject=target.publication)
        return _publication_fix(target, f"absent, and {catalog.user} may not create it (no "
                                f"CREATE privilege on database {catalog.database})", fix)
    if mode == "all_tables":
        if catalog.superuser and not roots:
            return Check("publication", "pass", f"absent; Debezium creates "
                         f"{target.publication} FOR ALL TABLES", subject=target.publication)
        why = _leaf_names(roots) if roots else f"that needs a superuser, and {catalog.user} " \
            "is not one"
        return _publication_fix(target, f"absent; Debezium would create it FOR ALL TABLES: "
                                f"{why}", (create,))
    return _publication_fix(target, f"absent, and Debezium does not create it with the "
                            f"captured tables (publication.autocreate.mode `{mode}`)", (create,))


def _unalterable(
    catalog: PgCatalog, target: Target, pub: Publication, wanted: list[str]
) -> Check | None:
    """Why Debezium's ``filtered`` mode fails on start on an existing publication: it runs
    ``ALTER PUBLICATION ... SET TABLE`` each time, refused FOR ALL TABLES."""
    if pub.all_tables:
        return Check(
            "publication", "fail", "FOR ALL TABLES: with publication.autocreate.mode `filtered` "
            "Debezium stops, as it cannot alter it", subject=pub.name,
            remedy="set `publication.autocreate.mode: disabled` in the spec's options (the "
            "publication already holds every table), or drop it if nothing else uses it",
        )
    unowned = _unowned(catalog, wanted)
    if unowned:
        return _not_owner_of_tables(catalog, target, unowned, "")
    return None


def _unowned(catalog: PgCatalog, wanted: list[str]) -> list[str]:
    if catalog.superuser:
        return []
    return [t for t in wanted if catalog.tables[t].exists and t not in catalog.owned]


def _not_owner_of_tables(
    catalog: PgCatalog, target: Target, unowned: list[str], create: str
) -> Check:
    then = (f"then `--fix --admin-dsn` runs {create}" if create
            else "then only the publication's tables matter")
    return Check(
        "publication", "fail",
        f"{catalog.user} does not own {', '.join(unowned)}: with publication.autocreate.mode "
        f"`filtered` Debezium runs ALTER PUBLICATION ... SET TABLE on every start, which only "
        f"the owner of every table (or a superuser) may",
        subject=target.publication,
        remedy=f"set `publication.autocreate.mode: disabled` in the spec's options, {then}; "
        f"or make {target.user} own those tables",
    )


def _present_publication(
    catalog: PgCatalog, target: Target, pub: Publication, wanted: list[str], roots: list[str]
) -> Check:
    name = ident(pub.name)
    problems: list[str] = []
    fixes: list[str] = []
    if target.publication_mode == "filtered":
        shown = f"owned by {pub.owner}; Debezium sets its tables on start"
        if not (catalog.superuser or pub.owned):
            problems.append(f"owned by {pub.owner}, but Debezium alters it on every start as "
                            f"{catalog.user} (publication.autocreate.mode `filtered`)")
            fixes.append(f"ALTER PUBLICATION {name} OWNER TO {ident(target.user)}")
    elif pub.all_tables:
        shown = "FOR ALL TABLES"
    else:
        shown = f"covers the {len(wanted)} tables"
        missing = [t for t in wanted if t not in pub.tables]
        if missing:
            problems.append(f"{pub.name} lacks {', '.join(missing)}")
            fixes.append(f"ALTER PUBLICATION {name} ADD TABLE "
                         f"{', '.join(qualified(t) for t in missing)}")
    if roots and not pub.via_root:
        problems.append(f"publish_via_partition_root is off: {_leaf_names(roots)}")
        fixes.append(f"ALTER PUBLICATION {name} SET (publish_via_partition_root = true)")
    lacking = [op for op in ("insert", "update", "delete") if op not in pub.operations]
    if lacking:
        problems.append(f"does not publish {', '.join(lacking)}")
        fixes.append(f"ALTER PUBLICATION {name} SET "
                     "(publish = 'insert, update, delete, truncate')")
    if not problems:
        return Check("publication", "pass", shown, subject=pub.name)
    return _publication_fix(target, "; ".join(problems), tuple(fixes))


def _publication_fix(target: Target, observed: str, fix: tuple[str, ...]) -> Check:
    return Check("publication", "fail", observed, subject=target.publication,
                 remedy=f"{';  '.join(fix)};  (as a superuser or the tables' owner: "
                 "--fix --admin-dsn)", fix=fix)


def _create_publication(name: str, tables: list[str], roots: list[str]) -> str:
    via_root = " WITH (publish_via_partition_root = true)" if roots else ""
    return (f"CREATE PUBLICATION {ident(name)} FOR TABLE "
            f"{', '.join(qualified(t) for t in tables)}{via_root}")


def _leaf_names(roots: list[str]) -> str:
    return (f"changes of the partitioned {', '.join(roots)} would arrive under their "
            "partitions' names, which the connector does not capture")
