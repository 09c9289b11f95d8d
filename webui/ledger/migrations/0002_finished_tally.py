"""The finished-jobs tally, and the triggers on the Job table that keep it (SQLite and
PostgreSQL; on another database it stays empty). It starts from the finished rows there are.

A finished row's finish is its (status, pool, finished, runtime): a row that gets a new one
(it finishes, or finishes again after a re-run) adds 1 to ``jobs`` of its key; a row that loses
one (deleted, re-run, changed) adds 1 to ``removed`` of the old key. A replayed write changes
nothing. The runtime buckets are frozen here: a later migration that changes them replaces the
triggers (the metrics read whichever buckets the tally holds)."""

from django.db import migrations, models

#: Upper bounds (seconds) of the runtime buckets, each labelled as Prometheus writes it.
BOUNDS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400)
_FINISHED = "('done', 'error', 'killed', 'stalled')"
_TALLY = "ledger_finishedtally"
_COLUMNS = "pool, status, le, jobs, runtime, removed"
_ADD = (
    f"ON CONFLICT (pool, status, le) DO UPDATE SET jobs = {_TALLY}.jobs + excluded.jobs, "
    f"runtime = {_TALLY}.runtime + excluded.runtime, removed = {_TALLY}.removed + excluded.removed"
)


def _bucket(runtime: str) -> str:
    """SQL: the bucket label of ``runtime``; '' when it is NULL, NaN or infinite."""
    steps = " ".join(f"WHEN {runtime} <= {b!r} THEN '{float(b)!r}'" for b in BOUNDS)
    return (
        f"CASE WHEN {runtime} IS NULL OR NOT abs({runtime}) < 1e308 THEN '' {steps} ELSE '+Inf' END"
    )


def _finish(row: str, greatest: str, removed: bool) -> list[str]:
    """SQL: the tally values (``_COLUMNS``) of ``row``'s finish: counted (1 job, its seconds; a
    negative runtime counts as 0) or ``removed``."""
    runtime = f"{row}.runtime"
    seconds = f"CASE WHEN abs({runtime}) < 1e308 THEN {greatest}({runtime}, 0) ELSE 0 END"
    counts = ["0", "0", "1"] if removed else ["1", seconds, "0"]
    return [f"{row}.pool", f"{row}.status", _bucket(runtime), *counts]


def _changed(old: str, new: str, distinct: str) -> str:
    columns = ("status", "pool", "finished", "runtime")
    return "(" + " OR ".join(f"{old}.{c} {distinct} {new}.{c}" for c in columns) + ")"


def _sqlite() -> list[str]:
    """Row triggers, each adding one row's finish (SQLite has no statement triggers)."""

    def trigger(name: str, event: str, when: str, row: str, removed: bool) -> str:
        values = ", ".join(_finish(row, "max", removed))
        return (
            f"CREATE TRIGGER ledger_job_tally_{name} AFTER {event} ON ledger_job WHEN {when} "
            f"BEGIN INSERT INTO {_TALLY} ({_COLUMNS}) VALUES ({values}) {_ADD}; END"
        )

    changed = _changed("OLD", "NEW", "IS NOT")
    return [
        trigger("insert", "INSERT", f"NEW.status IN {_FINISHED}", "NEW", False),
        trigger("update", "UPDATE", f"NEW.status IN {_FINISHED} AND {changed}", "NEW", False),
        trigger("unfinish", "UPDATE", f"OLD.status IN {_FINISHED} AND {changed}", "OLD", True),
        trigger("delete", "DELETE", f"OLD.status IN {_FINISHED}", "OLD", True),
    ]


def _sum(*selects: str) -> str:
    """SQL: add the finishes the ``selects`` make to the tally, one row per key."""
    union = " UNION ALL ".join(selects)
    return (
        f"INSERT INTO {_TALLY} ({_COLUMNS}) SELECT pool, status, le, sum(jobs), sum(runtime), "
        f"sum(removed) FROM ({union}) AS finishes GROUP BY pool, status, le {_ADD}"
    )


