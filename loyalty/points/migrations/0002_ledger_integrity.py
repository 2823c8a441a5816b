"""What the database itself refuses on PostgreSQL (SQLite relies on the services' checks).

- At commit, a deferred constraint trigger checks every posting written by the committing
  transaction: its transaction's postings number two or more and sum to zero, and its
  transaction, account, rule versions and reversed transaction all exist. It checks them
  set-based, once per commit, rather than once per row: the first firing checks every
  posting from its own id upwards and records how far it got (in a setting local to the
  transaction), so the other firings of the same commit return at once. Rows that
  concurrent sessions committed meanwhile are checked again, harmlessly.
- Postings, transactions, lot movements and rule versions are append-only; accounts are
  never deleted. (TRUNCATE, which test teardown uses, fires no row trigger.)
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION points_ledger_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    here text := pg_current_xact_id()::text;
    mark text := coalesce(current_setting('perkline.points_checked', true), '');
    upto bigint;
    culprit bigint;
BEGIN
    IF split_part(mark, ':', 1) = here AND NEW.id <= split_part(mark, ':', 2)::bigint THEN
        RETURN NULL;
    END IF;
    SELECT max(id) INTO upto FROM points_posting WHERE id >= NEW.id;

    SELECT p.transaction_id INTO culprit
    FROM points_posting p
    WHERE p.transaction_id IN (SELECT transaction_id FROM points_posting WHERE id BETWEEN NEW.id AND upto)
    GROUP BY p.transaction_id
    HAVING sum(p.amount) <> 0 OR count(*) < 2
    LIMIT 1;
    IF culprit IS NOT NULL THEN
        RAISE EXCEPTION 'points transaction % does not balance: its postings must be two or more and sum to zero',
            culprit USING ERRCODE = 'check_violation';
    END IF;

    SELECT p.id INTO culprit
    FROM points_posting p
    LEFT JOIN points_account a ON a.id = p.account_id
    LEFT JOIN points_pointstransaction t ON t.id = p.transaction_id
    LEFT JOIN points_earnrule r ON r.id = t.earn_rule_id
    LEFT JOIN points_tiermultiplier m ON m.id = t.tier_multiplier_id
    LEFT JOIN points_pointstransaction o ON o.id = t.reverses_id
    WHERE p.id BETWEEN NEW.id AND upto
      AND (a.id IS NULL OR t.id IS NULL
           OR (t.earn_rule_id IS NOT NULL AND r.id IS NULL)
           OR (t.tier_multiplier_id IS NOT NULL AND m.id IS NULL)
           OR (t.reverses_id IS NOT NULL AND o.id IS NULL))
    LIMIT 1;
    IF culprit IS NOT NULL THEN
        RAISE EXCEPTION 'points posting % refers to a row that does not exist', culprit
            USING ERRCODE = 'foreign_key_violation';
    END IF;

    PERFORM set_config('perkline.points_checked', here || ':' || upto, true);
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER points_posting_ledger_check
    AFTER INSERT ON points_posting
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION points_ledger_check();

CREATE FUNCTION points_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is refused: the points ledger is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER points_posting_append_only BEFORE UPDATE OR DELETE ON points_posting
    FOR EACH ROW EXECUTE FUNCTION points_refuse_change();
CREATE TRIGGER points_transaction_append_only BEFORE UPDATE OR DELETE ON points_pointstransaction
    FOR EACH ROW EXECUTE FUNCTION points_refuse_change();
CREATE TRIGGER points_lotmovement_append_only BEFORE UPDATE OR DELETE ON points_lotmovement
    FOR EACH ROW EXECUTE FUNCTION points_refuse_change();
CREATE TRIGGER points_earnrule_append_only BEFORE UPDATE OR DELETE ON points_earnrule
    FOR EACH ROW EXECUTE FUNCTION points_refuse_change();
CREATE TRIGGER points_tiermultiplier_append_only BEFORE UPDATE OR DELETE ON points_tiermultiplier
    FOR EACH ROW EXECUTE FUNCTION points_refuse_change();
CREATE TRIGGER points_account_never_deleted BEFORE DELETE ON points_account
    FOR EACH ROW EXECUTE FUNCTION points_refuse_change();
"""

BACKWARD = """
DROP TRIGGER points_account_never_deleted ON points_account;
DROP TRIGGER points_tiermultiplier_append_only ON points_tiermultiplier;
DROP TRIGGER points_earnrule_append_only ON points_earnrule;
DROP TRIGGER points_lotmovement_append_only ON points_lotmovement;
DROP TRIGGER points_transaction_append_only ON points_pointstransaction;
DROP TRIGGER points_posting_append_only ON points_posting;
DROP FUNCTION points_refuse_change();
DROP TRIGGER points_posting_ledger_check ON points_posting;
DROP FUNCTION points_ledger_check();
"""


def on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # A plain cursor: the RAISE formats use % and there are no parameters to bind.
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("points", "0001_initial")]

    operations = [migrations.RunPython(on_postgresql(FORWARD), on_postgresql(BACKWARD))]
