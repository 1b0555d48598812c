"""SQL that revision 0006 builds rather than states (PostgreSQL only): ids
nobody can use up, the look-alike test made from the CLI's own Unicode
data, and the values a column may hold. Every piece is plain SQL, so the
offline script (`keydesk postgres sql`) holds it too."""

from __future__ import annotations

from keydesk.validation import confusable_classes

# Every column holding an id a keydesk_users role draws from a sequence, and
# every column referring to one. Such a role needs USAGE on the sequence (a
# column DEFAULT nextval() runs with the inserting role's rights, and a
# BEFORE trigger that drew it as the owner would still draw one per attempt,
# failed ones included), so it can draw ids as fast as it likes: as bigint,
# 2^63 ids at a million a second last 290,000 years. setval needs UPDATE,
# which no keydesk role has.
# Workspace ids too: keydesk_create_workspace draws one per call, refused
# ones included; and audit_event's, which every audited write draws.
WIDE_IDS = {
    "workspace": ("id",),
    "account": ("id",),
    "membership": ("id", "workspace_id", "account_id"),
    "integration": ("id", "workspace_id"),
    "api_key": ("id", "integration_id", "created_by", "revoked_by", "replaces_id"),
    "key_usage": ("api_key_id",),
    "audit_event": ("id", "workspace_id", "integration_id"),
    "ssh_approval": ("id", "workspace_id", "account_id"),
}
SEQUENCES = tuple(f"{table}_id_seq" for table, columns in WIDE_IDS.items() if "id" in columns)
# Revisions 0002's and 0003's functions taking or giving such an id; `{}` is its type.
ID_FUNCTIONS = (
    "keydesk_replaceable({0}, {0})",
    "keydesk_scopes_within(text, {0})",
    "keydesk_lifetime_allowed({0}, timestamp with time zone)",
    "keydesk_account_id()",
    "keydesk_visible_workspaces()",
    "keydesk_managed_workspaces()",
    "keydesk_owned_workspaces()",
)
USERS = "keydesk_users"


def retype_ids(old: str, new: str) -> list[str]:
    """Statements changing every id of WIDE_IDS from `old` to `new`
    (`integer`, `bigint`). The policies on those tables and ID_FUNCTIONS
    block a change of type: each is set aside and made again as it was."""
    tables = ", ".join(f"'{table}'" for table in WIDE_IDS)
    functions = ", ".join(f"'{f.format(old)}'::regprocedure" for f in ID_FUNCTIONS)
    alters = "".join(
        f"    ALTER TABLE {table} "
        + ", ".join(f"ALTER COLUMN {column} TYPE {new}" for column in columns)
        + ";\n"
        for table, columns in WIDE_IDS.items()
    ) + "".join(f"    ALTER SEQUENCE {sequence} AS {new};\n" for sequence in SEQUENCES)
    block = f"""DO $do$
DECLARE
    p record;
    policies text[] := '{{}}';
    fn regprocedure;
    head text;
    definitions text[] := '{{}}';
    statement text;
BEGIN
    FOR p IN SELECT * FROM pg_policies WHERE schemaname = current_schema()
            AND tablename IN ({tables}) LOOP
        policies := policies || (format('CREATE POLICY %I ON %I AS %s FOR %s TO %s',
            p.policyname, p.tablename, p.permissive, p.cmd,
            (SELECT string_agg(quote_ident(r), ', ') FROM unnest(p.roles) r))
            || coalesce(' USING (' || p.qual || ')', '')
            || coalesce(' WITH CHECK (' || p.with_check || ')', ''));
        EXECUTE format('DROP POLICY %I ON %I', p.policyname, p.tablename);
    END LOOP;
    FOREACH fn IN ARRAY ARRAY[{functions}] LOOP
        head := split_part(pg_get_functiondef(fn), '$function$', 1);
        definitions := definitions || (replace(head, '{old}', '{new}')
            || substr(pg_get_functiondef(fn), length(head) + 1));
        EXECUTE 'DROP FUNCTION ' || fn;
    END LOOP;
{alters}    FOREACH statement IN ARRAY definitions LOOP EXECUTE statement; END LOOP;
    FOREACH statement IN ARRAY policies LOOP EXECUTE statement; END LOOP;
END
$do$"""  # noqa: S608 - names from WIDE_IDS, not input
    signatures = ", ".join(f.format(new) for f in ID_FUNCTIONS)
    return [
        block,
        f"REVOKE ALL ON FUNCTION {signatures} FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {signatures} TO {USERS}",
    ]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def skeleton_functions() -> dict[str, str]:
    """keydesk_skeletons(name): validation.skeletons in SQL, made at
    migration time from the very table the CLI uses (confusable_homoglyphs'
    data, every code point in it) and Python's case folding of every code
    point, so the database and the CLI cannot disagree on which names read
    alike. Each map is a jsonb constant looked up character by character:
    PL/pgSQL plans it once per session (a `translate` over 4,257 characters
    took 2.7 ms a name, and a check reads every account's)."""
    import json
    import sys

    classes = {chr(point): root for point, root in confusable_classes().items()}
    # A lone surrogate folds to itself, so no category check is needed (it
    # doubled the walk over every code point, run on each PostgreSQL migration).
    folds = {
        char: folded
        for char in map(chr, range(sys.maxunicode + 1))
        if (folded := char.casefold()) != char
    }
    return {
        f"keydesk_{name}(text)": f"""
CREATE FUNCTION keydesk_{name}(p_text text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $map$
BEGIN
    RETURN coalesce((SELECT string_agg(coalesce({_literal(json.dumps(table, ensure_ascii=False))}
        ::jsonb ->> c, c), '' ORDER BY n)
        FROM regexp_split_to_table(p_text, '') WITH ORDINALITY AS chars(c, n)), p_text);
END
$map$
"""  # noqa: S608 - Unicode data, quoted by _literal
        for name, table in (("casefold", folds), ("confusable_class", classes))
    } | {
        # Two names read alike when their skeletons overlap (`&&`), as the CLI's do.
        "keydesk_skeletons(text)": """
CREATE FUNCTION keydesk_skeletons(p_name text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT ARRAY[keydesk_confusable_class(normalize(keydesk_casefold(c), NFKC)),
        keydesk_confusable_class(c)]
    FROM (SELECT normalize(p_name, NFKC) AS c) compatible
$fn$
""",
    }


