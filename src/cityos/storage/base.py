"""The `Store` interface every engine implements (SQLite now, PostgreSQL later).

Engine-neutral: callers pass plain Python (entities in the internal form of decision 0001,
mutation functions, query specs); only `storage/<engine>/` writes SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

Entity = dict[str, Any]


class _Keep:
    """Returned by a mutation to leave the stored entity as it is (a no-op write)."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()
DELETE: Any = type("_Delete", (), {"__repr__": lambda self: "DELETE"})()

# A mutation gets the current entity (None if absent) and returns (new entity | KEEP | DELETE,
# result for the caller). It runs inside the engine's transaction, so read-modify-write is
# atomic; raising an exception leaves the entity untouched and is returned as that item's result.
# The entity passed in is the mutation's own freshly decoded copy: it may change it in place.
Mutation = Callable[[Entity | None], tuple[Any, Any]]


# personal data (issue 6) ------------------------------------------------------------------
@dataclass(frozen=True)
class Reader:
    """Who reads: which personal rows an engine may return (issue 6). Deny by default.

    A personal row (one the `Classifier` names a subject and category for) is returned only
    when its subject is in `residents` (and its category in `categories` when that is set),
    its owner (the writer at creation) is `org`, or a grant (`Store.put_grant`) for
    subject × `org` × category (× `purpose` when set) has not ended. Non-personal rows are
    returned to every reader; `None` in place of a Reader means `Reader()`: non-personal only.
    """

    org: str = ""  # "org:CLIENT_ID" of a reading organisation, else ""
    residents: tuple[str, ...] = ()  # subjects readable as themselves (self; represented)
    categories: tuple[str, ...] | None = None  # limit for `residents` (representative); None = all
    purpose: str | None = None  # declared purpose; None = any approved purpose
    system: bool = False  # platform-internal work that must see everything (export, erasure)
    # the expanded type IRIs it may read (issue 18, an organisation's read grants); None =
    # every type. An entity is returned only when every one of its types is in it.
    types: frozenset[str] | None = None


EVERYTHING = Reader(system=True)


def may_read_types(reader: Reader | None, types: list[str] | tuple[str, ...]) -> bool:
    """Whether `reader`'s type grants release an entity of `types` (all must be granted)."""
    granted = None if reader is None or reader.system else reader.types
    return granted is None or all(t in granted for t in types)


def granted_types(reader: Reader | None, types: list[str] | None) -> list[str] | None:
    """`types` of a query narrowed to those `reader` may read (None: any type it may read,
    which is every type, or its grants' own list); an entity of a type outside its grants is
    never released, so a query over those alone selects nothing (an empty list)."""
    granted = None if reader is None or reader.system else reader.types
    if granted is None:
        return types
    if types is None:
        return sorted(granted)
    return [t for t in types if t in granted]


class Writer(str):
    """Who writes: a principal's sub ("org:CLIENT_ID"; "" the platform itself) with the
    expanded entity types it may write (issue 18; None = every type). Engines check it on
    every write, on the types stored and on the types written (`may_write`)."""

    types: frozenset[str] | None

    def __new__(cls, sub: str = "", types: frozenset[str] | None = None) -> Writer:
        self = super().__new__(cls, sub)
        self.types = types
        return self


def may_write(writer: str, types: list[str] | None) -> bool:
    """Whether `writer` may write (or delete) an entity of `types` (None: no entity)."""
    granted: frozenset[str] | None = getattr(writer, "types", None)
    return granted is None or types is None or all(t in granted for t in types)


class SealedUnreadable(RuntimeError):
    """A write to a personal row this process cannot open although its subject was never
    erased (its key is missing or another): the engine changes nothing, never treating the
    row as erased. An operator must restore the vault (docs/operations.md)."""


class NotOwner(PermissionError):
    """A write to a personal row by someone who may not change it (`may_change`): the engine
    returns it as that item's outcome and changes nothing."""


def may_change(writer: str, owner: str | None) -> bool:
    """Whether `writer` (`Store.mutate`'s) may change or delete a personal row written by
    `owner`: the platform itself ("": loaders, devices, erasure) and the row's owner may;
    nobody else — a consent to read a resident's data is no right to rewrite it, and staff,
    who read no personal rows through NGSI-LD, administer them through /personal/v1."""
    return writer == "" or writer == owner


