"""Every Redis key and channel name picloud uses, for the client, the workers and the reaper."""

from __future__ import annotations

PREFIX = "pc:"
#: Counter that hands out jids (INCRBY reserves a block for a map).
JID_COUNTER = PREFIX + "jid"
#: Stream of job state changes, read by the recorder.
EVENTS = PREFIX + "events"
#: Sorted set: chunk key -> lease expiry (unix time) while a worker runs the chunk.
LEASES = PREFIX + "leases"
#: Hash: pool process (its owner name, ``node@host/pid``) -> the chunk it took last.
HOLDING = PREFIX + "holding"
#: Pub/sub channel announcing jids to kill.
KILL_CHANNEL = PREFIX + "kill"
#: Pub/sub channel announcing each newly signed authority record ("<signature> <record>").
TRUST_CHANNEL = PREFIX + "trust"
#: Lock held by the worker that reaps expired leases.
REAPER_LOCK = PREFIX + "reaper"
#: Hash: pool queue -> last time (unix) a worker of it said it was alive.
POOL_HEARTBEATS = PREFIX + "pools"
#: Hash: "<queue> <celery node name>" -> last time (unix) that worker said it was alive.
WORKER_HEARTBEATS = PREFIX + "workers"
#: Hash: "<queue> <celery node name>" -> the most pool processes that worker runs (its
#: concurrency, or its autoscale maximum); a map is cut into chunks for their sum.
POOL_PROCESSES = PREFIX + "processes"
#: The owner argument that lets the admin (web UI) act on every key's jobs.
ANY_OWNER = "*"


def visible(owner: bytes | None, who: str) -> bool:
    """Whether a job whose hash names ``owner`` is api key ``who``'s to see (as lua/prelude's
    ``visible``): its own, or any for ANY_OWNER."""
    return who == ANY_OWNER or (owner is not None and owner.decode() == who)


def api_key(key: str) -> str:
    """Hash mirroring one API key for workers: ``record`` (signed by the fleet authority:
    public key and active flag) and ``sig``."""
    return f"{PREFIX}apikey:{key}"


def job(jid: int) -> str:
    """Hash of one job's state: status, batch, chunk, times, worker, attempts, exception,
    and the pickled result once done (a large one is kept apart: ``result``)."""
    return f"{PREFIX}job:{jid}"


def result(jid: int) -> str:
    """A done job's pickled result when it is large (its hash then has no ``result`` field):
    moved here whole by lua/finish.lua, never copied through Lua."""
    return f"{PREFIX}result:{jid}"


def staged_result(jid: int, owner: str) -> str:
    """A large result on its way in: written by the process ``owner`` that ran job ``jid``,
    with its report, and renamed to ``result`` if that run is still the job's."""
    return f"{PREFIX}staged:{jid}:{owner}"


def output(jid: int, stream: str) -> str:
    """A job's stdout or stderr text, appended while it runs."""
    return f"{PREFIX}out:{jid}:{stream}"


def batch(start: int) -> str:
    """Hash describing one submission (a call or a map) starting at jid ``start``."""
    return f"{PREFIX}batch:{start}"


def function(digest: str) -> str:
    """A pickled function, shared by every job that runs it."""
    return f"{PREFIX}func:{digest}"


def source(api_key: str, digest: str) -> str:
    """One version of a file of ``api_key``'s own modules (its sha256), shipped with jobs."""
    return f"{PREFIX}src:{api_key}:{digest}"


def bundle(api_key: str, digest: str) -> str:
    """A manifest of ``api_key``'s own modules (JSON, by its sha256) that jobs import from."""
    return f"{PREFIX}bundle:{api_key}:{digest}"


def chunk(chunk_id: str) -> str:
    """The pickled argument blobs of one message's jobs, in jid order."""
    return f"{PREFIX}chunk:{chunk_id}"


#: Seconds the jids of an HTTP submission are remembered by its token.
SUBMITTED_SECONDS = 3600


def submitted(api_key: str, token: str) -> str:
    """The jids an HTTP client's submission got, by its token (a retry gets the same)."""
    return f"{PREFIX}submitted:{api_key}:{token}"


def chunk_message(chunk_id: str) -> str:
    """Hash of a chunk's queue, priority, signed message, api key, first jid and count, and,
    once taken, its holder (``owner``) and progress (``started``)."""
    return f"{PREFIX}chunkmsg:{chunk_id}"


def queue(name: str) -> str:
    """Sorted set of the chunk ids waiting in queue ``name`` (``c1``, ``c2.myenv``), served
    lowest score first: priority, then submission (picloud.engines.cluster.messages)."""
    return f"{PREFIX}queue:{name}"


def bell(name: str) -> str:
    """List of wake-up tokens of queue ``name``, one per chunk queued: idle pool processes
    block on it."""
    return f"{PREFIX}bell:{name}"


def reply(client_id: str) -> str:
    """List a client blocks on to learn that its jobs finished."""
    return f"{PREFIX}reply:{client_id}"


def children(jid: int) -> str:
    """Set of batch starts waiting for job ``jid``."""
    return f"{PREFIX}children:{jid}"


def pending_parents(start: int) -> str:
    """Set of unfinished jids batch ``start`` still waits for."""
    return f"{PREFIX}pending:{start}"


def held_messages(start: int) -> str:
    """List of the chunk ids queued when batch ``start`` is released."""
    return f"{PREFIX}held:{start}"


def cron(api_key: str, label: str) -> str:
    """Hash of one registered cron as workers see it (the web UI writes it at register; at
    deregister only a signed tombstone record stays): ``func`` (digest), ``funcname``,
    ``options`` (JSON), ``grant``, ``schedule``, ``record`` + ``sig`` (the fleet authority's
    record of the grant), and ``last_run`` / ``last_jid`` once it fired."""
    return f"{PREFIX}cron:{api_key}:{label}"


def cron_firing(api_key: str, label: str, minute: int) -> str:
    """Lock taken by the one firing of a cron for one scheduled minute (unix time // 60)."""
    return f"{PREFIX}cronfire:{minute}:{api_key}:{label}"