# Unicode 14's Cc, Cf, Co, Zl and Zp (what validation.printable_text refuses, unassigned aside).
UNPRINTABLE = (
    r"[\u0001-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2"
    r"\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ue000-\uf8ff\ufeff"
    r"\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
    r"\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f\U000f0000-\U000ffffd"
    r"\U00100000-\U0010fffd]"
)


def name_functions() -> dict[str, str]:
    """The rules on names (and labels) written with SQL: the CLI's where the
    database can check them, look-alikes included; (signature, SQL) in the
    order they are made."""
    return {**skeleton_functions(), **NAME_RULES}


NAME_RULES = {
    "keydesk_name_refusal(text, text, integer)": rf"""
CREATE FUNCTION keydesk_name_refusal(p_name text, p_what text, p_max integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
    -- Why `p_name` is not a name the CLI would store, or NULL. The name is
    -- never quoted: it may hold what a terminal should not be sent.
    SELECT CASE
        WHEN p_name IS NULL OR p_name !~ '\S' THEN p_what || ' is required'
        WHEN p_name ~ '{UNPRINTABLE}' THEN p_what
            || ' contains a control or invisible character; use printable text only'
        WHEN NOT p_name IS NFC NORMALIZED THEN p_what
            || ' is not in Unicode NFC (normalize(name, NFC) gives the form keydesk stores)'
        WHEN p_name ~ '^\s|\s$' THEN p_what || ' starts or ends with a space'
        WHEN length(p_name) > p_max THEN p_what || ' is longer than ' || p_max || ' characters'
        WHEN p_name ~ 'kdsk_[0-9A-Za-z]{{4}}[0-9A-Za-z_]{{12,}}' THEN p_what
            || ' looks like a private key; it was refused'
    END
$fn$
""",
    "keydesk_check_names()": """
CREATE FUNCTION keydesk_check_names() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    refusal text;
    taken boolean;
    scope text := TG_TABLE_NAME;
BEGIN
    IF keydesk_privileged() THEN
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'api_key' THEN
        refusal := keydesk_name_refusal(NEW.label, 'the label', 64);
    ELSE
        refusal := keydesk_name_refusal(NEW.name, 'the ' || TG_TABLE_NAME || ' name', 64);
    END IF;
    IF refusal IS NULL AND TG_TABLE_NAME <> 'api_key' THEN
        -- Two transactions adding PAYROLL and its look-alike would each miss
        -- the other's row: one check at a time per table (per workspace for
        -- integrations; skeleton sets overlap, so no per-name key would do),
        -- each reading what the one before committed, which only READ
        -- COMMITTED's per-statement snapshot does.
        IF current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE EXCEPTION USING ERRCODE = 'KD005', MESSAGE = 'a ' || TG_TABLE_NAME
                || ' name can be written only in a READ COMMITTED transaction';
        END IF;
        IF TG_TABLE_NAME = 'integration' THEN
            scope := scope || ' ' || NEW.workspace_id;
        END IF;
        PERFORM pg_advisory_xact_lock(hashtext('keydesk_check_names'), hashtext(scope));
    END IF;
    -- (Nested: a condition naming NEW.workspace_id cannot even be planned for workspace.)
    IF refusal IS NULL AND TG_TABLE_NAME = 'workspace' THEN
        taken := EXISTS (SELECT 1 FROM workspace WHERE id IS DISTINCT FROM NEW.id
            AND keydesk_skeletons(name) && keydesk_skeletons(NEW.name));
    ELSIF refusal IS NULL AND TG_TABLE_NAME = 'integration' THEN
        taken := EXISTS (SELECT 1 FROM integration WHERE workspace_id = NEW.workspace_id
            AND id IS DISTINCT FROM NEW.id AND keydesk_skeletons(name) && keydesk_skeletons(NEW.name));
    ELSIF refusal IS NULL AND TG_TABLE_NAME = 'account' THEN
        -- A role's own name is the server's to prove; no other may read like an
        -- account's or a role's (squatting a look-alike must not lock the role out).
        taken := NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = NEW.name) AND EXISTS (
            SELECT 1 FROM (SELECT name FROM account WHERE id IS DISTINCT FROM NEW.id
                UNION ALL SELECT rolname::text FROM pg_roles) other
            WHERE keydesk_skeletons(other.name) && keydesk_skeletons(NEW.name));
    END IF;
    IF taken THEN  -- which name is not told: it may be one the caller cannot see
        refusal := 'the ' || TG_TABLE_NAME || ' name looks like that of another '
            || TG_TABLE_NAME || CASE TG_TABLE_NAME WHEN 'integration' THEN ' in its workspace'
            ELSE '' END || '; choose a name that reads differently';
    END IF;
    IF refusal IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'KD005', MESSAGE = refusal;
    END IF;
    RETURN NEW;
END
$fn$
""",
}


