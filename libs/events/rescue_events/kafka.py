"""Broker connections and explicit topic creation.

Topics are created from the registry at start-up, never by auto-create, so
partition counts are the ones we chose. Everything here targets Apache Kafka
semantics; the local tansu broker is just another Kafka-protocol peer.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from aiokafka.structs import TopicPartition

from rescue_events.registry import Topic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str
    client_id: str
    topic_replication: int = 1
    # Apache Kafka's minimum session timeout; a group join waits about half of it.
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 2000
    request_timeout_ms: int = 10_000
    # How long a fetch may wait: tansu holds a record until the next fetch, and a
    # shorter wait makes every idle consumer poll more (trade-off: bench/README.md).
    fetch_max_wait_ms: int = 50
    # Offsets go after the database commit, at most this often: the inbox skips
    # what a restarted consumer reads again, and a commit per fetch cost CPU.
    offset_commit_interval_ms: int = 500
    # The relay sends a whole sweep before awaiting acks, so records batch
    # without lingering.
    linger_ms: int = 0
    # A whole sweep (≤ 500 rows) in one batch per partition, under Kafka's default
    # message.max.bytes (1 MiB): 16 KiB batches made a sweep dozens of round trips.
    producer_batch_bytes: int = 960 * 1024
    # One request carries a batch for each partition the sweep touched.
    producer_request_bytes: int = 8 * 1024 * 1024
    # The broker's listener: PLAINTEXT (the local network) or, in Kubernetes, TLS
    # with a SCRAM login (SASL_SSL) whose ACLs allow this service's topics only.
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None  # SCRAM-SHA-512 with SASL_*
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None  # the cluster CA (PEM); unset: the system's CAs

    def __post_init__(self) -> None:
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise ValueError(f"kafka security_protocol must be one of {SECURITY_PROTOCOLS}")
        if self.security_protocol.startswith("SASL_"):
            if self.sasl_mechanism not in SASL_MECHANISMS:
                raise ValueError(f"kafka sasl_mechanism must be one of {SASL_MECHANISMS}")
            if not self.sasl_username or not self.sasl_password:
                raise ValueError("kafka sasl_username and sasl_password are required with SASL")

    def client_options(self) -> dict[str, Any]:
        """The connection keywords every aiokafka client of the service gets."""
        if self.security_protocol == "PLAINTEXT":
            return {}
        options: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.security_protocol.endswith("SSL"):
            options["ssl_context"] = tls_context(self.ssl_cafile)
        if self.security_protocol.startswith("SASL_"):
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password,
            }
        return options


SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


def tls_context(cafile: str | None) -> ssl.SSLContext:
    """Verifies the broker's certificate and host name against ``cafile`` (or the
    system's CAs)."""
    return create_ssl_context(cafile=cafile)


async def ensure_topics(settings: KafkaSettings, topics: Iterable[Topic]) -> list[str]:
    """Create the topics that are missing; returns the names it created.

    Asks for the list of all topics (a metadata request naming none): a request
    naming a missing topic makes a broker with auto-create on create it, with
    its own partition count instead of the registry's. Bounded by the request
    timeout, start included."""
    return await bounded(_ensure_topics(settings, topics), settings.request_timeout_ms / 1000)


async def _ensure_topics(settings: KafkaSettings, topics: Iterable[Topic]) -> list[str]:
    wanted = {t.name: t for t in topics}
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-admin",
        request_timeout_ms=settings.request_timeout_ms,
        **settings.client_options(),
    )
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [t for name, t in wanted.items() if name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(t.name, t.partitions, settings.topic_replication) for t in missing]
        )
        for name, code, *_ in getattr(response, "topic_errors", []):
            if code not in (0, TopicAlreadyExistsError.errno):
                raise KafkaError(f"could not create topic {name}: error code {code}")
        created = [t.name for t in missing]
        log.info("created topics %s", created, extra={"topics": created})
        return created
    finally:
        await _close_admin(admin)


class BrokerChanged(KafkaError):
    """The broker is not the one a client was talking to: another cluster (a new
    cluster id: a broker that lost its data, a replaced Kafka cluster), or a topic
    the client uses is gone. Its records and committed offsets are not there: the
    client starts over (topics from the registry, a new connection)."""


@dataclass(frozen=True)
class BrokerState:
    """What one probe of the broker found."""

    reachable: bool
    cluster_id: str | None = None
    topics: frozenset[str] = frozenset()
    error: str | None = None
    at: float = field(default_factory=time.monotonic)  # time.monotonic() of the answer