class NotGranted(NotOwner):
    """A write of an entity whose type (stored or written, after @context expansion) the
    writer has no write grant for (issue 18): that item's outcome (403), nothing changed."""


def not_granted(writer: str, entity_id: str, types: list[str]) -> NotGranted:
    granted: frozenset[str] = getattr(writer, "types", None) or frozenset()
    denied = ", ".join(sorted(t for t in types if t not in granted))
    return NotGranted(f"{writer or 'this caller'} has no write grant for entity type(s) {denied} "
                      f"(entity {entity_id})")


class Classifier(Protocol):
    """Set by personal/ (`Store.set_classifier`); the engine calls it on every entity write."""

    def classify(self, tenant: str, entity: Entity) -> tuple[str, str] | None:
        """(subject, category) of a personal entity (subject "" when unknown), None for a
        non-personal one. Called in the writer: must be fast (a dict lookup)."""
        ...


class Sealer(Protocol):
    """Set by personal/ (`Store.set_sealer`): encrypts personal rows' bodies at rest under a
    per-subject key (AES-256-GCM); erasing the key makes them unreadable (crypto-shredding)."""

    def seal(self, tenant: str, subject: str, data: bytes) -> bytes: ...

    def open(self, tenant: str, subject: str, data: bytes) -> bytes | None:
        """The plaintext, or None when the subject's key is erased (the row reads as absent)."""
        ...

    def erased(self, tenant: str, subject: str) -> bool:
        """Whether the subject's key was erased (crypto-shredding), as opposed to missing here
        (a vault restored from an older backup, another process's vault)."""
        ...

# Links an append-only log: gets the previous entry's hash (None for the first entry) and the
# new entry's bytes, returns the new entry's hash. Runs in the engine's transaction.
Chain = Callable[[str | None, bytes], str]


@dataclass(frozen=True)
class LogEntry:
    """One entry of an append-only log, as stored."""

    seq: int  # 1, 2, 3 … in append order
    body: bytes
    prev: str | None  # hash of the entry before (None for the first)
    hash: str


@dataclass(frozen=True)
class Change:
    """One row of the change log (outbox): an entity a committed write created, changed or
    deleted. Appended in the write's own transaction; subscriptions deliver from it."""

    seq: int  # increasing, never reused
    tenant: str
    entity_id: str
    types: list[str]  # expanded type IRIs (as before the deletion, for a deletion)
    attrs: dict[str, str]  # attribute IRI -> "c" created, "u" updated, "d" deleted
    op: str  # "c" created, "u" updated, "d" deleted; a compacted row holds several letters
    at: int  # epoch milliseconds of the write
    # attribute IRI -> its instances before the write, for updated and deleted attributes
    # (every attribute of a deleted entity, and under "@entity" its createdAt and modifiedAt);
    # a compacted row keeps the earliest
    prev: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class Delivery:
    """Where a subscription's deliveries stand: the last change sequence delivered (its
    durable cursor) and its counters (timesSent, lastSuccess …) as a small document."""

    tenant: str
    subscription_id: str
    seq: int
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AttrFilter:
    """A necessary condition on one attribute that an engine may check before `predicate`.

    Some instance of attribute `attr` must exist (`op` "exists") or, for "==", "<", "<=", ">",
    ">=", "in" (a tuple) and "range" (low, high), some instance's `value` must satisfy it —
    where a value that is not a scalar (array, object) or absent (a Relationship, a
    LanguageProperty …) is left to `predicate`. Engines may ignore filters; never exclude more.
    """

    attr: str  # expanded attribute IRI
    op: str
    value: Any = None


@dataclass
class EntityQuery:
    """What to select; the engine uses its indexes for ids/types/geo and `predicate` for the rest."""

    ids: list[str] | None = None
    id_pattern: str | None = None  # regular expression over the whole id
    types: list[str] | None = None  # expanded type IRIs, OR; None = any type
    attrs_any: list[str] | None = None  # expanded attribute IRIs; entity must have one of them
    geo_attr: str | None = None  # expanded GeoProperty IRI used for the bbox prefilter
    geo_bbox: tuple[float, float, float, float] | None = None  # lon/lat box (min x, min y, max x, max y)
    predicate: Callable[[Entity], bool] | None = None  # exact filter, evaluated in the engine
    attr_filters: list[AttrFilter] | None = None  # implied by predicate; lets engines skip rows
    reader: Reader | None = None  # personal rows it may see; None = non-personal rows only
    limit: int = 20
    offset: int = 0
    count: bool = False


