"""A chunk in one round trip on PostgreSQL: ``chunkup_record_chunk``.

A chunk's transaction on PostgreSQL was begin, select for update, insert,
update, commit: five round trips, each a wake-up of the event loop and of a
backend, and the row lock held across all of them. This function does the
same work server-side in one statement, so one call (its own transaction) is
one round trip and the lock is held for microseconds: it locks the upload row,
checks ownership, state, total and field, looks for an overlap (returning the
stored chunk that starts where this one does, for the retry check), applies
the new expiry, checks the usage bounds (``uploads/usage.py``), merges the
range into ``ranges``, records the chunk and saves the progress.

It decides, it never raises: a refused chunk returns an ``outcome`` naming the
first check that failed and the upload as it was, and the caller raises the
same error, built the same way, as the SQLite path (``db/chunk_record.py``).
The merge follows ``RangeSet.add``; the limits are computed by the caller,
which knows them. SQLite has no server-side functions: this is a no-op there.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FUNCTION = r"""
CREATE OR REPLACE FUNCTION chunkup_record_chunk(
    p_id varchar, p_user bigint, p_now timestamp, p_total bigint, p_kind varchar,
    p_start bigint, p_end bigint, p_key text, p_expires timestamp, p_ttl interval,
    p_footprint bigint, p_max_chunks bigint, p_max_ranges integer
) RETURNS TABLE (
    outcome text, user_id bigint, kind varchar, total bigint, filename varchar,
    ranges text, status varchar, created_at timestamp, expires_at timestamp,
    completed_at timestamp, media_id integer, chunk_count bigint, stored_bytes bigint,
    existing_end bigint, existing_key text
) LANGUAGE plpgsql AS $fn$
DECLARE
    u uploads%ROWTYPE;
    r json;
    s bigint;
    e bigint;
    ns bigint := p_start;
    ne bigint := p_end;
    merged jsonb := '[]'::jsonb;
    placed boolean := false;
    verdict text := NULL;
    x_end bigint := NULL;
    x_key text := NULL;
BEGIN
    SELECT * INTO u FROM uploads WHERE uploads.id = p_id FOR UPDATE;
    IF NOT FOUND OR u.user_id <> p_user THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::bigint, NULL::varchar, NULL::bigint,
            NULL::varchar, NULL::text, NULL::varchar, NULL::timestamp, NULL::timestamp,
            NULL::timestamp, NULL::integer, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text;
        RETURN;
    END IF;
    IF u.status = 'expired' OR (u.status = 'uploading' AND u.expires_at <= p_now) THEN
        verdict := 'expired';
    ELSIF u.status = 'completed' THEN
        verdict := 'completed';
    ELSIF u.total <> p_total THEN
        verdict := 'total';
    ELSIF u.kind <> p_kind THEN
        verdict := 'kind';
    END IF;
    IF verdict IS NULL THEN
        -- one pass over the merged, sorted ranges: overlap check and merge together
        FOR r IN SELECT value FROM json_array_elements(u.ranges) LOOP
            s := (r->>0)::bigint;
            e := (r->>1)::bigint;
            IF s <= p_end AND e >= p_start THEN
                verdict := 'overlap';
                EXIT;
            END IF;
            IF e < ns - 1 THEN
                merged := merged || jsonb_build_array(jsonb_build_array(s, e));
            ELSIF s > ne + 1 THEN
                IF NOT placed THEN
                    merged := merged || jsonb_build_array(jsonb_build_array(ns, ne));
                    placed := true;
                END IF;
                merged := merged || jsonb_build_array(jsonb_build_array(s, e));
            ELSE  -- touches the new range: absorbed into it
                ns := LEAST(ns, s);
                ne := GREATEST(ne, e);
            END IF;
        END LOOP;
        IF verdict = 'overlap' THEN
            SELECT c.end_byte, c.key INTO x_end, x_key
                FROM upload_chunks c WHERE c.upload_id = p_id AND c.start_byte = p_start;
        ELSIF u.chunk_count + 1 > p_max_chunks THEN
            verdict := 'too_many_chunks';
        ELSE
            IF NOT placed THEN
                merged := merged || jsonb_build_array(jsonb_build_array(ns, ne));
            END IF;
            IF jsonb_array_length(merged) > p_max_ranges THEN
                verdict := 'too_many_ranges';
            END IF;
        END IF;
    END IF;
    IF verdict IS NULL THEN
        INSERT INTO upload_chunks (upload_id, start_byte, end_byte, key)
            VALUES (p_id, p_start, p_end, p_key);
        UPDATE uploads SET
            ranges = merged::json,
            expires_at = CASE WHEN p_expires IS NULL THEN u.expires_at
                              ELSE LEAST(p_expires, u.created_at + p_ttl) END,
            chunk_count = u.chunk_count + 1,
            stored_bytes = u.stored_bytes + p_footprint
        WHERE uploads.id = p_id
        RETURNING * INTO u;
        verdict := 'ok';
    END IF;
    RETURN QUERY SELECT verdict, u.user_id, u.kind, u.total, u.filename, u.ranges::text,
        u.status, u.created_at, u.expires_at, u.completed_at, u.media_id, u.chunk_count,
        u.stored_bytes, x_end, x_key;
END
$fn$
"""

SIGNATURE = (
    "chunkup_record_chunk(varchar, bigint, timestamp, bigint, varchar, bigint, bigint, text,"
    " timestamp, interval, bigint, bigint, integer)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
