"""One documented constant per default setting (PiCloud's where PiCloud had one).

The ``#:`` comment above a setting's constant is its documentation: ``cloud.config`` shows it
and the cloudconf.py written on first use carries it above the commented default."""

from __future__ import annotations

# --- account ----------------------------------------------------------------------------------
#: API key identifying the client ('None' = no key, PiCloud's spelling); jobs and files belong
#: to it.
API_KEY = "None"
#: Secret half of the API key; it signs the jobs this client sends to the cluster.
API_SECRETKEY = "None"
#: URL of picloud's web UI and HTTP API (cloud.rest, remote clients); empty = not configured.
SERVER_URL = ""
#: PiCloud's URL listing its servers. Kept for compatibility; not used: server_url names the
#: server.
SERVER_LIST_URL = "http://api.picloud.com/servers/list/"
#: Run cloud.* on the local simulator even when a cluster is configured.
USE_SIMULATOR = False

# --- cluster and files (picloud's own) --------------------------------------------------------
#: Redis URL of the cluster's broker; empty = find a local fleet or use the simulator.
BROKER_URL = ""
#: MinIO/S3 endpoint (host:port or URL) for cloud.files; empty = a local folder.
S3_ENDPOINT = ""
#: S3 access key.
S3_ACCESS_KEY = ""
#: S3 secret key.
S3_SECRET_KEY = ""
#: Bucket that holds every key's files (created when missing).
S3_BUCKET = "picloud"
#: Use HTTPS to reach the S3 endpoint (ignored when the endpoint is a full URL).
S3_SECURE = False
#: The fleet authority's public key (hex). Workers run a key's jobs only under a key record this
#: authority signed; `make run` writes it into fleet.json, other worker hosts set it here or in
#: PICLOUD_FLEET_PUBLIC_KEY. It is never read from the broker.
FLEET_PUBLIC_KEY = ""
#: Where the fleet authority's secret half lives, on the hosts that issue API keys (the web UI);
#: empty = fleet-authority.key in the configuration directory (~/.picloud).
FLEET_AUTHORITY_FILE = ""
#: First uid that jobs run as when the workers run as root: each sandbox of a host takes a uid of
#: its own from sandbox_uid to sandbox_uid + sandbox_uids - 1 (no passwd entry is needed).
SANDBOX_UID = 600000
#: How many uids from sandbox_uid a host's sandboxes may use (two per worker process).
SANDBOX_UIDS = 2000
#: Send the source of the modules of your own that a job's function and arguments need (not the
#: standard library, not installed distributions) with the job, once per version of each
#: file; workers import them from there. Off: the workers must have those modules.
AUTOMATIC_DEPENDENCY_TRANSFER = True

# --- logging ----------------------------------------------------------------------------------
#: File picloud's log messages are written to when save_log is set, relative to the
#: configuration directory (~/.picloud).
LOG_FILENAME = "cloud.log"
#: Write picloud's log messages (log_level and above) to log_filename.
SAVE_LOG = True
#: Level of the 'picloud' logger (DEBUG, INFO, WARNING, ERROR, CRITICAL): messages below it are
#: dropped, for the log file and for Python's logging system alike.
LOG_LEVEL = "DEBUG"
#: Level from which picloud's log messages are also printed to stderr (should be at least
#: log_level: lower messages are dropped before).
PRINT_LOG_LEVEL = "ERROR"
#: Days PiCloud kept serialization logs before purging them. Kept for compatibility; not used:
#: picloud writes no serialization logs.
PURGE_DAYS = 7
#: PiCloud logged the meta-data of every serialized object. Kept for compatibility; not used:
#: picloud names the path to an object that cannot be pickled in the error instead.
SERIALIZE_LOGGING = False
#: Where serialize_logging wrote, relative to ~/.picloud. Kept for compatibility; not used.
SERIALIZE_LOGGING_PATH = "datalogs/"

# --- local processes (cloud.mp and the simulator) ---------------------------------------------
#: Worker processes of cloud.mp and the simulator; 0 = one per CPU core.
NUM_PROCS = 8
#: Capture each job's stdout/stderr so info can show them; off = jobs of cloud.mp print to this
#: process's stdout/stderr.
REDIRECT_JOB_OUTPUT = True
#: Most jobs cloud.mp and the simulator keep (0 = no limit). Kept for compatibility; not applied
#: yet: the local engine keeps every job until it is deleted or the connection closes.
MP_CACHE_SIZE_LIMIT = 0
#: On the simulator, capture job output even when redirect_job_output is off.
FORCE_REDIRECT_JOB_OUTPUT = True
#: Turn serialize_logging on in simulation. Kept for compatibility; not used.
FORCE_SERIALIZE_LOGGING = True

# --- transport --------------------------------------------------------------------------------
#: Job statuses PiCloud's client cached. Kept for compatibility; not used: the cluster client
#: reads statuses from Redis and caches none.
CLOUD_STATUS_CACHE_SIZE = 65536
#: KB of job results PiCloud's client cached. Kept for compatibility; not used: the cluster
#: client reads results from Redis and caches none.
CLOUD_RESULT_CACHE_SIZE = 4096
#: Largest pickled function, and largest pickled arguments of one job, in bytes; bigger ones
#: raise CloudException at submit. PiCloud capped this at 16 MB; picloud does not.
MAX_TRANSMIT_DATA = 1_000_000
#: Ask for gzipped HTTP responses (cloud.cron, cloud.rest and cloud.account talk HTTP to
#: server_url). Kept for compatibility; not applied: picloud's HTTP client always accepts gzip.
USE_GZIP = True
#: Close every HTTP connection to server_url after its response (else they are kept open).
HTTP_CLOSE = False
#: An http/https proxy for server_url (host:port or user:password@host:port); empty = the
#: HTTP_PROXY/HTTPS_PROXY environment variables, if set.
PROXY_SERVER = ""
#: A CA bundle (PEM file) that verifies server_url's HTTPS certificate (a self-signed or
#: in-house CA); empty = the system's CAs.
SERVER_CA_FILE = ""

# --- not settings -----------------------------------------------------------------------------
#: Characters of stdout/stderr that ``info`` returns (the tail).
OUTPUT_TAIL_CHARS = 64_000
#: Seconds a killed job may take to stop before its worker process is SIGKILLed.
KILL_GRACE_SECONDS = 2.0