@dataclass
class QueryResult:
    entities: list[Entity]
    count: int | None = None


@dataclass
class TypeInfo:
    type: str
    attrs: dict[str, set[str]] = field(default_factory=dict)  # attr IRI -> attribute kinds
    count: int = 0  # entities of this type
    attr_counts: dict[str, int] = field(default_factory=dict)  # attr IRI -> instances


@dataclass
class TemporalQuery:
    """Which attribute history to read (§5.7.3–5.7.4); times in epoch milliseconds."""

    entity_ids: list[str]
    attrs: list[str] | None = None  # expanded attribute IRIs; None = all
    timeproperty: str = "observedAt"  # observedAt (else modifiedAt) | createdAt | modifiedAt
    timerel: str | None = None  # before | after | between (start inclusive, end exclusive)
    time_at: int | None = None
    end_time_at: int | None = None
    last_n: int | None = None  # only the newest n instances of each attribute
    limit: int | None = None  # at most this many instances in all; more → a TemporalPage cut
    reader: Reader | None = None  # entities it may see (as EntityQuery.reader)
    # filled by the engines: entity id -> its history mark (only rows after it are released)
    history_since: dict[str, int] | None = None


@dataclass
class Aggregation:
    """Aggregate each attribute's instances per period (§4.5.19), in the engine."""

    methods: list[str]  # totalCount distinctCount sum avg min max stddev sumsq
    period_ms: int | None = None  # None: one period over the whole range
    start_ms: int | None = None  # first period's start; None: the first instance's time


# entity id -> attribute IRI -> instances oldest first (each with instanceId, createdAt,
# modifiedAt); aggregated: attribute IRI -> {"type": kind, method: [[value, start, end], ...]}
History = dict[str, dict[str, list[dict[str, Any]]]]


@dataclass
class TemporalPage:
    """A temporal read cut to `TemporalQuery.limit` instances along the time axis (§6.3.10).

    Without lastN the oldest instances are kept, with lastN the newest; `cut` is the time
    (epoch ms) of the last instance kept on that axis, None when nothing was cut. `empty`
    lists, per entity, the attributes whose instances all fell beyond the cut.
    """

    history: History
    cut: int | None = None
    first: int | None = None  # time of the first instance kept on the axis
    empty: dict[str, list[str]] = field(default_factory=dict)
Aggregated = dict[str, dict[str, dict[str, Any]]]