def _select(rows: str, row: str, where: str, greatest: str, removed: bool) -> str:
    named = zip(_finish(row, greatest, removed), _COLUMNS.split(", "))
    return f"SELECT {', '.join(f'{value} AS {name}' for value, name in named)} FROM {rows} WHERE {where}"


def _postgresql() -> list[str]:
    """Statement triggers over the transition tables: one insert per statement."""
    both = "new_rows n JOIN old_rows o ON o.jid = n.jid"
    changed = _changed("o", "n", "IS DISTINCT FROM")
    functions = {
        "insert": _sum(_select("new_rows n", "n", f"n.status IN {_FINISHED}", "greatest", False)),
        "update": _sum(
            _select(both, "n", f"n.status IN {_FINISHED} AND {changed}", "greatest", False),
            _select(both, "o", f"o.status IN {_FINISHED} AND {changed}", "greatest", True),
        ),
        "delete": _sum(_select("old_rows o", "o", f"o.status IN {_FINISHED}", "greatest", True)),
    }
    tables = {
        "insert": "NEW TABLE AS new_rows",
        "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "delete": "OLD TABLE AS old_rows",
    }
    statements = []
    for event, body in functions.items():
        # the transition tables have no statistics: the planner would join old and new rows
        # in a nested loop (minutes for 20,000 rows) where a hash join takes milliseconds
        statements += [
            f"CREATE FUNCTION ledger_job_tally_{event}() RETURNS trigger LANGUAGE plpgsql "
            f"SET enable_nestloop = off AS $$ BEGIN {body}; RETURN NULL; END $$",
            f"CREATE TRIGGER ledger_job_tally_{event} AFTER {event.upper()} ON ledger_job "
            f"REFERENCING {tables[event]} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION ledger_job_tally_{event}()",
        ]
    return statements


def _seed(greatest: str) -> str:
    """SQL: the finished rows there are, counted."""
    return _sum(_select("ledger_job j", "j", f"j.status IN {_FINISHED}", greatest, False))


_INSTALL = {
    "sqlite": lambda: [_seed("max"), *_sqlite()],
    "postgresql": lambda: [_seed("greatest"), *_postgresql()],
}
_REMOVE = {
    "sqlite": [
        f"DROP TRIGGER ledger_job_tally_{name}"
        for name in ("insert", "update", "unfinish", "delete")
    ],
    "postgresql": [
        f"DROP FUNCTION ledger_job_tally_{event}() CASCADE"
        for event in ("insert", "update", "delete")
    ],
}


def install(apps, schema_editor):
    for statement in _INSTALL.get(schema_editor.connection.vendor, list)():
        schema_editor.execute(statement)


def remove(apps, schema_editor):
    for statement in _REMOVE.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="FinishedTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("pool", models.CharField(help_text="the queue the jobs ran on", max_length=100)),
                (
                    "status",
                    models.CharField(help_text="the status they finished with", max_length=16),
                ),
                (
                    "le",
                    models.CharField(
                        blank=True,
                        help_text="the upper bound of their runtime (seconds) as Prometheus "
                        "writes it, '+Inf', or '' for jobs with no runtime (never started)",
                        max_length=16,
                        verbose_name="runtime bucket",
                    ),
                ),
                ("jobs", models.BigIntegerField(default=0, help_text="jobs finished")),
                (
                    "removed",
                    models.BigIntegerField(
                        default=0,
                        help_text="of those, the rows deleted since or finished again (re-run)",
                    ),
                ),
                (
                    "runtime",
                    models.FloatField(default=0.0, help_text="their runtimes added up (seconds)"),
                ),
            ],
            options={
                "verbose_name": "finished-jobs tally",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("pool", "status", "le"), name="ledger_tally_key"
                    )
                ],
            },
        ),
        migrations.RunPython(install, remove),
    ]