# What a column may hold, as keydesk writes it (views.IntegrationStatus,
# views.Role, validation.SPAN_MAX_DAYS), frozen here as the revision wrote it.
# A store holding another value is not upgraded: the error names the rule.
CHECKS = (
    ("integration", "integration_status_known",
     "status IN ('draft', 'configured', 'disabled')"),
    ("membership", "membership_role_known", "role IN ('owner', 'admin', 'member', 'viewer')"),
    ("api_key", "api_key_lifetime_days_range", "lifetime_days BETWEEN 1 AND 36500"),
    ("workspace", "workspace_max_key_lifetime_range",
     "max_key_lifetime_days BETWEEN 1 AND 36500"),
    # validation.printable_text and validation.redirect_uri: nothing that
    # restyles a terminal, and a redirect keydesk would accept.
    ("integration", "integration_text_printable",
     " AND ".join(f"coalesce({c}, '') !~ '{UNPRINTABLE}'"
                  for c in ("provider", "client_id", "redirect_uri", "scopes"))),
    # A time Python cannot hold ('infinity', year 20000) made every member's
    # `key list`, `key revoke` and `scan --revoke` fail: times are finite, in
    # years 2000 to 9999, whoever writes them.
    *(("api_key", f"api_key_{c}_range", f"{c} IS NULL OR (isfinite({c})"
       f" AND {c} >= '2000-01-01 00:00+00' AND {c} < '10000-01-01 00:00+00')")
      for c in ("created_at", "revoked_at", "expires_at", "last_used_at")),
    # validation.scopes' form: single spaces between tokens, no comma.
    *((t, f"{t}_scopes_canonical", r"scopes ~ '^([^[:space:],]+( [^[:space:],]+)*)?$'")
      for t in ("integration", "api_key")),
    ("integration", "integration_redirect_uri_web",
     r"redirect_uri IS NULL OR (redirect_uri !~ '#' AND (redirect_uri ~* '^https://[^/?#]'"
     r" OR redirect_uri ~* '^http://(localhost|127\.0\.0\.1|\[::1\])([:/?]|$)'))"),
)  # fmt: skip