class BrokerWatch:
    """Asks the broker every ``interval`` seconds who it is and which topics it
    has (one metadata request for all topics, answered in about a millisecond),
    so that a relay or consumer knows within seconds that the broker is away, and
    that it came back as another cluster (with the data of the old one gone).

    A client's own connection does not tell: an idle producer notices nothing
    until it sends, a consumer retries quietly, and a broker that lost its data
    may even acknowledge a record for a topic it no longer has."""

    def __init__(
        self, settings: KafkaSettings, *, interval: float = 1.0, timeout: float = 2.0
    ) -> None:
        self.settings = settings
        self.interval = interval
        self.timeout = timeout
        self.state = BrokerState(reachable=False, error="not probed yet")
        self.away_since: float | None = time.monotonic()
        self._admin: AIOKafkaAdminClient | None = None
        self._lock = asyncio.Lock()  # one request at a time on the admin client

    @property
    def reachable(self) -> bool:
        return self.state.reachable

    async def run(self) -> None:
        """Probe until cancelled."""
        try:
            while True:
                await self.probe()
                await asyncio.sleep(self.interval)
        finally:
            await self.close()

    async def probe(self) -> BrokerState:
        """One probe, bounded by ``timeout``; never raises (but for cancellation)."""
        async with self._lock:
            return await self._probe()

    async def _probe(self) -> BrokerState:
        try:
            cluster, topics = await bounded(self._ask(), self.timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - away, for whatever reason
            await self.close()  # a fresh connection next time
            name, text = type(exc).__name__, str(exc)
            error = text if text.startswith(name) else f"{name}: {text}" if text else name
            if self.state.reachable:
                log.warning("broker %s away: %s", self.settings.bootstrap_servers, error)
                self.away_since = time.monotonic()
            self.state = BrokerState(reachable=False, cluster_id=self.state.cluster_id, error=error)
            return self.state
        if not self.state.reachable:
            self.away_since = None
        self.state = BrokerState(reachable=True, cluster_id=cluster, topics=frozenset(topics))
        return self.state

    async def _ask(self) -> tuple[str | None, list[str]]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.settings.bootstrap_servers,
                client_id=f"{self.settings.client_id}-watch",
                request_timeout_ms=int(self.timeout * 1000),
                **self.settings.client_options(),
            )
            try:
                await admin.start()
            except BaseException:
                await _close_admin(admin)
                raise
            self._admin = admin
        cluster = await self._admin.describe_cluster()  # metadata v2+: the cluster id
        return cluster.get("cluster_id"), await self._admin.list_topics()

    async def committed(self, group: str, partitions: list[TopicPartition]) -> dict:
        """The group's committed offsets of ``partitions`` (None where it has none),
        bounded like a probe."""
        async with self._lock:
            if self._admin is None:
                await bounded(self._ask(), self.timeout)
            assert self._admin is not None
            answer = await bounded(
                self._admin.list_consumer_group_offsets(group, partitions=partitions),
                self.timeout,
            )
        return {tp: (meta.offset if meta.offset >= 0 else None) for tp, meta in answer.items()}

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            await _close_admin(admin)


async def _close_admin(admin: AIOKafkaAdminClient) -> None:
    try:
        await bounded(admin.close(), 2)
    except Exception:  # noqa: BLE001 - already broken
        log.debug("admin client close failed", exc_info=True)


async def bounded(awaitable, seconds: float):
    """The result of ``awaitable`` if it completes within ``seconds``; otherwise it
    is cancelled and left to finish in the background, and TimeoutError is raised
    at once.

    Unlike ``asyncio.wait_for``, which waits for the cancelled work to end: the
    Kafka client's stop and close await their own background tasks, and with the
    broker gone those could keep a relay or consumer waiting for good."""
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task in done:
        if task.cancelled():  # by the client itself: an error here, not our cancellation
            raise KafkaError("cancelled inside the Kafka client")
        return task.result()
    task.cancel()
    task.add_done_callback(_ignore_outcome)
    raise TimeoutError(f"not done within {seconds:g}s")


def cancelled_from_outside() -> bool:
    """Whether the current task is being cancelled (by whoever runs it), as opposed
    to a CancelledError escaping a client library's own cancelled tasks."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _ignore_outcome(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: no "exception was never retrieved" warning


async def backoff_delays(initial: float = 0.2, maximum: float = 5.0):
    """Yields forever, sleeping a little longer each time (capped)."""
    delay = initial
    while True:
        yield delay
        await asyncio.sleep(delay)
        delay = min(delay * 2, maximum)
