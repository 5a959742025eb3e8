"""payment rolls: a locked roll never changes (database triggers)

A locked payment roll (发放名册) is refused UPDATE and DELETE, and its lines any INSERT, UPDATE or DELETE,
by triggers — whatever route (the service, a script, a raw SQL session) tries. TRUNCATE, an owner-only
maintenance operation, is not a row operation and stays possible (as for the audit log).

Revision ID: d1e2f3a4b5c6
Revises: 7b1e0c4d2a90
Create Date: 2026-12-03 07:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd1e2f3a4b5c6'
down_revision = '7b1e0c4d2a90'
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
        """
        CREATE OR REPLACE FUNCTION payment_roll_lines_locked_guard() RETURNS trigger AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE')
               AND EXISTS (SELECT 1 FROM payment_rolls WHERE id = OLD.roll_id AND status = 'locked') THEN
                RAISE EXCEPTION 'payment roll % is locked (% of a line refused)', OLD.roll_id, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF TG_OP IN ('UPDATE', 'INSERT')
               AND EXISTS (SELECT 1 FROM payment_rolls WHERE id = NEW.roll_id AND status = 'locked') THEN
                RAISE EXCEPTION 'payment roll % is locked (% of a line refused)', NEW.roll_id, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF TG_OP = 'DELETE' THEN
                RETURN OLD;
            END IF;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
        """,
        """
        CREATE TRIGGER payment_roll_lines_locked_no_change
            BEFORE INSERT OR UPDATE OR DELETE ON payment_roll_lines
            FOR EACH ROW EXECUTE FUNCTION payment_roll_lines_locked_guard()
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
        "DROP TRIGGER IF EXISTS payment_roll_lines_locked_no_change ON payment_roll_lines",
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