class Store(Protocol):
    """Persistent state of the platform. All methods are coroutines."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    # entities -------------------------------------------------------------------------
    async def get_entity(self, tenant: str, entity_id: str,
                         reader: Reader | None = None) -> Entity | None:
        """The entity, or None when absent or personal and not released to `reader`."""
        ...

    async def mutate(self, tenant: str, items: list[tuple[str, Mutation]],
                     writer: str = "") -> list[Any]:
        """Apply mutations in one transaction; one item's failure never touches another's.

        A mutation sees the stored entity whatever it is (writes are not filtered). An entity
        it creates records `writer` (a principal sub, "org:CLIENT_ID") as its owner; the
        classifier, when set, decides on every write whether the entity is personal. An item
        that would change a personal row `writer` may not change (`may_change`) gets
        `NotOwner` as its outcome (after the mutation's own verdict) and changes nothing.
        A `Writer` with type grants (issue 18) gets `NotGranted` for an item whose stored
        entity has a type it may not write (before the mutation runs) or whose new entity
        would have one (after it): the only place writes are checked against type grants."""
        ...

    async def query_entities(self, tenant: str, query: EntityQuery) -> QueryResult: ...

    async def entity_types(self, tenant: str) -> list[TypeInfo]: ...

    async def tenant_exists(self, tenant: str) -> bool: ...

    async def purge_entities(self, tenant: str, query: EntityQuery, writer: str = "") -> int:
        """Delete every entity `query` selects (its reader's view) as `writer` would
        (`mutate`: personal rows `writer` may not change stay); the number deleted."""
        ...

    # personal data (issue 6) ---------------------------------------------------------------
    def set_classifier(self, classifier: Classifier | None) -> None:
        """Which entities are personal; None (the default): none are."""
        ...

    def set_sealer(self, sealer: Sealer | None) -> None:
        """Seal personal rows' bodies (entity, history values, change-log before-values) from
        now on; None (the default): stored as they are."""
        ...

    async def put_grant(self, tenant: str, subject: str, recipient: str, category: str,
                        purpose: str, until: float | None) -> None:
        """Release `subject`'s rows of `category` to `recipient` ("org:CLIENT_ID") for `purpose`
        until `until` (epoch seconds; None = no end). Replaces the same key's grant; takes
        effect on the next read (no cache)."""
        ...

    async def drop_grant(self, tenant: str, subject: str, recipient: str, category: str,
                         purpose: str) -> None:
        """End that grant (withdrawn, declined, expired): effective on the next read."""
        ...

    async def erase_subject(self, tenant: str, subject: str) -> int:
        """Delete `subject`'s personal entities, their history and change-log rows and grants;
        returns how many entities were deleted."""
        ...

    async def reclassify(self) -> int:
        """Run the classifier again over every stored entity (call it after the catalog
        changed): rows that became personal are sealed (with their history) and filtered from
        the next read on, rows no longer personal are opened. Returns rows changed."""
        ...

    async def withheld(self, tenant: str, entity_ids: list[str],
                       reader: Reader | None) -> set[str]:
        """Of `entity_ids`, those personal and not released to `reader`, whether the entity
        exists now or only its history and change rows do (deleted entities stay personal):
        for deletion notifications and temporal reads. One SQL query, no bodies read."""
        ...

    async def screen(self, tenant: str, entities: list[Entity],
                     reader: Reader | None) -> list[Entity]:
        """Of entities that did not come from this store (a context source's answer to a
        forwarded query), those `reader` may see: the classifier decides which are personal
        (a stored personal row of the same id stays personal), then the same rule as the
        queries' (subject, stored row's owner, grants in the database)."""
        ...

    # small key/value documents (contexts, settings of parts) ------------------------------
    async def kv_get(self, space: str, key: str) -> Any | None: ...

    async def kv_put(self, space: str, key: str, value: Any) -> None: ...

    async def kv_add(self, space: str, key: str, value: Any) -> Any:
        """Store `value` unless the key holds one already; returns what the key holds after
        (so of several processes racing to make a shared secret, all keep the winner's)."""
        ...

    async def kv_delete(self, space: str, key: str) -> bool: ...

    async def kv_list(self, space: str) -> list[tuple[str, Any]]: ...

    async def scrub(self) -> None:
        """Rewrite the database so that deleted key-value documents leave no copy in its files
        (SQLite: VACUUM and an emptied WAL; PostgreSQL: VACUUM FULL of the table)."""
        ...

    # append-only, hash-chained logs (audit trail) -----------------------------------------
    async def append_log(self, log: str, bodies: list[bytes], chain: Chain,
                         keys: list[list[str]] | None = None) -> int:
        """Append entries in order, each hashed by `chain` after the log's last one, in one
        transaction; returns the last sequence number. Entries are never updated or deleted.
        `keys` (one list per body) index the entries for `find_log_keys`."""
        ...

    async def read_log_hashes(self, log: str, after: int = 0,
                              limit: int = 1000) -> list[tuple[int, str]]:
        """(seq, hash) of the entries after `after`, in order: `read_log` without bodies."""
        ...

    async def find_log_keys(self, log: str, key: str, limit: int = 10) -> list[int]:
        """Sequence numbers of the entries appended with `key`, newest first."""
        ...

    async def read_log(self, log: str, after: int = 0, limit: int = 1000) -> list[LogEntry]:
        """Entries with sequence number > `after`, in order, at most `limit`."""
        ...

    async def prune_log(self, log: str, through: int, note: bytes) -> int:
        """Retention: delete the entries up to `through` (seq) and move the log's checkpoint to
        that entry (its seq and hash, and `note`), in one transaction; returns how many were
        deleted (0 when there is no such entry). Nothing after a checkpoint can be deleted."""
        ...

    async def log_checkpoint(self, log: str) -> LogEntry | None:
        """The log's checkpoint (seq and hash of its last pruned entry, body = the note)."""
        ...

    # change log (outbox) and delivery cursors of subscriptions ----------------------------
    async def changes_after(self, tenant: str, after: int, limit: int = 500) -> list[Change]:
        """`tenant`'s change-log rows with sequence > `after`, in order, at most `limit`.

        Deliveries move their cursor past what this returns, so an engine must never return a
        row while a row with a smaller sequence may still commit (SQLite's single writer
        commits in sequence order; PostgreSQL must hold back rows above an in-flight one)."""
        ...

    async def backlog(self, tenant: str, after: int) -> int:
        """How many change-log rows of `tenant` come after `after`."""
        ...

    async def start_delivery(self, tenant: str, subscription_id: str) -> int:
        """Create the subscription's cursor at the newest change (kept if it exists)."""
        ...

    async def save_delivery(self, delivery: Delivery) -> None:
        """Store the cursor (never moved back) and state of an existing delivery."""
        ...

    async def get_delivery(self, tenant: str, subscription_id: str) -> Delivery | None: ...

    async def list_deliveries(self) -> list[Delivery]: ...

    async def drop_delivery(self, tenant: str, subscription_id: str) -> None: ...

    async def prune_changes(self, compact_over: int = 50_000) -> tuple[int, int]:
        """Drop rows every delivery is past; past `compact_over` pending rows keep only the
        newest row per entity. Returns (rows pruned, rows compacted)."""
        ...

    # attribute history (temporal API) -----------------------------------------------------
    async def temporal_query(self, tenant: str, query: TemporalQuery) -> TemporalPage: ...

    async def prune_history(self, cutoffs: list[tuple[str | None, int]]) -> int:
        """In every tenant, remove attribute instances observed and recorded before the cutoff
        (epoch ms) of their entity's type: a type name matches an IRI equal to it or ending in
        `/name` or `#name`; None stands for every type without a cutoff of its own (and for
        the history of deleted entities). Returns how many were removed."""
        ...

    async def temporal_aggregate(self, tenant: str, query: TemporalQuery,
                                 aggregation: Aggregation) -> Aggregated: ...

    async def add_instances(self, tenant: str, entity_id: str, fn: Mutation,
                            instances: list[tuple[str, dict[str, Any]]],
                            writer: str = "") -> Any:
        """Apply `fn` (not recorded itself) and add `instances` (attribute IRI, instance) to the
        history, in one transaction; `fn`'s result, or its exception returned. `writer` as
        in `mutate`; a personal entity's instances are sealed like its body."""
        ...

    async def delete_instances(self, tenant: str, entity_id: str, attr: str | None = None,
                               instance_id: str | None = None, dataset_id: str | None = None,
                               fn: Mutation | None = None, writer: str = "") -> Any:
        """Delete history rows (all of the entity, of one attribute — of one dataset, "@none" the
        default one — or one instance) and apply `fn` in the same transaction; (rows deleted,
        fn's result), or fn's exception returned (`NotGranted` when a `Writer` may not write
        the stored entity's types, or there is no entity to tell them by)."""
        ...

    async def replace_instance(self, tenant: str, entity_id: str, attr: str, instance_id: str,
                               instance: dict[str, Any], now: str, writer: str = "") -> Any:
        """Replace one history instance, keeping its instanceId; False when there is none,
        `NotGranted` (returned) as in `delete_instances`."""
        ...


# several processes on one database (issue 10) ----------------------------------------------
class SharedStore(Protocol):
    """What an engine that several `cityos serve` processes may share (PostgreSQL) adds to
    `Store`. An engine one process has alone (SQLite) leaves it out: `shared(store)` is None
    there, and callers skip the coordination at no cost (every lease is theirs)."""

    async def lease(self, name: str) -> bool:
        """Whether this process holds the lease `name` now (taking it when free); it is held
        until released or until the process dies."""
        ...

    def holds(self, name: str) -> bool:
        """Whether this process held `name` at its last look (its database session lives)."""
        ...

    async def release(self, name: str) -> None: ...

    async def on_changes(self, listener: Callable[[str], None]) -> None:
        """Call `listener(tenant)` after any process commits a change of `tenant`."""
        ...

    async def exchange_counts(self, counts: dict[str, int]) -> dict[str, int]:
        """Add this process's `counts` (events per key since its last exchange) to the shared
        totals; return what the other processes counted per key since this one last asked.
        For counters kept in memory (rate limits, the security monitor), exchanged in the
        background, never on a request's path."""
        ...


def shared(store: object) -> SharedStore | None:
    """The store as a `SharedStore` when several processes may use its database, else None."""
    return store if hasattr(store, "exchange_counts") else None  # type: ignore[return-value]
