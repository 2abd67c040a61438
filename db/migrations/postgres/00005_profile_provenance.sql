-- The PostgreSQL twin of sqlite/00005_profile_provenance.sql: the same
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

-- profile_provenance_entry is the new entry of one key written by an event
-- of trust r, or NULL for none: o and n are the key's values before and
-- after the merge (NULL when absent), e its entry before.
-- +goose StatementBegin
CREATE FUNCTION profile_provenance_entry(o text, n text, e json, r integer, at bigint, by text, v text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    e_rank    integer := -1;
    base_rank integer := -1;
    e_flagged boolean := false;
    changed   boolean;
    was       text;
BEGIN
    IF e IS NOT NULL THEN
        e_rank := profile_provenance_rank(e);
        base_rank := e_rank;
        e_flagged := coalesce(e ->> 'flagged' = 'true', false);
        IF e_flagged THEN
            base_rank := profile_provenance_rank(e -> 'was');
        END IF;
    END IF;
    changed := (o IS NULL) <> (n IS NULL) OR (o IS NOT NULL AND o <> n AND json_minify(o) <> json_minify(n));
    IF NOT changed THEN
        IF e IS NULL AND n IS NULL THEN
            RETURN NULL;
        END IF;
        IF r < 1 OR r <= e_rank THEN
            RETURN e::text; -- e stays (or there is none)
        END IF;
        IF e_flagged AND base_rank > r THEN
            was := (e -> 'was')::text;
        END IF;
    ELSIF base_rank > r AND e_flagged THEN
        was := (e -> 'was')::text;
    ELSIF base_rank > r THEN
        -- An entry edited by hand may lack a field or hold another type:
        -- the prior reads 0 or "" there, as on SQLite, and stays JSON.
        was := '{"at":' || CASE WHEN json_typeof(e -> 'at') = 'number' THEN e ->> 'at' ELSE '0' END
            || ',"by":' || CASE WHEN json_typeof(e -> 'by') = 'string' THEN (e -> 'by')::text ELSE '""' END
            || ',"v":' || CASE WHEN json_typeof(e -> 'v') = 'string' THEN (e -> 'v')::text ELSE '""' END
            || CASE WHEN e ->> 'signed' = 'true' THEN ',"signed":true' ELSE '' END
            || CASE WHEN o IS NULL THEN ',"removed":true' ELSE ',"value":' || to_json(json_minify(o))::text END || '}';
    ELSIF n IS NULL AND r = 0 THEN
        RETURN NULL;
    END IF;
    RETURN '{"at":' || at || ',"by":' || to_json(by)::text || ',"v":' || to_json(v)::text
        || CASE WHEN r = 2 THEN ',"signed":true' ELSE '' END
        || CASE WHEN n IS NULL THEN ',"removed":true' ELSE '' END
        || CASE WHEN was IS NOT NULL THEN ',"flagged":true,"was":' || was ELSE '' END || '}';
END
$$;
-- +goose StatementEnd

-- profile_provenance(old_traits, new_traits, old_prov, patch, at,
-- message_id, verification, signed) is the profile's new provenance: old
-- entries in their order (those of written keys replaced or dropped), then
-- entries of keys new to it in the order the patch first names them. Set
-- operations (hash joins), so a patch of thousands of keys stays linear.
-- +goose StatementBegin
CREATE FUNCTION profile_provenance(old_traits text, new_traits text, old_prov text, patch text,
    at bigint, message_id text, verification text, signed text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    result text;
BEGIN
    IF patch IS NULL OR json_typeof(patch::json) IS DISTINCT FROM 'object'
        OR new_traits IS NULL OR json_typeof(new_traits::json) IS DISTINCT FROM 'object' THEN
        RETURN old_prov;
    END IF;
    WITH touched AS (
        SELECT p.key, min(p.n) AS n FROM json_each(patch::json) WITH ORDINALITY AS p (key, value, n) GROUP BY p.key
    ), sig AS (
        SELECT s.key FROM json_array_elements_text(
            CASE WHEN verification = 'verified' AND json_typeof(signed::json) = 'array' THEN signed::json ELSE '[]' END) AS s (key)
    ), o AS (
        SELECT x.key, x.value::text AS v FROM json_each(
            CASE WHEN json_typeof(old_traits::json) = 'object' THEN old_traits::json ELSE '{}' END) AS x
        WHERE x.key IN (SELECT key FROM touched)
    ), nw AS (
        SELECT x.key, x.value::text AS v FROM json_each(new_traits::json) AS x
        WHERE x.key IN (SELECT key FROM touched)
    ), old AS (
        SELECT x.key, x.value AS entry, x.n FROM json_each(
            CASE WHEN json_typeof(old_prov::json) = 'object' THEN old_prov::json ELSE '{}' END) WITH ORDINALITY AS x (key, value, n)
    ), calc AS (
        SELECT t.key, t.n, profile_provenance_entry(o.v, nw.v, old.entry,
            CASE WHEN verification IS DISTINCT FROM 'verified' THEN 0 WHEN t.key IN (SELECT key FROM sig) THEN 2 ELSE 1 END,
            at, message_id, verification) AS entry,
            old.key IS NOT NULL AS in_old
        FROM touched t LEFT JOIN o ON o.key = t.key LEFT JOIN nw ON nw.key = t.key LEFT JOIN old ON old.key = t.key
    )
    SELECT '{' || coalesce(string_agg(to_json(x.key)::text || ':' || x.entry, ',' ORDER BY x.grp, x.n), '') || '}'
    INTO result
    FROM (
        SELECT old.key, 0 AS grp, old.n, CASE WHEN c.key IS NULL THEN old.entry::text ELSE c.entry END AS entry
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
DROP FUNCTION profile_provenance_entry(text, text, json, integer, bigint, text, text);
DROP FUNCTION profile_provenance_rank(json);
DROP FUNCTION json_minify(text);
DROP INDEX profiles_flagged;
ALTER TABLE profiles ALTER COLUMN user_id TYPE TEXT;
ALTER TABLE profiles DROP COLUMN flagged;
ALTER TABLE profiles DROP COLUMN provenance;
