"""payment rolls: a locked roll never changes (database triggers)

A locked payment roll (发放名册) is refused UPDATE and DELETE, and its lines any INSERT, UPDATE or DELETE,
by triggers — whatever route (the service, a script, a raw SQL session) tries. TRUNCATE, an owner-only
maintenance operation, is not a row operation and stays possible (as for the audit log).

Revision ID: d1e2f3a4b5c6
Revises: c3d4e5f6a7b2
Create Date: 2026-12-03 07:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd1e2f3a4b5c6'
down_revision = "c3d4e5f6a7b2"
branch_labels = None
depends_on = None


GUARD = {
    "postgresql": [
        """
        CREATE OR REPLACE FUNCTION payment_rolls_locked_guard() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'payment roll % is locked (% refused)', OLD.id, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$ LANGUAGE plpgsql
        """,
        """
        CREATE TRIGGER payment_rolls_locked_no_change
            BEFORE UPDATE OR DELETE ON payment_rolls
            FOR EACH ROW WHEN (OLD.status = 'locked') EXECUTE FUNCTION payment_rolls_locked_guard()
        """,
        # Lines are written in bulk (a roll is one INSERT … SELECT of thousands of rows): statement-level
        # triggers with transition tables check the touched rolls once per statement, not once per row.
        """
        CREATE OR REPLACE FUNCTION payment_roll_lines_locked_guard() RETURNS trigger AS $$
        DECLARE
            locked_id integer;
        BEGIN
            IF TG_OP = 'INSERT' THEN
                SELECT r.id INTO locked_id FROM payment_rolls AS r
                WHERE r.status = 'locked' AND r.id IN (SELECT roll_id FROM new_rows) LIMIT 1;
            ELSIF TG_OP = 'UPDATE' THEN
                SELECT r.id INTO locked_id FROM payment_rolls AS r
                WHERE r.status = 'locked'
                  AND r.id IN (SELECT roll_id FROM old_rows UNION SELECT roll_id FROM new_rows) LIMIT 1;
            ELSE
                SELECT r.id INTO locked_id FROM payment_rolls AS r
                WHERE r.status = 'locked' AND r.id IN (SELECT roll_id FROM old_rows) LIMIT 1;
            END IF;
            IF locked_id IS NOT NULL THEN
                RAISE EXCEPTION 'payment roll % is locked (% of a line refused)', locked_id, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """,
        """
        CREATE TRIGGER payment_roll_lines_locked_no_insert
            AFTER INSERT ON payment_roll_lines REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION payment_roll_lines_locked_guard()
        """,
        """
        CREATE TRIGGER payment_roll_lines_locked_no_update
            AFTER UPDATE ON payment_roll_lines REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION payment_roll_lines_locked_guard()
        """,
        """
        CREATE TRIGGER payment_roll_lines_locked_no_delete
            AFTER DELETE ON payment_roll_lines REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION payment_roll_lines_locked_guard()
        """,
    ],
    "sqlite": [
        """
        CREATE TRIGGER payment_rolls_locked_no_update BEFORE UPDATE ON payment_rolls
        WHEN OLD.status = 'locked'
        BEGIN SELECT RAISE(ABORT, 'payment roll is locked (UPDATE refused)'); END
        """,
        """
        CREATE TRIGGER payment_rolls_locked_no_delete BEFORE DELETE ON payment_rolls
        WHEN OLD.status = 'locked'
        BEGIN SELECT RAISE(ABORT, 'payment roll is locked (DELETE refused)'); END
        """,
        """
        CREATE TRIGGER payment_roll_lines_locked_no_insert BEFORE INSERT ON payment_roll_lines
        WHEN (SELECT status FROM payment_rolls WHERE id = NEW.roll_id) = 'locked'
        BEGIN SELECT RAISE(ABORT, 'payment roll is locked (INSERT of a line refused)'); END
        """,
        """
        CREATE TRIGGER payment_roll_lines_locked_no_update BEFORE UPDATE ON payment_roll_lines
        WHEN (SELECT status FROM payment_rolls WHERE id = OLD.roll_id) = 'locked'
          OR (SELECT status FROM payment_rolls WHERE id = NEW.roll_id) = 'locked'
        BEGIN SELECT RAISE(ABORT, 'payment roll is locked (UPDATE of a line refused)'); END
        """,
        """
        CREATE TRIGGER payment_roll_lines_locked_no_delete BEFORE DELETE ON payment_roll_lines
        WHEN (SELECT status FROM payment_rolls WHERE id = OLD.roll_id) = 'locked'
        BEGIN SELECT RAISE(ABORT, 'payment roll is locked (DELETE of a line refused)'); END
        """,
    ],
}
DROP_GUARD = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS payment_roll_lines_locked_no_insert ON payment_roll_lines",
        "DROP TRIGGER IF EXISTS payment_roll_lines_locked_no_update ON payment_roll_lines",
        "DROP TRIGGER IF EXISTS payment_roll_lines_locked_no_delete ON payment_roll_lines",
        "DROP FUNCTION IF EXISTS payment_roll_lines_locked_guard()",
        "DROP TRIGGER IF EXISTS payment_rolls_locked_no_change ON payment_rolls",
        "DROP FUNCTION IF EXISTS payment_rolls_locked_guard()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS payment_roll_lines_locked_no_delete",
        "DROP TRIGGER IF EXISTS payment_roll_lines_locked_no_update",
        "DROP TRIGGER IF EXISTS payment_roll_lines_locked_no_insert",
        "DROP TRIGGER IF EXISTS payment_rolls_locked_no_delete",
        "DROP TRIGGER IF EXISTS payment_rolls_locked_no_update",
    ],
}


def upgrade():
    for statement in GUARD.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade():
    for statement in DROP_GUARD.get(op.get_bind().dialect.name, []):
        op.execute(statement)
