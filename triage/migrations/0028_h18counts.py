"""Ticket counts per status kept by triggers (models.TicketStatusCount), on PostgreSQL and SQLite.

Each status has 16 slot rows; a ticket counts in slot id % 16, so concurrent writers touch
different rows. The counts are filled from the tickets already there while the ticket table is
locked against writes (PostgreSQL; SQLite locks the whole database for a write), so no ticket
written meanwhile is missed or counted twice."""

from django.db import migrations, models

SLOTS = 16  # models.TicketStatusCount.SLOTS

FILL = f"""
INSERT INTO triage_ticketstatuscount (status, slot, n)
SELECT status, id % {SLOTS}, COUNT(*) FROM triage_ticket GROUP BY status, id % {SLOTS}
"""  # noqa: S608 - constants only

POSTGRESQL = [
    "LOCK TABLE triage_ticket IN SHARE ROW EXCLUSIVE MODE",
    # One slot row moved by `delta`: an UPDATE (no insert attempt, so no sequence value spent),
    # and the row created the first time a status is seen in that slot.
    """
    CREATE OR REPLACE FUNCTION triage_ticketstatuscount_add(p_status text, p_slot integer, p_delta integer)
    RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE triage_ticketstatuscount SET n = n + p_delta WHERE status = p_status AND slot = p_slot;
        IF NOT FOUND THEN
            INSERT INTO triage_ticketstatuscount (status, slot, n) VALUES (p_status, p_slot, p_delta)
            ON CONFLICT (status, slot) DO UPDATE SET n = triage_ticketstatuscount.n + EXCLUDED.n;
        END IF;
    END $$
    """,
    # A status change moves two rows of the ticket's slot, always the lower status first: two
    # tickets of one slot moving opposite ways (A -> B and B -> A) would otherwise each hold one row
    # and wait for the other's (a deadlock).
    f"""
    CREATE OR REPLACE FUNCTION triage_ticket_status_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM triage_ticketstatuscount_add(NEW.status, (NEW.id % {SLOTS})::integer, 1);
        ELSIF TG_OP = 'DELETE' THEN
            PERFORM triage_ticketstatuscount_add(OLD.status, (OLD.id % {SLOTS})::integer, -1);
        ELSIF OLD.status < NEW.status THEN
            PERFORM triage_ticketstatuscount_add(OLD.status, (OLD.id % {SLOTS})::integer, -1);
            PERFORM triage_ticketstatuscount_add(NEW.status, (NEW.id % {SLOTS})::integer, 1);
        ELSE
            PERFORM triage_ticketstatuscount_add(NEW.status, (NEW.id % {SLOTS})::integer, 1);
            PERFORM triage_ticketstatuscount_add(OLD.status, (OLD.id % {SLOTS})::integer, -1);
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION triage_ticket_status_count_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM triage_ticketstatuscount;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER triage_ticket_status_count_insert_delete AFTER INSERT OR DELETE ON triage_ticket
    FOR EACH ROW EXECUTE FUNCTION triage_ticket_status_count()
    """,
    # only when the status changes: most ticket updates (fields, runs, SLA times) leave it alone
    """
    CREATE TRIGGER triage_ticket_status_count_update AFTER UPDATE OF status ON triage_ticket
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION triage_ticket_status_count()
    """,
    """
    CREATE TRIGGER triage_ticket_status_count_truncate AFTER TRUNCATE ON triage_ticket
    FOR EACH STATEMENT EXECUTE FUNCTION triage_ticket_status_count_truncate()
    """,
    FILL,
]

POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS triage_ticket_status_count_insert_delete ON triage_ticket",
    "DROP TRIGGER IF EXISTS triage_ticket_status_count_update ON triage_ticket",
    "DROP TRIGGER IF EXISTS triage_ticket_status_count_truncate ON triage_ticket",
    "DROP FUNCTION IF EXISTS triage_ticket_status_count()",
    "DROP FUNCTION IF EXISTS triage_ticket_status_count_truncate()",
    "DROP FUNCTION IF EXISTS triage_ticketstatuscount_add(text, integer, integer)",
]


def _sqlite_move(row: str, delta: int) -> str:
    sign = "+" if delta > 0 else "-"
    return f"""
        INSERT INTO triage_ticketstatuscount (status, slot, n) VALUES ({row}.status, {row}.id % {SLOTS}, {delta})
        ON CONFLICT (status, slot) DO UPDATE SET n = n {sign} 1;"""  # noqa: S608 - constants only


# SQLite writes one transaction at a time (a database-wide lock): no row contention to spread.
# A later migration that makes SQLite rebuild triage_ticket loses these with the old table: it must
# make them again (as 0016_conversation_models does for the rollup triggers), or
# tests/migrations/test_sqlite_from_zero.py fails.
SQLITE_TRIGGERS = {
    "triage_ticket_status_count_insert": f"AFTER INSERT ON triage_ticket BEGIN {_sqlite_move('NEW', 1)} END",
    "triage_ticket_status_count_delete": f"AFTER DELETE ON triage_ticket BEGIN {_sqlite_move('OLD', -1)} END",
    "triage_ticket_status_count_update": (
        "AFTER UPDATE OF status ON triage_ticket WHEN OLD.status IS NOT NEW.status "
        f"BEGIN {_sqlite_move('OLD', -1)} {_sqlite_move('NEW', 1)} END"
    ),
}


def _run(schema_editor, statements: dict[str, list[str]]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in statements:
        raise NotImplementedError(f"ticket status counts: no triggers for {vendor}")
    for sql in statements[vendor]:
        schema_editor.execute(sql, params=None)


def create_triggers(apps, schema_editor):
    """The triggers, and the counts of the tickets already there."""
    sqlite = [f"CREATE TRIGGER {name} {body}" for name, body in SQLITE_TRIGGERS.items()]
    _run(schema_editor, {"postgresql": POSTGRESQL, "sqlite": [*sqlite, FILL]})


def drop_triggers(apps, schema_editor):
    """The triggers and their functions (the counts go with their table)."""
    sqlite = [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS]
    _run(schema_editor, {"postgresql": POSTGRESQL_DROP, "sqlite": sqlite})


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0027_h18ack"),
    ]

    operations = [
        migrations.CreateModel(
            name="TicketStatusCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("status", models.CharField(max_length=16)),
                ("slot", models.PositiveSmallIntegerField()),
                ("n", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("status", "slot"), name="ticketstatuscount_status_slot")
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
