-- State database made by identsync 0.3.0 (git d71edb6), with data: pg_dump --column-inserts
-- of a scratch schema after 0.3.0's SyncState.ensure_schema and engine synced the demo clinic
-- (tools.ident_demo seed=7, receptions=160, patients=70) into a fresh emulator, plus
-- watermarks, an id-less rejection, a queued and a dead retry-queue record and a "writing"
-- mark. Schema-qualified names removed: load it with the target schema as search_path.
-- Used by tests/integration/test_state_upgrade.py (portal side: state-0.3.0-portal.json).

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

CREATE TABLE identsync_backfill_blocks (
    pipeline text NOT NULL,
    block_start timestamp with time zone NOT NULL,
    clear_number integer NOT NULL,
    block_end timestamp with time zone NOT NULL,
    run_id text NOT NULL,
    claimed_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE identsync_comment_ledger (
    deal_id bigint NOT NULL,
    posted_hash text,
    posted_comment_id bigint,
    posted_at timestamp with time zone,
    pending_hash text,
    pending_since timestamp with time zone,
    pending_after_comment_id bigint,
    source text,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT identsync_comment_ledger_deal_id_check CHECK ((deal_id > 0)),
    CONSTRAINT identsync_comment_ledger_pending_hash_check CHECK ((pending_hash ~ '^[0-9a-f]{32}$'::text)),
    CONSTRAINT identsync_comment_ledger_posted_hash_check CHECK ((posted_hash ~ '^[0-9a-f]{32}$'::text)),
    CONSTRAINT identsync_comment_ledger_source_check CHECK ((source = ANY (ARRAY['posted'::text, 'imported'::text, 'reconciled'::text])))
);

CREATE TABLE identsync_fingerprints (
    pipeline text NOT NULL,
    ident_id text NOT NULL,
    fingerprint text NOT NULL,
    written_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE identsync_full_checks (
    pipeline text NOT NULL,
    checked_at timestamp with time zone NOT NULL
);

CREATE SEQUENCE identsync_phone_write_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

CREATE TABLE identsync_phone_writes (
    phone text NOT NULL,
    seq bigint NOT NULL,
    written_at timestamp with time zone DEFAULT now() NOT NULL,
    writing_since timestamp with time zone
);

CREATE TABLE identsync_rate_limits (
    portal text NOT NULL,
    level double precision NOT NULL,
    updated_at timestamp with time zone NOT NULL
);

CREATE TABLE identsync_rejections (
    pipeline text NOT NULL,
    record_key text NOT NULL,
    ident_id text,
    reception_id bigint,
    reason text NOT NULL,
    detail text NOT NULL,
    source jsonb,
    run_id text NOT NULL,
    first_seen timestamp with time zone DEFAULT now() NOT NULL,
    last_seen timestamp with time zone DEFAULT now() NOT NULL,
    times_seen integer DEFAULT 1 NOT NULL,
    resolved_at timestamp with time zone
);

CREATE TABLE identsync_retry_queue (
    pipeline text NOT NULL,
    ident_id text NOT NULL,
    reception_id bigint,
    step text NOT NULL,
    code text NOT NULL,
    description text NOT NULL,
    attempts integer NOT NULL,
    status text NOT NULL,
    first_failed_at timestamp with time zone DEFAULT now() NOT NULL,
    last_failed_at timestamp with time zone DEFAULT now() NOT NULL,
    next_attempt_at timestamp with time zone,
    run_id text NOT NULL,
    task_id text,
    map_index integer,
    resolved_at timestamp with time zone,
    CONSTRAINT identsync_retry_queue_status_check CHECK ((status = ANY (ARRAY['queued'::text, 'dead'::text, 'recovered'::text, 'gone'::text])))
);

CREATE TABLE identsync_runs (
    pipeline text NOT NULL,
    run_id text NOT NULL,
    summary jsonb NOT NULL,
    recorded_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE identsync_staging (
    run_key text NOT NULL,
    chunk_no integer NOT NULL,
    rows jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE identsync_watermarks (
    pipeline text NOT NULL,
    value timestamp with time zone NOT NULL,
    run_id text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (1, '85a8d2093956428999dbc378d889b457', 1, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (2, 'a4b18cfe64cbe4d040de3d4c29362235', 2, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (3, '8fcb8ddd03f43fd10ca09a5f54a77698', 3, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (4, '03218892c25b7a26b6988d40b919eaa6', 4, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (5, 'cac5e981f9864ac4f6e95ac01f353dad', 5, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (6, 'd4e7a1e7f80a4d45d9dbe87a1f8bdb2e', 6, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (7, '85c09b71c593ed56665351071552d631', 7, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (8, 'a5abbbd3e1818bda5757c4b23e491d25', 8, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (9, 'eb5237042d3e48d0758b26c9c32a8ab5', 9, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (10, '1d3f5c02ea0021eedc86f03b61c17b3d', 10, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (11, '40c85d3e43a4ad034ae50c9c1096fbaa', 11, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (12, 'e6bf86f6a4fe5896094b996fd9d651c4', 12, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (13, '8d63df971912d628645e63e285d6ff3e', 13, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (14, '5f49bfa7614131f74e99aa8159e0ee19', 14, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (15, 'a77ed36a74a3794fc99e80f0a356acc9', 15, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (16, '6c536be00da2bc6ba795febec88b2bd1', 16, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (17, 'c17161ff59a5c1814a527041fefe2171', 17, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (18, 'dc88a21c0e8a5be393e77fe9a5c24ce2', 18, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (19, 'f9cf2818c7648a9b16a914d1890b692d', 19, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (20, '6585f9d66e8e8b76f80502bf192de2b1', 20, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (21, '2209008f82a93ff05e6b436bb681cccb', 21, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (22, '79168ecfd337587ad4e9a801b23ff2e8', 22, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (23, 'ced3eb6b2936d049778b2bc09fe60169', 23, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (24, '9aea6fbdc220d93c6e1303ea15e631e2', 24, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (25, 'dbe59f7556a894c93ee6879b667b9311', 25, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (26, 'f7f7337281969f13ffcdf6831e5b177b', 26, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (27, 'c60d1e26b5be5499b841c06002a90066', 27, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (28, '670e7989eaf73059a3bf334ce9723416', 28, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (29, '4f42ded6c9177f5d7b2316122f416cfc', 29, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (30, '133539ceb68f85e25adb31ff33d8bad9', 30, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (31, 'd45cd2262856edc5ef03ca304cac5b3d', 31, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (32, '2d2e61756f9fb59e0fae4407dcc8f8e9', 32, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (33, 'e9dab6fa021cc7ba6bacbd52ae68ae0c', 33, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (34, 'b8cfd68747198909f9316227352e5585', 34, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (35, 'f045014e745b359591d9f62f9e5b23a0', 35, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (36, 'fb83f0423091b20aedd59a2d9bd03579', 36, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (37, '6c0b2fd83fe415d4d7fe2197e42c9fb0', 37, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (38, '43d6d4be1544c96f002c0f7d67bfd195', 38, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (39, '067013671de63bbb7c2cf7901aa183d6', 39, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (40, '8f39f8b9a5d5546aae4bce61276c2096', 40, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (41, '4812e2f53bf2af0e7696207a3b4ca85a', 41, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (42, 'e45daafb95c21cfbf752e0e7a4150e8f', 42, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (43, '0641f32d3035d55336e92906d0285b43', 43, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (44, 'b419056282d2c27d0f1bf6f4aa639ec8', 44, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (45, '4f4ee76a45df9d2845959271d8f00d1e', 45, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (46, '37ae0817f94dac968d6243271a90874b', 46, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (47, 'a4b00b8b384c9de11ae83cc4a1ac5414', 47, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (48, '47c50d5bf9b4583443abe448a1fac081', 48, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (49, '3bd87eb632447ce8b14a15a7cf69d3fb', 49, '2026-12-06 06:41:19.474395+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.474395+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (50, 'c1f8d6d1a5bb16d6bc05640ca0f417ca', 50, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (51, '1dd83976622604d4cf2665095a48c339', 51, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (52, '66b72de138b41a7f04cf03b91215c8c9', 52, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (53, '6720dd9fed64c1ed171217698248c1a9', 53, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (54, 'af87f16725dbee501704358f63835d60', 54, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (55, 'e30eb5cf154b92cb40c01dd8521ff424', 55, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (56, '5f95755a5425bb6459c7fbec7581572a', 56, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (57, 'b9bbe4dd0e37e6a50e94212b16166f29', 57, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (58, '30a73b253f559776b406cb9d2c948e03', 58, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (59, 'bf3997e0b6ce010e3b9c4064c9fc8c79', 59, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (60, 'a5dbe771f609ceb6f73c57c63ce65207', 60, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (61, 'bb470be7cae19c59237c0d91fa5a5450', 61, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (62, '66f954adb032b67af647ba446ae00bbe', 62, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (63, 'cb0bd64275e5ba12e02641c57d771ad8', 63, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (64, '4beae83156c70853d561dea27bb7bb6c', 64, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (65, '24f9625aed605feb4965c9670cb3febe', 65, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (66, 'b1f3bca99f85f91bbf257a63ce8657eb', 66, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (67, '32276185675d885657cced5593835667', 67, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (68, 'ee3a030b6535f3a135ad4463e811c201', 68, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (69, '25abd4f2929d72a48c9582ebc2d745d7', 69, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (70, '78adaa7ae3f194f81c38ba66dabbb5fe', 70, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (71, '0bb33762df607d5d9ea903d3cfbf872b', 71, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (72, '253b72cca3958b8e6e7541812c6b6d1e', 72, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (73, 'c56c00490d21e20dd4d71cc3ea517d58', 73, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (74, '5654e416195f72da1786ecb4be3cde10', 74, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (75, '93e4c38c38821d5286acd5b847a0792c', 75, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (76, '0102776829d70233050914573e04eb66', 76, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (77, '1fe6b259ebd0f70f74ba690fba0f7124', 77, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (78, 'c139ff761183a44b379b0ac56d9fd3c5', 78, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (79, 'ac504d94ac184604bff8862bd3c5e0cc', 79, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (80, 'ea90e717bb63969a820b558b5310eb98', 80, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (81, '5cb5d16b471d7b0806f213b292433c9a', 81, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (82, 'f02c9ac1320b59479a0966d44cfae9d3', 82, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (83, '67b260203f9b1868dfb3133569836b70', 83, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (84, '229501adf773abea2edb9cb52deffddf', 84, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (85, '2f25badc665fc98528b5927b4ceee6c1', 85, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (86, '06e784a7e3dda1f5db73851d1b4ad6ff', 86, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (87, '3cfc47b4876aad3f2c3551ce391cd0ab', 87, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (88, 'a12862f64c911d0e8a63e4853bed950a', 88, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (89, 'f14b4d23abfc52b06fe050231de03685', 89, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (90, 'df8ad4e635a255a65a077ddfaa403232', 90, '2026-12-06 06:41:19.85094+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:19.85094+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (91, 'aa474437df58b40f154f397620e06587', 91, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (92, '84a55af30abfa43b9e91dd37b88395e6', 92, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (93, '2c09c66f2ac26bfcaf6a02bc2b8d40cd', 93, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (94, '569aa9222b71b295d2619453457d2301', 94, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (95, 'eaad56215d4c6d85ecb572264f1c3ea9', 95, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (96, '5ce8e80b2c9e149160916e3b293d53d9', 96, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (97, 'ffa5da6bd00d5a02ec13bd2a128ed07b', 97, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (98, 'c9f9421a84eb29fb4bf19847bf5c3b23', 98, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (99, '1eb444635578931e96396f63e542a5ca', 99, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (100, '0c6d75f96e8fdf2151a6e198a6a1c7f4', 100, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (101, 'b1d2050cf99a937265a0a28f1f81d082', 101, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (102, 'b28568f488e7961bd7601416f13a923f', 102, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (103, 'e1ade2df02bafa1196fc401d0e920dda', 103, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (104, '84663521f240ad0b51c908f86ef53806', 104, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (105, 'b35be2b9c224dc425745a1a20c61ad05', 105, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (106, 'ec28c96ba1d2ddb200be05a6d04eeb19', 106, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (107, 'e4100333fbafa7d87dc959362ad490ca', 107, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (108, '258442d8bb620baeaf6a9d4033f3054f', 108, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (109, '7472398d7c310cc59e70aee2d35e77ee', 109, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (110, 'ef177986aec604dceccd2776709ce501', 110, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (111, '6977c95f886f3d9bc5ccd1da2023db16', 111, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (112, 'a1f38be2d0d60ab44ad00cc4bff057c7', 112, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (113, '7338dfc185ee6fea02e66d61e93118e0', 113, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (114, '854257ca6452a38068d2393e93be27bb', 114, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (115, '250d2ef6656975514d146046d33ffe4c', 115, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (116, '88ad7028dc371136a02b3512a20468b4', 116, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (117, '32c5f829246ae3d3df9aa9613e312f4d', 117, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (118, '9be100bfdea08fcff4b0af311d772eda', 118, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (119, 'dc1874f38e55eea58087170cc07c4e45', 119, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (120, 'aeb93f010bdc0e2deb4eb8090280e4e2', 120, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (121, 'dd0cbc0f2a195033b965d6303e258f73', 121, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (122, '043854f6574e3748af8cc14097756291', 122, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (123, 'f014b413a7b23d711c38cb5605a5dd95', 123, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (124, 'd83fb0d513067f993849bffca41343a0', 124, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (125, 'dfe7f375dccdee7012dfb2ea7ac089ad', 125, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (126, 'b2ac96eec2d5294fec872b2a19d50541', 126, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (127, '48f66b662673e512d1f0f9b1d4ec05d5', 127, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (128, 'cf1df4cb66381ea9f151a9f0ab908406', 128, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (129, '5015962815139955158c03df25155bac', 129, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (130, '677a43faeafef7f6a92b138e96ef6597', 130, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (131, 'ab4387e8894373fbb13bd40653e93f65', 131, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (132, '26e5667c100eea0712bb9a8db067a771', 132, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (133, 'ab8477f0353322171b1af2e8b80fac07', 133, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (134, '4c18da634396a5a629037b0beb2110b6', 134, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (135, 'a4a8b36ea7a1dd96ab7d89ed55e562a3', 135, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (136, 'db912858d9e461d5c9a010c647537846', 136, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (137, '8bd1f16e032588e0555569d1cb0fd3b0', 137, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (138, 'aa3dbeb88fab1081beeb1215481d4dca', 138, '2026-12-06 06:41:20.594853+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.594853+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (139, '206f4b548720089fcce8c3704a76c69a', 139, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (140, '9d583c46d057104bd3691fe5363055d6', 140, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (141, 'eb8a456cd364db67d53fa7a2ec6f3d48', 141, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (142, 'f7b462178d840eec17dadca5261b7eb2', 142, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (143, 'd3874c2ff650bb87f23f8108bbbd174e', 143, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (144, '8bc63c43397fa1378f309ea62ecd7ba7', 144, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (145, '160c66b2ebd76c25b356aa2cfd584f01', 145, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (146, '79ca033203d13ce566887fa645c32adc', 146, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (147, '1b2820bd897226233c3da62062e779c5', 147, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (148, '379e9ba0b79d84f9675abda6d5aed254', 148, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (149, 'ce9e8d5b305b2c7cc28ce144cdd634e5', 149, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (150, 'f700faa0f6c96b066f0d81b562319680', 150, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (151, '226ece7b294a8f058167132f21e046bf', 151, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (152, '589a534221c45aecd328e6df4878c2f1', 152, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (153, '3d045efdb2d9c8a42c778f7cdf7640b5', 153, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (154, '496e7e8c9a14c93d3c82b46aa40d400c', 154, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (155, 'c372771fef282aea0bd2ad781fd2fa2c', 155, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (156, 'b52a6261739592749a2e6e0d14c35497', 156, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (157, '0a330be563c3b25e3d17f97247c53bb5', 157, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (158, '1a330f7b0d8698f679bde47542768bb7', 158, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');
INSERT INTO identsync_comment_ledger (deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, pending_after_comment_id, source, updated_at) VALUES (159, '3693ed3cf938ed2bbdd139d0a2218bf2', 159, '2026-12-06 06:41:20.880897+00', NULL, NULL, NULL, 'posted', '2026-12-06 06:41:20.880897+00');

INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_1', '10d81ea2eff2e5b67dc3b857c83ae6c682917673afd4ddf05813ffd988dfd1c6', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_10', '130f109776a5fc2660c4a3fde1e79b8feac2140bd6c98710cb16f7946153fe91', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_102', 'b9c31d39c34d03b123e276438c9a2fe64ac68f67b309988309e7cc0dfa763c03', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_105', '2034a81b2a089165f53a8a63f9351f24317f1cc50900727b1543bdb35a9dd625', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_11', '0e11f1bd04bdf1ffb677e6160d31398f2067dc8ac45862497d348b6233dc7025', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_114', 'bcbd4d628f8dd9bbcc9920c12f6572ad7b64d77aa5d0fb57629bf5538d2b31af', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_13', 'd56f0beb907bb68fcf14c3d490c5a9d6fceadf9fdef9cd12bdafadcc9f2bd949', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_133', '82de3188037030a68433d4ab80b4a03df6360471d3a8c975c17ad2e80126cede', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_135', 'd27122dc8ddd3908cd510fec6f7329581366fe9abcf701983bd9e6b390f40c4b', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_138', 'c5f5e416959c774b94beaababeb396099a6cbdcc78239cd97ebffe0042880a5e', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_139', 'd41521f8f8d20ef8e4fcfc02d79c732cc2146a691098739c62abe9bc0ceb7cc7', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_14', 'f30bd84eb57f9ddd10b32b3ccc40c3c6a92ae2e45c3aff20e166f316641009e4', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_144', '8d23d55307132ebf671a2e197e32094f91b9cbdd589112648be00371e00a9e80', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_146', 'c8f7bb193297c82fbffe42efe4a82e8f3377118dcfbb99f76ad9faaad4e922cf', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_149', 'c6efce1bd6258db18750cdcc981b37d763aa28e205e8b7ef847c7bd6c2dc42b1', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_15', 'cc9795bb3cb3d587b6954eefbc01daa6adc5dc287a85d8fc01592d014a109f72', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_158', '416723625f636f08b9907b79e7d772aa5509c470dfef9633f901db8f38e3b3d2', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_16', '0e844b7c5fe2fae6639f358d8af6c7fe74de2d1b61246224f8d1af7dc6e4b039', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_17', 'fc0481c51fdfa2bb5d8db25bc220ea27d3bbf06205dca0b6cb499abed0bf60f4', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_18', '19657b72b598975716f8f2db21221f10e2ad58defd06fae5e168baab35b3ef71', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_2', 'fdb6b17122e067316c875735cd08a1efc9036d204d0030742c20717d8d02d26e', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_20', '0ac8ea24b8521fb5ff25913d0fb5ee4dd2439c8fec0e070789e6c2344cc42853', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_22', 'a2ebc9d4416020713bde799412383293d6746f0e2a9c7f2fe56136c27528112d', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_23', 'dae17e07d02e76d78db12fcf0884547c5c982f8c25bfcd5459fa4601ddfd212c', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_25', 'f676373300fa398f6bc1960ed87c2aae2f99bb2b089db2faab353c8262f547e0', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_28', '1c8de4dbeb2d1232b0b9ac2f2b93141fdb8aaa405568e10657c8cdbac97b0f8f', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_29', '327f2d1f1ad2bd6c83b3d4e987da1d89d942182f5146ae40508f1b4bb499280d', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_3', 'bf6998c24d25a57f4914040c336a65fc290972244791c9bf3a50768b9a2ce850', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_30', 'febda48c9641970428e2f6fa43bfce9765f8a1a915743130cf4445882d00adbb', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_33', 'b3b3e4e64782a42a5c7e007411def943b251355cd8d30607b8d2299163c6d548', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_36', '352e0ef40964330488aa2d60a570ab1438c24c5f4c7f43c61d363682ecd446ac', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_4', '09baa0a3dc8546afa44e5ca7d41ec3acb21c7e72586bd04f0a238e06d01f1c5d', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_41', '5e6a1bfac8b036effe8af67c8e74a8fa65c0a5aa4d923fdf360063edb265e3ae', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_43', '033cee823d1ab18f2938c0766912d574e606798169e650f446125db21cee00fd', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_47', '262a22b698e36bde1eaba2c6a664da368fe1cfc3a1b2b5fffb083f9dcadc7df9', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_52', '36b902d24449bc45a8cd8ff1f3613d0d5016b4f7a9293c0b02c47b149a2adceb', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_58', '8e9fdf3b87171526922fa86a9d02696e62db71ccfa85f1a1d736ffe449b7315b', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_6', '089ae0bbe7fbfa8e19db32cbc525718e13aa77eeb7c70f5655ee338aaf7b32dd', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_69', '36e73a560703dff92d36166f93e9de25c7147d0fe0c0aeb42512db3f84c88932', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_7', 'aac17da122fb08600fd622f91cdc62fb7cba6302b519bb1be3f1b8cec67232d8', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_70', 'f7725db2210947d8f86af94ebdbbc743e3577722097905896b771d7ddf6ce868', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_77', 'c94f3eaf04e827da6c251216f36680bd7ff67debecf30ddcf1ba3f442f72b2b2', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_8', '125b93de24d623da4e30c77de311a87b2a7fd5f9c4a07d0db9542441304e1790', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_81', 'd227c910f8913b62e47b85589f5b51f59da1386cf7a3fab467be6cb716c8747f', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_9', '1ed8e187f5c1fab6e173e133bdedbc4c7c775e9ce0b28a634f07b398adee8c07', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_90', '0733374dd318770ac80942873fd1894076e87e9539f5a147ac8abea1cba9d1bf', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_91', '3b67d5a83b0112e7be455c3187c32fff3e6ee9b8ee14c0ad117761a54d799305', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_96', 'bc4fcb50ef38af6198cea2214188f860f30425d2055790cdc589e0da37a03a98', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_99', 'ae36710063a85eb6710a248092f545e103ec20dc58f423cd894d2b65655865df', '2026-12-06 06:41:19.541155+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_101', 'c6eb7832ff902a2204a926c1668b75984cdfaa78a96f19a63aaf5174ee35d886', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_104', 'c2ee816449d3f7a42f572581d6863e0ddfb6a96aa36d5aaadf1c36de6e31f0e3', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_107', '31d302ea3b7803ae115dc68780ddb3a5d95475464d4e1dfb6b0c7e6b3c7526cd', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_108', '3a76e6904da4d538541a74ef039d3cd5ae353fd166c1d39f21c8dabce75ee02d', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_110', '07acc46bbe369008ba55e9a373377b3061b6971eb71dde2000aad727bd3b6157', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_115', 'c585ec2e0e93c65219b6d4d7db7fb8a9986cf312e450ea88410c4e4896774b01', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_118', 'a1ad2a4bf1ec590e8cc5180da429792f96894c1efea240309e6caf3138f6da4f', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_119', 'f78f1f92a97bffde77687991301144bcf20dea34562ebb41447ac09ebfea8093', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_122', 'e31d0db5c5378e4c0bda725723266070926ec471dd7c38db7b15fb55c4f5dabb', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_123', '6a827d7e2721f64def31b2fd936d4512b41ba25e5d9c3d0bcc45792e71ea558c', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_127', '637622a78775f52fc490862f4f7e214454c569f7e1bab88094b5c3e0d65f2b46', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_128', '7a1026806ecdc8ac67e51779026647085365ac9d214b576a64b462e842ab532c', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_134', '818a62c7c9aec9be0f734965c40a93edf06b4080e89b5ad2dbcd1d94991e5345', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_136', '8047360e0cca622ec15af88d671c1c136aeaaa1cb450b4f030634019b15bfc65', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_143', '27cf9c3c9110bbdd8dd1e2e0c535b9e39008ec32a4527fdc22afeb197e6c4649', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_148', '0ec2ca991d0e8387a077fa1c6769b5d95aa9b3699b733abe338a56903ce0eae7', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_152', '73073fcfd1d895f54876f17c42e65c5766a6b87935fc1024a63a416eef3363ba', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_154', 'd93202bd166a124baea3d2858fe15fedab57421f8deba59d54b798cff15d89f6', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_159', 'd1ca9ecb5d46a9a581c216f020700e175371e00d258a7ef676555057bd3aea56', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_38', 'a7104c05b544730dd7393333eee30ade80ffc28164b9d94853deeedb06558235', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_39', 'eb377a5e7226c311206f2da3f86465a7399ce6421cbda8c128f83eea186ca393', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_42', '1c9bf9d900b6cb0594b3aa2215871057601a9c920fa9de76a76cfb161c43a030', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_44', 'e6fd7dfb886b76b3fdfa4b2658d2df953a5932178972252ec6b35e2005b06fc3', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_46', 'ea0ba7b956200dfdc1e967eb2af8d61740dbf84a10b36b0c87ac7765d3745abd', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_48', '26e8d045ddec7467f97d00aa25ae07679e22a957152413445e6566e2affd9d88', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_53', '9e3fe6a9d8f65cf3763aa5b0ce090e05a70aef152ae277c0d917d39c8115ae72', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_54', '4fde0b215e6a45416c02306f3da1536c677b8f77eec2e9eb096ee24071834aeb', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_56', 'bdc3f17ef552daeb01ec8642ee99deac9f834d2f18b3d71fadcbc0305ea55872', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_63', '561ca59532fcc6040301c545a2576c3822aa64a925cb8bf103647e68d27f4c9c', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_66', '27ff7802cc2db0b59c6040d2a92b698568998493d9e51a0694a1f73f73bf8899', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_68', 'cf00b0d56ebfd3161e5789fa9a60960db5f80c5b0b128dada6470ffabfc3f9d5', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_72', 'bd49cd1c35d8944fa243f916090555092907ae0445ea914918fcfeb588fe0f93', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_75', 'd6a057319e2fe62341a7c9eda2c217b230e7df149fcd6560ff172817ae01ad1e', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_80', 'ccb5af75ffca026463705a3c8ff0812545543f4d250d782c55159b6fa8f33808', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_83', 'd142e00c5e55fc0aa675329e734224753e239bbd6c0cfb7f01dd54c64494a777', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_86', 'bb3ab742402e1e7d36942cb236111ab39326d8bb45e377cd0dbb28b7e9d6f60f', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_88', 'c66127384162de9fab9144a0572028b873a1568bc393bb53562a27fd2ecdae92', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_89', '78bc975d362791cf94940edbf845369d4f7e8b8c8b404460cce6696ece1460ed', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_93', '1c5822d719a3bb271b39c6d9eac03b8b75e42fd82392dadf2a460278c5192aef', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_94', '5e8cd30cc08ff9bfc170133d768ccd87eb4ea61763db98c02871e8228780be4c', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_97', 'ee78e80a565c8a9ee8ce2f89137cd47249ed4cc5251275c45d0fc7ae80136982', '2026-12-06 06:41:19.891198+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_103', '7473bd7ab48e29948d05267bcf50ca988be4e931e7db4c4b4a2007a07e161ba4', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_106', '2047b36ad2a6611d77e6da5d4dba95c579b76654ca39398adfb9f15c5910f287', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_109', '198df45b20a16dfa6f586a6f9a6998e38a9692df61ec02ace27c5ccd403cce57', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_12', 'fbd5ff36eb604682d288557d413a3150c7237bf6c9b45abccce825bf9ed1483f', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_120', '370979fc7ab4837099bcd59745e6863456fe1c27887297622cbbb2c15fabc497', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_121', '49aef67d69607c6cd52e651c88045374389d5d262e5d5b5584ad0c95374bfabf', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_125', '2055156855b5623d5626ec10f55f343870e40baed2c456d4aec306cc0127cf6e', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_126', '96a923567d502f29fe2b93f97dedd9c31ce647fa7c54b91637d438c03ea2a160', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_130', 'f24f1a7339b8fdfdbb28797c399c2b534da6408f51b623415792411c99e95dbb', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_131', 'c1e10fd4b3ab770b4ce71cb3ddb70b3242903d582b1ad06e8497313db5b230f6', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_132', '2bea87424af7be98aec09b404a3b04fa993eddef2e4b4adcf87df890942fae77', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_140', '18cc19e969a7ca38a9eed13dfc361f0e20843bb177ff2bf84c6f4d954683cd9c', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_145', '6dfb0c09c3a4955c468b203c0d749ca41b4a5cb4092aa7b92ba0174792e84b2f', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_147', '2ce7ca930fb0d49703e8853a6a785631a935ab37dc72e4fce1b8decbed23c125', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_151', 'c597279d07c265bf457dedcba86312580dff1c5be2a625a3ce482d9ce97da75c', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_155', 'e0a34b542927711ea58374c13f1b3322b0f6fde4b0bd74e998ee544a62e62f94', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_157', '17495663aaf4637216d4b65026ff4153c35da1c5b98cf904a22f17ac38a3660b', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_160', 'ae348c1f84a65b4ee55ddbc8aba4f30871ce0d3b009b33e15b7214573365602e', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_19', '3ee18e90a123a4752598f9c744b637753c91101e34a40622c4b80ffef191c0d5', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_21', 'a63b3b437934a1b0ba1e975957b1c440927f3d2c1b04488616386df6bd51209a', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_24', 'e48256fd35772316f95b18777c1b757011d4e6939c5c52419de793d350aec935', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_26', 'fcb0ee8e23f6c62e08820f72eaa7573bdf725a3a387028ce620a2593fda9fd01', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_27', '6f2aba1a322ce8d9cbd139711ffdb1dd9f0e305c7de94083df055a9f4968a39b', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_31', 'ba18a5ebb67e1e6da5bf37851ea358e1b0c561cf60f4b2ae3be65518c1ea6015', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_32', '14134facc3cf10d9f59c9a9fd4fe848bb2adcf8be3d929d24fb5b759592ffe38', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_34', 'd5f103808fc92730ea64fe824392a72c32a7994792e94f3249d6431f8873a302', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_35', 'cb41b2fe4b798fb50f09156e07df500aed3f6fd2716694ff923698a65561369c', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_37', '39d54a073af6425f34ec2f58924aab482908ba92e30658d94bb1ec57b1773f6a', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_40', '0d88d7e4fece8138137dbe2dcaf7b3ce496b4c0638b59ee0c194d675f20c5b21', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_45', '3ada85a7423a4f03e27fdb74291fb9c28d559f0fb6d831449ba9610c47480375', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_49', 'b3fe3758ffdba688ce9fc96bd9b2278b433c136dd6afc5444c660bd29e0c923c', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_5', 'a6bc402e1a8502c069557900c13f1dac7196e0edb7a10d49fc0777b2078c7fa2', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_50', 'c03c5bcfa5404b42aede96cafdc4c1e1cf6dbd3fa498547b09a041ad880c75c6', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_51', '3e653ea49059e8df396c9663cb75f7bef95b0c2cea9c55416046410b8e55781f', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_55', 'd86daf83475670294d01842f18445edcd9f18a873abeefa4f5d780c99d72b80e', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_57', '8c66925e4668c22bbbbe8b06cdd9a6ee99fb8a2105aa6f06fba638437c452558', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_59', '3fc9a01b6d82578c88bbff55eeb73edef89e73adcdc219b64f3d3cf260a67fac', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_60', 'c9585fa2fa9eac416acfd55433b6cc712bc5e153f48fe6e00c4b403fa8eb526a', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_61', 'f6fca221e48fd2224ee7554d12f6e35b93e229c0117dcba0368809a1b540b70e', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_62', '7f3cbf7e7fadd12ad0f9124e9672a233d95f269c0e0ac04046b3e33bfb16d22b', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_64', '6b4c1da9a00b3d8d3cbeeb63dcb9e296356d1360951c938750ce5064dec73763', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_65', 'aa58ddf530f5b5a5a30b6a31ef373e0be4abe2a434b23c5e41811005f1af9f8b', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_67', '28117685f4c8a5f80b8b281b9187923d1cf2cf8239ad3f8db443e4f57ab19771', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_71', '3780a79da9450f0c814774754388266359262273b13586b8b697735d84efc3e7', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_73', '4eff97cee787d9e1fa84c66ebb8c62d7ed7363783376f5c2e970a5b3d6f8ccf0', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_76', 'c3291ddabb02c69c138610d035ffa68f9add2cd38bbccce54f15a9ce6df62bcb', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_92', '4adf6478e5dcc324159a52a46099e1b2427e8ccf71b79c2624d40fb5184a3d3b', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_98', '615041cb452d1ecf41525d5f801c855700a34d3756bac78d5ef5cdc63d4a1a14', '2026-12-06 06:41:20.633923+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_100', 'd3d7b0cb5b1419bf9d3468d7c7e9615e758e4d65ab3128d798d4bd3ca0434b78', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_111', '4625a0ebc96c4f14d190210144421af374a7274f2a6be06a4a2f1fe18abe844a', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_112', '51979dc7bf3a3bf2394fd5370ccc0bf8652b3f4f734b2df73efdf897c866af04', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_113', '3a361e5ffe572a422e67d86b042ab251f448907adbed65ee42eea8847149b33f', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_117', '7f92da825ac00d8da6536a9db841a4bcb66e3e31eba71f3b16c3bd617acb4b5e', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_124', 'c8660d929e8b1cb5f3dc8d7be888db0106f21ba8bb2e31b0ca9f3421bedf1381', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_129', '5a42709c26c40e374d30ba6f552677ed09209b402d1d3b41328d8accb0243e68', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_137', 'a318e82e0a6fc4b69c6105eb6c638077465c7b14137d287bae413caa1463e5b0', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_141', 'd75d24249b23e91bc365f0e835b402edca585c2c8c76ed390b17bc875b91a84e', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_142', 'd9b032e06078127dfe9d7587caa382c64a55649eaf8bfaea17fc0ee6b78c666a', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_150', '5d3c63d9612696d3d3190849ded19c91df46cce93a1ae7bdf0112ddcc017d1e2', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_153', '366bea7a455c54e25c2018dca1baba2b2e0da842664988c9d7b961a40cf74b23', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_156', 'c60fb063fe8b7776f1f3900e85a464f098e5e00224e35d7f57819bd95f3954c0', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_74', '01363560839b2a8daaf185640731df5521187cb4c8260c8952f6b605c5eb713b', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_78', '77ae3cbf5ad8b27b22593c212b4217d9fff1e44021891ed79d4a49f411bc8d8c', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_79', '2b4ac025439f41b9d3c2091173103342a4d9cb55ee473e3ffa4f6274cddebc31', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_82', '9204a2bf196c2bba91dc21ea6a3bd2c51686c124f852d07bf7a4fd612bfb83c2', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_84', 'fb39448cc211ad5012f5ab5a283c50a42b47064b936014aaa5b24f2f1fb1e3f8', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_85', '61341e2066fce582a0c135273036aedae36421125342e9ce8faf4bdd55dc77a0', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_87', '85b8fbee05a413c69dd6bddafbb5ed0f455e2f16087d4bbf00fce4e1d91cf392', '2026-12-06 06:41:20.931597+00');
INSERT INTO identsync_fingerprints (pipeline, ident_id, fingerprint, written_at) VALUES ('ident_to_bitrix24_branch_2', 'F2_95', 'f1fce755c66b64b84aa3aefd14fb21f05ea8088decc77d3dbf4c0ef2acb925ba', '2026-12-06 06:41:20.931597+00');

INSERT INTO identsync_full_checks (pipeline, checked_at) VALUES ('ident_to_bitrix24_branch_1', '2026-12-06 06:41:18.986742+00');
INSERT INTO identsync_full_checks (pipeline, checked_at) VALUES ('ident_to_bitrix24_branch_2', '2026-12-06 06:41:20.018622+00');

INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+74953725723', 52, '2026-12-06 06:41:20.79839+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79139474330', 53, '2026-12-06 06:41:20.79839+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79248880799', 5, '2026-12-06 06:41:19.34753+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79158602707', 54, '2026-12-06 06:41:20.79839+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79209056492', 55, '2026-12-06 06:41:20.79839+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79661917411', 12, '2026-12-06 06:41:19.34753+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79303307644', 56, '2026-12-06 06:41:20.79839+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79758534763', 14, '2026-12-06 06:41:19.34753+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79456744099', 57, '2026-12-06 06:41:20.79839+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79464726930', 58, '2026-12-06 06:41:20.79839+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79637391395', 59, '2026-12-06 06:41:20.79839+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79641602804', 60, '2026-12-06 06:41:20.79839+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79643559934', 61, '2026-12-06 06:41:20.79839+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79657333102', 62, '2026-12-06 06:41:20.79839+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79782936093', 63, '2026-12-06 06:41:20.79839+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79541619063', 27, '2026-12-06 06:41:19.729386+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79809058827', 64, '2026-12-06 06:41:20.79839+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79625700093', 29, '2026-12-06 06:41:19.729386+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79697122082', 30, '2026-12-06 06:41:19.729386+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79853625049', 31, '2026-12-06 06:41:19.729386+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79813872151', 65, '2026-12-06 06:41:20.79839+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79910225924', 33, '2026-12-06 06:41:19.729386+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79971491762', 34, '2026-12-06 06:41:19.729386+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+74952478073', 35, '2026-12-06 06:41:20.381861+00', '2026-12-06 05:41:21.121482+00');
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+74992141310', 36, '2026-12-06 06:41:20.381861+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+78120735995', 37, '2026-12-06 06:41:20.381861+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79085028916', 38, '2026-12-06 06:41:20.381861+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79145993502', 39, '2026-12-06 06:41:20.381861+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79212448650', 40, '2026-12-06 06:41:20.381861+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79269780736', 41, '2026-12-06 06:41:20.381861+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79284645425', 42, '2026-12-06 06:41:20.381861+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79399079320', 43, '2026-12-06 06:41:20.381861+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79524240381', 44, '2026-12-06 06:41:20.381861+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79552721333', 45, '2026-12-06 06:41:20.381861+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79553592721', 46, '2026-12-06 06:41:20.381861+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79732537132', 47, '2026-12-06 06:41:20.381861+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79804290029', 48, '2026-12-06 06:41:20.381861+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79881689816', 49, '2026-12-06 06:41:20.381861+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79885214775', 50, '2026-12-06 06:41:20.381861+00', NULL);
INSERT INTO identsync_phone_writes (phone, seq, written_at, writing_since) VALUES ('+79975911879', 51, '2026-12-06 06:41:20.381861+00', NULL);

INSERT INTO identsync_rejections (pipeline, record_key, ident_id, reception_id, reason, detail, source, run_id, first_seen, last_seen, times_seen, resolved_at) VALUES ('ident_to_bitrix24_branch_1', 'unknown:missing_branch:reception row without ID and branch: patient ''Иванова'' phone +79161234567', NULL, NULL, 'missing_branch', 'reception row without ID and branch: patient ''Иванова'' phone +79161234567', NULL, 'scheduled__2026-11-21T09:00:00+00:00', '2026-12-06 06:41:21.062414+00', '2026-12-06 06:41:21.062414+00', 1, NULL);

INSERT INTO identsync_retry_queue (pipeline, ident_id, reception_id, step, code, description, attempts, status, first_failed_at, last_failed_at, next_attempt_at, run_id, task_id, map_index, resolved_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_1', 1, 'deal', 'ERROR_CORE', 'Internal error (deal update)', 1, 'queued', '2026-12-06 06:41:21.083037+00', '2026-12-06 06:41:21.083037+00', '2026-12-06 06:40:21.121482+00', 'scheduled__2026-11-21T09:00:00+00:00', NULL, NULL, NULL);
INSERT INTO identsync_retry_queue (pipeline, ident_id, reception_id, step, code, description, attempts, status, first_failed_at, last_failed_at, next_attempt_at, run_id, task_id, map_index, resolved_at) VALUES ('ident_to_bitrix24_branch_1', 'F1_10', 10, 'contact', 'ERROR_CORE', 'contact refused', 1, 'dead', '2026-12-06 06:41:21.102314+00', '2026-12-06 06:41:21.102314+00', '2026-12-06 06:40:21.121482+00', 'scheduled__2026-11-21T09:00:00+00:00', NULL, NULL, NULL);

INSERT INTO identsync_runs (pipeline, run_id, summary, recorded_at, updated_at) VALUES ('ident_to_bitrix24_branch_1', 'engine__2026-12-06T06:41:18.986748+00:00', '{"http": {"retries": 0, "commands": 232, "limit_waits": 0, "wait_seconds": 0.0, "http_requests": 8}, "notes": [], "counts": {"chunks": 2, "records": 90, "rejected": 0, "extracted": 90, "queue_dead": 0, "deals_failed": 0, "queue_queued": 0, "deals_created": 90, "deals_updated": 0, "queue_retried": 0, "comments_failed": 0, "comments_posted": 90, "contacts_failed": 0, "deals_protected": 0, "deals_unchanged": 0, "queue_recovered": 0, "comments_skipped": 0, "contacts_created": 44, "contacts_updated": 0, "deals_kept_closed": 0, "unchanged_skipped": 0, "contacts_unchanged": 0, "comments_reconciled": 0, "comments_would_post": 0}, "dag_id": "ident_to_bitrix24_branch_1", "errors": [], "run_id": "engine__2026-12-06T06:41:18.986748+00:00", "window": {"end": "2026-12-31T21:00:00+00:00", "start": "2026-10-31T21:00:00+00:00", "source": "params"}, "dry_run": false, "elapsed_s": 0.9, "full_check": true, "rejections": [], "watermark_moved": true, "rejected_by_reason": {}}', '2026-12-06 06:41:19.966391+00', '2026-12-06 06:41:19.966391+00');
INSERT INTO identsync_runs (pipeline, run_id, summary, recorded_at, updated_at) VALUES ('ident_to_bitrix24_branch_2', 'engine__2026-12-06T06:41:20.018628+00:00', '{"http": {"retries": 0, "commands": 158, "limit_waits": 0, "wait_seconds": 0.0, "http_requests": 7}, "notes": [], "counts": {"chunks": 2, "records": 69, "rejected": 0, "extracted": 69, "queue_dead": 0, "deals_failed": 0, "queue_queued": 0, "deals_created": 69, "deals_updated": 0, "queue_retried": 0, "comments_failed": 0, "comments_posted": 69, "contacts_failed": 0, "deals_protected": 0, "deals_unchanged": 0, "queue_recovered": 0, "comments_skipped": 0, "contacts_created": 12, "contacts_updated": 0, "deals_kept_closed": 0, "unchanged_skipped": 0, "contacts_unchanged": 27, "comments_reconciled": 0, "comments_would_post": 0}, "dag_id": "ident_to_bitrix24_branch_2", "errors": [], "run_id": "engine__2026-12-06T06:41:20.018628+00:00", "window": {"end": "2026-12-31T21:00:00+00:00", "start": "2026-10-31T21:00:00+00:00", "source": "params"}, "dry_run": false, "elapsed_s": 0.9, "full_check": true, "rejections": [], "watermark_moved": true, "rejected_by_reason": {}}', '2026-12-06 06:41:21.019159+00', '2026-12-06 06:41:21.019159+00');

INSERT INTO identsync_watermarks (pipeline, value, run_id, updated_at) VALUES ('ident_to_bitrix24_branch_1', '2026-12-31 21:00:00+00', 'engine__2026-12-06T06:41:18.986748+00:00', '2026-12-06 06:41:19.926619+00');
INSERT INTO identsync_watermarks (pipeline, value, run_id, updated_at) VALUES ('ident_to_bitrix24_branch_2', '2026-12-31 21:00:00+00', 'engine__2026-12-06T06:41:20.018628+00:00', '2026-12-06 06:41:20.974368+00');

SELECT pg_catalog.setval('identsync_phone_write_seq', 65, true);

ALTER TABLE ONLY identsync_backfill_blocks
    ADD CONSTRAINT identsync_backfill_blocks_pkey PRIMARY KEY (pipeline, block_start, clear_number);

ALTER TABLE ONLY identsync_comment_ledger
    ADD CONSTRAINT identsync_comment_ledger_pkey PRIMARY KEY (deal_id);

ALTER TABLE ONLY identsync_fingerprints
    ADD CONSTRAINT identsync_fingerprints_pkey PRIMARY KEY (pipeline, ident_id);

ALTER TABLE ONLY identsync_full_checks
    ADD CONSTRAINT identsync_full_checks_pkey PRIMARY KEY (pipeline);

ALTER TABLE ONLY identsync_phone_writes
    ADD CONSTRAINT identsync_phone_writes_pkey PRIMARY KEY (phone);

ALTER TABLE ONLY identsync_rate_limits
    ADD CONSTRAINT identsync_rate_limits_pkey PRIMARY KEY (portal);

ALTER TABLE ONLY identsync_rejections
    ADD CONSTRAINT identsync_rejections_pkey PRIMARY KEY (pipeline, record_key);

ALTER TABLE ONLY identsync_retry_queue
    ADD CONSTRAINT identsync_retry_queue_pkey PRIMARY KEY (pipeline, ident_id);

ALTER TABLE ONLY identsync_runs
    ADD CONSTRAINT identsync_runs_pkey PRIMARY KEY (pipeline, run_id);

ALTER TABLE ONLY identsync_staging
    ADD CONSTRAINT identsync_staging_pkey PRIMARY KEY (run_key, chunk_no);

ALTER TABLE ONLY identsync_watermarks
    ADD CONSTRAINT identsync_watermarks_pkey PRIMARY KEY (pipeline);

CREATE INDEX identsync_comment_ledger_pending_idx ON identsync_comment_ledger USING btree (pending_since) WHERE (pending_hash IS NOT NULL);

CREATE INDEX identsync_rejections_open_idx ON identsync_rejections USING btree (pipeline, last_seen) WHERE (resolved_at IS NULL);

CREATE INDEX identsync_retry_queue_due_idx ON identsync_retry_queue USING btree (pipeline, next_attempt_at) WHERE (status = 'queued'::text);

CREATE INDEX identsync_staging_created_idx ON identsync_staging USING btree (created_at);

