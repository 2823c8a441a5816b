"""What the database itself refuses on PostgreSQL (SQLite relies on the services' checks).

- At commit, a deferred constraint trigger checks every posting written by the committing
  transaction: its transaction's postings number two or more and sum to zero, and its
  transaction, account, rule versions and reversed transaction all exist. It checks them
  set-based, once per commit, rather than once per row, which is what keeps a bulk import
  of millions of postings fast: before each INSERT into points_posting a statement-level
  trigger notes the lowest id it can write in a row of `points_ledger_pending` (one row
  per database transaction); that row's deferred constraint trigger fires at commit,
  checks every posting from there up, and removes the row. Postings that concurrent
  sessions committed meanwhile are checked again, harmlessly.
- Postings, transactions, lot movements and rule versions are append-only; accounts are
  never deleted. (TRUNCATE, which test teardown uses, fires no row trigger.)
"""

from django.db import migrations

FORWARD = """
-- Room on each page, so a balance update stays on its page and touches no index.
ALTER TABLE points_account SET (fillfactor = 80);

-- Keys compare byte by byte: a bulk import inserts them in that order, and it is faster.
ALTER TABLE points_pointstransaction ALTER COLUMN idempotency_key TYPE varchar(255) COLLATE "C";

CREATE TABLE points_ledger_pending (
    xact xid8 PRIMARY KEY,
    first_posting bigint NOT NULL
);

-- Postings take their id from the sequence, always, so every posting a statement writes
-- lies above the sequence's value when the statement began.
ALTER TABLE points_posting ALTER COLUMN id SET GENERATED ALWAYS;

CREATE FUNCTION points_ledger_note() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    next_id bigint;
BEGIN
    SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END INTO next_id FROM points_posting_id_seq;
    INSERT INTO points_ledger_pending (xact, first_posting) VALUES (pg_current_xact_id(), next_id)
    ON CONFLICT (xact) DO UPDATE
    SET first_posting = least(points_ledger_pending.first_posting, excluded.first_posting);
    RETURN NULL;
END
$$;

CREATE TRIGGER points_posting_note_pending
    BEFORE INSERT ON points_posting
    FOR EACH STATEMENT EXECUTE FUNCTION points_ledger_note();

-- Every transaction in a range of ids: balanced, with two or more postings, and whatever
-- it refers to exists. A posting added to an old transaction widens the range, and is
-- still caught. Both sides are read in transaction order and merged: a freshly filled
-- table's stale statistics would otherwise pick hash tables that spill to disk, or a
-- probe per transaction.
CREATE FUNCTION points_ledger_transactions_check(from_tx bigint, to_tx bigint, OUT culprit bigint, OUT unbalanced boolean)
LANGUAGE sql STABLE
SET enable_hashagg = off SET enable_hashjoin = off SET enable_nestloop = off SET enable_bitmapscan = off
AS $$
    SELECT g.transaction_id, g.total <> 0 OR g.lines < 2
    FROM (
        SELECT transaction_id, sum(amount) AS total, count(*) AS lines
        FROM points_posting WHERE transaction_id BETWEEN from_tx AND to_tx
        GROUP BY transaction_id
    ) g
    LEFT JOIN points_pointstransaction t ON t.id = g.transaction_id AND t.id BETWEEN from_tx AND to_tx
    WHERE g.total <> 0 OR g.lines < 2 OR t.id IS NULL
       OR (t.earn_rule_id IS NOT NULL AND t.earn_rule_id NOT IN (SELECT id FROM points_earnrule))
       OR (t.tier_multiplier_id IS NOT NULL AND t.tier_multiplier_id NOT IN (SELECT id FROM points_tiermultiplier))
       OR (t.reverses_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM points_pointstransaction o WHERE o.id = t.reverses_id))
    LIMIT 1
$$;

CREATE FUNCTION points_ledger_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    from_posting bigint;
    to_posting bigint;
    from_tx bigint;
    to_tx bigint;
    culprit bigint;
    unbalanced boolean;
BEGIN
    DELETE FROM points_ledger_pending WHERE xact = pg_current_xact_id() RETURNING first_posting
        INTO from_posting;
    IF from_posting IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT max(id) INTO to_posting FROM points_posting WHERE id >= from_posting;
    SELECT min(transaction_id), max(transaction_id) INTO from_tx, to_tx
    FROM points_posting WHERE id BETWEEN from_posting AND to_posting;

    SELECT * INTO culprit, unbalanced FROM points_ledger_transactions_check(from_tx, to_tx);
    IF unbalanced THEN
        RAISE EXCEPTION 'points transaction % does not balance: its postings must be two or more and sum to zero',
            culprit USING ERRCODE = 'check_violation';
    END IF;
    IF culprit IS NULL THEN
        SELECT p.account_id INTO culprit
        FROM (SELECT DISTINCT account_id FROM points_posting WHERE id BETWEEN from_posting AND to_posting) p
        WHERE NOT EXISTS (SELECT 1 FROM points_account a WHERE a.id = p.account_id)
        LIMIT 1;
    END IF;
    IF culprit IS NOT NULL THEN
        RAISE EXCEPTION 'points posting or transaction refers to %, a row that does not exist', culprit
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER points_ledger_check_at_commit
    AFTER INSERT ON points_ledger_pending
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
DROP TRIGGER points_ledger_check_at_commit ON points_ledger_pending;
DROP FUNCTION points_ledger_check();
DROP FUNCTION points_ledger_transactions_check(bigint, bigint);
DROP TRIGGER points_posting_note_pending ON points_posting;
DROP FUNCTION points_ledger_note();
DROP TABLE points_ledger_pending;
ALTER TABLE points_posting ALTER COLUMN id SET GENERATED BY DEFAULT;
ALTER TABLE points_pointstransaction ALTER COLUMN idempotency_key TYPE varchar(255) COLLATE "default";
ALTER TABLE points_account RESET (fillfactor);
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
