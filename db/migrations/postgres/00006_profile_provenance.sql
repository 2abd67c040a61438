-- The PostgreSQL twin of sqlite/00006_profile_provenance.sql: the same
-- columns and index, and profile_provenance, which SQLite gets from the
-- store in Go (internal/store/provenance.go states the rules; both write the
-- same text for the same input, which provenance_test.go checks).

-- +goose Up
ALTER TABLE profiles ADD COLUMN provenance TEXT;
ALTER TABLE profiles ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0;
-- userIds sort byte by byte, as SQLite's BINARY collation sorts them, so a
-- prefix search is one range of the primary key on both databases whatever
-- the database's locale.
ALTER TABLE profiles ALTER COLUMN user_id TYPE TEXT COLLATE "C";
CREATE INDEX profiles_flagged ON profiles (project_id, user_id) WHERE flagged > 0;

-- json_minify removes the white space outside strings, as SQLite writes
-- JSON (json_merge_patch keeps the text of arrays and scalars as sent).
CREATE FUNCTION json_minify(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN regexp_replace(t, '("(?:[^"\\]|\\.)*")|[ \t\n\r]+', '\1', 'g');

-- profile_provenance_rank is an entry's trust: 2 signed, 1 verified, 0
-- report-only.
CREATE FUNCTION profile_provenance_rank(e json) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN e ->> 'signed' = 'true' THEN 2 WHEN e ->> 'v' = 'verified' THEN 1 ELSE 0 END;

-- profile_provenance(old_traits, new_traits, old_prov, patch, at,
-- message_id, verification, signed) is the profile's new provenance: old
-- entries in their order (those of written keys replaced or dropped), then
-- entries of keys new to it in the order the patch first names them. One
-- query of set operations (hash joins, no function call per key), so an
-- identify costs about what its merge does and a patch of thousands of keys
-- stays linear. For each written key: o and n are its values before and
-- after the merge (NULL when absent), e its entry before, r the event's
-- trust for it; the CASEs are provenance.go's rules, in its order.
-- +goose StatementBegin
CREATE FUNCTION profile_provenance(old_traits text, new_traits text, old_prov text, patch text,
    at bigint, message_id text, verification text, signed text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    p      json;
    nt     json;
    ot     json;
    op     json;
    result text;
    head   text;
BEGIN
    IF patch IS NULL OR new_traits IS NULL THEN
        RETURN old_prov;
    END IF;
    p := patch::json;
    nt := new_traits::json;
    IF json_typeof(p) IS DISTINCT FROM 'object' OR json_typeof(nt) IS DISTINCT FROM 'object' THEN
        RETURN old_prov;
    END IF;
    ot := CASE WHEN json_typeof(old_traits::json) = 'object' THEN old_traits::json ELSE '{}' END;
    op := CASE WHEN json_typeof(old_prov::json) = 'object' THEN old_prov::json ELSE '{}' END;
    -- The event's part of every entry it writes: {"at":…,"by":…,"v":…
    head := '{"at":' || at || ',"by":' || to_json(message_id)::text || ',"v":' || to_json(verification)::text;
    WITH touched AS (
        SELECT x.key, min(x.n) AS n FROM json_each(p) WITH ORDINALITY AS x (key, value, n) GROUP BY x.key
    ), sig AS (
        SELECT s.key FROM json_array_elements_text(
            CASE WHEN verification = 'verified' AND json_typeof(signed::json) = 'array' THEN signed::json ELSE '[]' END) AS s (key)
    ), o AS (
        SELECT x.key, x.value::text AS v FROM json_each(ot) AS x WHERE x.key IN (SELECT key FROM touched)
    ), nw AS (
        SELECT x.key, x.value::text AS v FROM json_each(nt) AS x WHERE x.key IN (SELECT key FROM touched)
    ), old AS (
        SELECT x.key, x.value AS e, x.n FROM json_each(op) WITH ORDINALITY AS x (key, value, n)
    ), k AS ( -- each written key with its values, entry and the event's trust r
        SELECT t.key, t.n, o.v AS o, nw.v AS nv, old.e, old.key IS NOT NULL AS in_old,
            CASE WHEN verification IS DISTINCT FROM 'verified' THEN 0 WHEN t.key IN (SELECT key FROM sig) THEN 2 ELSE 1 END AS r
        FROM touched t LEFT JOIN o ON o.key = t.key LEFT JOIN nw ON nw.key = t.key LEFT JOIN old ON old.key = t.key
    ), d AS MATERIALIZED ( -- e's trust, whether it is flagged and the trust of what it displaced; whether the value changed
        SELECT k.*,
            CASE WHEN k.e IS NULL THEN -1 ELSE profile_provenance_rank(k.e) END AS e_rank,
            coalesce(k.e ->> 'flagged' = 'true', false) AS e_flagged,
            CASE WHEN k.e IS NULL THEN -1 WHEN k.e ->> 'flagged' = 'true' THEN profile_provenance_rank(k.e -> 'was')
                ELSE profile_provenance_rank(k.e) END AS base_rank,
            CASE -- in this order: a regular expression only for texts that differ
                WHEN k.o IS NULL OR k.nv IS NULL THEN (k.o IS NULL) <> (k.nv IS NULL)
                WHEN k.o = k.nv THEN false
                ELSE json_minify(k.o) <> json_minify(k.nv)
            END AS changed
        FROM k
    ), a AS MATERIALIZED ( -- what becomes of the entry: none, keep, or new (with the prior a flag keeps)
        SELECT d.key, d.n, d.in_old, d.e, d.r, d.nv,
            CASE
                WHEN NOT d.changed AND d.e IS NULL AND d.nv IS NULL THEN 'none'
                WHEN NOT d.changed AND (d.r < 1 OR d.r <= d.e_rank) THEN CASE WHEN d.e IS NULL THEN 'none' ELSE 'keep' END
                WHEN NOT d.changed THEN 'new'
                WHEN d.base_rank > d.r THEN 'new'
                WHEN d.nv IS NULL AND d.r = 0 THEN 'none'
                ELSE 'new'
            END AS action,
            CASE
                WHEN NOT d.changed AND d.e_flagged AND d.base_rank > d.r THEN (d.e -> 'was')::text
                WHEN NOT d.changed THEN NULL
                WHEN d.base_rank > d.r AND d.e_flagged THEN (d.e -> 'was')::text
                WHEN d.base_rank > d.r THEN
                    -- An entry edited by hand may lack a field or hold another
                    -- type: the prior reads 0 or "" there, as on SQLite.
                    '{"at":' || CASE WHEN json_typeof(d.e -> 'at') = 'number' THEN d.e ->> 'at' ELSE '0' END
                    || ',"by":' || CASE WHEN json_typeof(d.e -> 'by') = 'string' THEN (d.e -> 'by')::text ELSE '""' END
                    || ',"v":' || CASE WHEN json_typeof(d.e -> 'v') = 'string' THEN (d.e -> 'v')::text ELSE '""' END
                    || CASE WHEN d.e ->> 'signed' = 'true' THEN ',"signed":true' ELSE '' END
                    || CASE WHEN d.o IS NULL THEN ',"removed":true' ELSE ',"value":' || to_json(json_minify(d.o))::text END || '}'
            END AS was
        FROM d
    ), calc AS (
        SELECT a.key, a.n, a.in_old,
            CASE a.action
                WHEN 'none' THEN NULL
                WHEN 'keep' THEN a.e::text
                ELSE head || CASE WHEN a.r = 2 THEN ',"signed":true' ELSE '' END
                    || CASE WHEN a.nv IS NULL THEN ',"removed":true' ELSE '' END
                    || CASE WHEN a.was IS NOT NULL THEN ',"flagged":true,"was":' || a.was ELSE '' END || '}'
            END AS entry
        FROM a
    )
    SELECT '{' || coalesce(string_agg(to_json(x.key)::text || ':' || x.entry, ',' ORDER BY x.grp, x.n), '') || '}'
    INTO result
    FROM (
        SELECT old.key, 0 AS grp, old.n, CASE WHEN c.key IS NULL THEN old.e::text ELSE c.entry END AS entry
        FROM old LEFT JOIN calc c ON c.key = old.key
        UNION ALL
        SELECT c.key, 1, c.n, c.entry FROM calc c WHERE NOT c.in_old
    ) AS x
    WHERE x.entry IS NOT NULL;
    RETURN result;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION profile_provenance(text, text, text, text, bigint, text, text, text);
DROP FUNCTION profile_provenance_rank(json);
DROP FUNCTION json_minify(text);
DROP INDEX profiles_flagged;
ALTER TABLE profiles ALTER COLUMN user_id TYPE TEXT;
ALTER TABLE profiles DROP COLUMN flagged;
ALTER TABLE profiles DROP COLUMN provenance;
