-- profile_provenance for the usual identify, a few traits into a profile of
-- modest size, as a loop instead of 00006's set operations: a third of the
-- time (its plan's nodes cost more than the work for a handful of keys).
-- 00006's function stays, renamed profile_provenance_sets, for the rest
-- (thousands of keys, large profiles), where the loop's lookups by key
-- would each scan the whole text. Both follow provenance.go's rules and
-- write the same text; provenance_test.go compares them with each other and
-- with SQLite's on the same inputs.

-- +goose Up
ALTER FUNCTION profile_provenance(text, text, text, text, bigint, text, text, text) RENAME TO profile_provenance_sets;

-- +goose StatementBegin
CREATE FUNCTION profile_provenance(old_traits text, new_traits text, old_prov text, patch text,
    at bigint, message_id text, verification text, signed text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    p         json;
    nt        json;
    ot        json;
    op        json;
    sig       text[] := '{}';
    head      text;
    keys      text[] := '{}'; -- the written keys, in the order the patch first names them
    ents      text[] := '{}'; -- their new entries (NULL: none)
    k         text;
    i         integer;
    o         text;
    nv        text;
    e         json;
    r         integer;
    e_rank    integer;
    base_rank integer;
    e_flagged boolean;
    changed   boolean;
    was       text;
    ent       text;
    result    text := '';
BEGIN
    IF patch IS NULL OR new_traits IS NULL THEN
        RETURN old_prov;
    END IF;
    IF length(patch) > 1024 OR coalesce(length(old_traits), 0) + coalesce(length(old_prov), 0) > 16384 THEN
        RETURN profile_provenance_sets(old_traits, new_traits, old_prov, patch, at, message_id, verification, signed);
    END IF;
    p := patch::json;
    nt := new_traits::json;
    IF json_typeof(p) IS DISTINCT FROM 'object' OR json_typeof(nt) IS DISTINCT FROM 'object' THEN
        RETURN old_prov;
    END IF;
    ot := CASE WHEN json_typeof(old_traits::json) = 'object' THEN old_traits::json ELSE '{}' END;
    op := CASE WHEN json_typeof(old_prov::json) = 'object' THEN old_prov::json ELSE '{}' END;
    IF verification = 'verified' AND json_typeof(signed::json) = 'array' THEN
        sig := ARRAY(SELECT json_array_elements_text(signed::json));
    END IF;
    head := '{"at":' || at || ',"by":' || to_json(message_id)::text || ',"v":' || to_json(verification)::text;
    FOR k IN SELECT x.key FROM json_each(p) AS x LOOP
        IF array_position(keys, k) IS NOT NULL THEN
            CONTINUE; -- a key named twice: the merge applied both, o and n say what it did
        END IF;
        o := (ot -> k)::text;
        nv := (nt -> k)::text;
        e := op -> k;
        r := CASE WHEN verification IS DISTINCT FROM 'verified' THEN 0 WHEN k = ANY (sig) THEN 2 ELSE 1 END;
        e_rank := CASE WHEN e IS NULL THEN -1 ELSE profile_provenance_rank(e) END;
        e_flagged := coalesce(e ->> 'flagged' = 'true', false);
        base_rank := CASE WHEN e IS NULL THEN -1 WHEN e_flagged THEN profile_provenance_rank(e -> 'was') ELSE e_rank END;
        changed := CASE
            WHEN o IS NULL OR nv IS NULL THEN (o IS NULL) <> (nv IS NULL)
            WHEN o = nv THEN false
            ELSE json_minify(o) <> json_minify(nv)
        END;
        was := NULL;
        ent := '';  -- '': the event's entry; NULL: none; else the entry kept
        IF NOT changed THEN
            IF e IS NULL AND nv IS NULL THEN
                ent := NULL;
            ELSIF r < 1 OR r <= e_rank THEN
                ent := e::text; -- e stays (or there is none)
            ELSIF e_flagged AND base_rank > r THEN
                was := (e -> 'was')::text;
            END IF;
        ELSIF base_rank > r AND e_flagged THEN
            was := (e -> 'was')::text;
        ELSIF base_rank > r THEN
            -- An entry edited by hand may lack a field or hold another type:
            -- the prior reads 0 or "" there, as on SQLite.
            was := '{"at":' || CASE WHEN json_typeof(e -> 'at') = 'number' THEN e ->> 'at' ELSE '0' END
                || ',"by":' || CASE WHEN json_typeof(e -> 'by') = 'string' THEN (e -> 'by')::text ELSE '""' END
                || ',"v":' || CASE WHEN json_typeof(e -> 'v') = 'string' THEN (e -> 'v')::text ELSE '""' END
                || CASE WHEN e ->> 'signed' = 'true' THEN ',"signed":true' ELSE '' END
                || CASE WHEN o IS NULL THEN ',"removed":true' ELSE ',"value":' || to_json(json_minify(o))::text END || '}';
        ELSIF nv IS NULL AND r = 0 THEN
            ent := NULL;
        END IF;
        IF ent = '' THEN
            ent := head || CASE WHEN r = 2 THEN ',"signed":true' ELSE '' END
                || CASE WHEN nv IS NULL THEN ',"removed":true' ELSE '' END
                || CASE WHEN was IS NOT NULL THEN ',"flagged":true,"was":' || was ELSE '' END || '}';
        END IF;
        keys := keys || k;
        ents := ents || ent;
    END LOOP;
    -- Old entries in their order, written keys' replaced or dropped; then
    -- the keys new to it.
    FOR k, e IN SELECT x.key, x.value FROM json_each(op) AS x LOOP
        i := array_position(keys, k);
        IF i IS NULL THEN
            ent := e::text;
        ELSE
            ent := ents[i];
            keys[i] := NULL;
        END IF;
        IF ent IS NOT NULL THEN
            result := result || CASE WHEN result = '' THEN '' ELSE ',' END || to_json(k)::text || ':' || ent;
        END IF;
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(keys, 1), 0) LOOP
        IF keys[i] IS NOT NULL AND ents[i] IS NOT NULL THEN
            result := result || CASE WHEN result = '' THEN '' ELSE ',' END || to_json(keys[i])::text || ':' || ents[i];
        END IF;
    END LOOP;
    RETURN '{' || result || '}';
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION profile_provenance(text, text, text, text, bigint, text, text, text);
ALTER FUNCTION profile_provenance_sets(text, text, text, text, bigint, text, text, text) RENAME TO profile_provenance;
