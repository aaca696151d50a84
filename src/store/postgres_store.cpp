#include "store/postgres_store.hpp"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "protocol/errc.hpp"
#include "store/pg_rows.hpp"

namespace parley::store {

namespace {

using pg::column;
using pg::int_column;
using pg::Params;
using pg::Result;
using pg::sqlstate;
using pg::trimmed;
using protocol::errc;
using Clock = std::chrono::steady_clock;

// Schema versions, applied in order; schema_version records each one applied. Never edit one that
// has shipped: add the next.
constexpr const char* migrations[] = {
    R"sql(
    CREATE TABLE rooms (
      id text PRIMARY KEY,
      created_at bigint NOT NULL,
      created_by text NOT NULL
    );
    CREATE TABLE messages (
      room text NOT NULL,
      seq bigint NOT NULL,
      sender text NOT NULL,
      text text NOT NULL,
      ts bigint NOT NULL,
      cid text NOT NULL,
      PRIMARY KEY (room, seq)
    );
    )sql",
    // 2: accounts and sign-in sessions. A deleted user keeps its row (messages refer to its id)
    // with name_key NULL, so that its name is free again (NULLs are never equal in a UNIQUE).
    R"sql(
    CREATE TABLE users (
      id text PRIMARY KEY,
      name text NOT NULL,
      name_key text CONSTRAINT users_name_key_unique UNIQUE,
      password_hash text NOT NULL,
      created_at bigint NOT NULL,
      deleted boolean NOT NULL DEFAULT false
    );
    CREATE TABLE sessions (
      token_digest text PRIMARY KEY,
      user_id text NOT NULL REFERENCES users(id),
      created_at bigint NOT NULL,
      last_seen_at bigint NOT NULL,
      expires_at bigint NOT NULL,
      label text NOT NULL
    );
    CREATE INDEX sessions_user_id ON sessions(user_id);
    CREATE INDEX sessions_expires_at ON sessions(expires_at);
    )sql",
    // 3: room access: private rooms (a password hash, or none: by invitation), members with
    // roles, bans.
    R"sql(
    ALTER TABLE rooms ADD COLUMN kind text NOT NULL DEFAULT 'public';
    ALTER TABLE rooms ADD COLUMN password_hash text NOT NULL DEFAULT '';
    ALTER TABLE rooms ADD COLUMN peers text NOT NULL DEFAULT '';
    CREATE TABLE room_members (
      room text NOT NULL,
      user_id text NOT NULL,
      role text NOT NULL,
      since bigint NOT NULL,
      PRIMARY KEY (room, user_id)
    );
    CREATE TABLE room_bans (
      room text NOT NULL,
      user_id text NOT NULL,
      since bigint NOT NULL,
      PRIMARY KEY (room, user_id)
    );
    )sql",
    // 4: a message's sender id beside its name. Messages stored before have '' (the wire then
    // sends no "uid" for them). A constant default: no table rewrite.
    R"sql(
    ALTER TABLE messages ADD COLUMN sender_id text NOT NULL DEFAULT '';
    )sql",
    // 5: room titles and topics (update_room): what members see of a room beside its id.
    // Constant defaults: no table rewrite.
    R"sql(
    ALTER TABLE rooms ADD COLUMN title text NOT NULL DEFAULT '';
    ALTER TABLE rooms ADD COLUMN topic text NOT NULL DEFAULT '';
    )sql",
    // 6: API keys of the server API: the digest of each key's secret, never the secret; a
    // revoked key keeps its row (revoked_at > 0), so that its id is not given out again.
    R"sql(
    CREATE TABLE api_keys (
      id text PRIMARY KEY,
      secret_digest text NOT NULL,
      name text NOT NULL,
      scopes text NOT NULL,
      created_at bigint NOT NULL,
      revoked_at bigint NOT NULL DEFAULT 0,
      last_used_at bigint NOT NULL DEFAULT 0
    );
    )sql",
    // 7: edits and deletes (docs/protocol.md, "edit and delete"): an entry of the sequence that
    // changes an earlier message (kind 1: edit, 2: delete; target: its seq), and on the message
    // its current state: the time of its latest edit, and whether it is deleted (its text then
    // ''). The index finds a message's edits, whose texts a delete removes too. Constant
    // defaults: no table rewrite.
    R"sql(
    ALTER TABLE messages ADD COLUMN kind smallint NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN target bigint NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN edited bigint NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN deleted boolean NOT NULL DEFAULT false;
    CREATE INDEX messages_target ON messages(room, target) WHERE target > 0;
    )sql",
    // 8: read state (docs/protocol.md, "Read state"): each account's last-read seq per room,
    // raised only. The index finds a room's marks ("seen by") and those a room's deletion drops.
    R"sql(
    CREATE TABLE read_marks (
      user_id text NOT NULL,
      room text NOT NULL,
      seq bigint NOT NULL,
      PRIMARY KEY (user_id, room)
    );
    CREATE INDEX read_marks_room ON read_marks(room, seq);
    )sql",
    // 9: reactions (docs/protocol.md, "reactions"): a message's reactions now, one row per
    // (message, emoji, user), made and removed by the react and unreact entries of the sequence
    // (kinds 3 and 4, the emoji as their text) as they are stored, and by a delete. `made_seq`: the
    // seq of the react that made it (their order). A reply is a message whose target is the seq
    // it answers (no column of its own).
    R"sql(
    CREATE TABLE reactions (
      room text NOT NULL,
      seq bigint NOT NULL,
      emoji text NOT NULL,
      user_key text NOT NULL,
      sender text NOT NULL,
      sender_id text NOT NULL,
      made_seq bigint NOT NULL,
      PRIMARY KEY (room, seq, emoji, user_key)
    );
    )sql",
    // 10: search, once a tsvector column of messages the database computed in every commit, and
    // its GIN index. It is kept out of the commits now (13).
    R"sql(
    SELECT 1;
    )sql",
    // 11: files (docs/api.md, "Files"), as in SQLite's migration 11.
    R"sql(
    ALTER TABLE messages ADD COLUMN files text NOT NULL DEFAULT '';
    CREATE TABLE files (
      id text PRIMARY KEY,
      room text NOT NULL,
      uploader text NOT NULL,
      name text NOT NULL,
      type text NOT NULL,
      size bigint NOT NULL,
      width bigint NOT NULL,
      height bigint NOT NULL,
      thumb boolean NOT NULL,
      claim text NOT NULL DEFAULT '',
      created_at bigint NOT NULL
    );
    CREATE INDEX files_room ON files(room, uploader, claim);
    CREATE INDEX files_uploader ON files(uploader);
    CREATE INDEX files_unattached ON files(created_at) WHERE claim = '';
    CREATE TABLE file_trash (id text PRIMARY KEY);
    )sql",
    // 12: a taken file is attached when its message is stored; as in SQLite's migration 12.
    R"sql(
    ALTER TABLE files ADD COLUMN claimed_at bigint NOT NULL DEFAULT 0;
    ALTER TABLE files ADD COLUMN attached boolean NOT NULL DEFAULT false;
    UPDATE files SET attached = true WHERE claim <> '';
    CREATE INDEX files_unsent ON files(claimed_at) WHERE claim <> '' AND NOT attached;
    CREATE FUNCTION parley_attach_files() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE files SET attached = true WHERE room = NEW.room AND uploader = NEW.sender_id AND claim = NEW.cid;
      RETURN NULL;
    END $$;
    CREATE TRIGGER messages_files_attach AFTER INSERT ON messages FOR EACH ROW WHEN (NEW.files <> '')
      EXECUTE FUNCTION parley_attach_files();
    )sql",
    // 13: search (docs/protocol.md, "search") out of the commits: each message's words in a table
    // of their own, written by the nodes' searchers (searcher.hpp) after the commits, as SQLite's
    // index is (sqlite_search_index.hpp): `search_marks` holds each room's last seq read (and its
    // creation time then: a room deleted and made again starts over), and catching a room up reads
    // the entries past it, a message by its text now, an edit's or a delete's target brought to
    // its state now. Any node catches up any room (a search catches up its rooms first); the mark's
    // row lock makes them take turns, and every node locks rooms in the same order.
    // Words under the 'simple' configuration (no language: lowercased, never stemmed), punctuation
    // made a space first, so that words are split where core::search_terms and SQLite split them
    // ("1.5" is "1" and "5", an address its parts).
    R"sql(
    DROP INDEX IF EXISTS messages_search;
    ALTER TABLE messages DROP COLUMN IF EXISTS search;
    CREATE TABLE search_docs (
      room text NOT NULL,
      seq bigint NOT NULL,
      ts bigint NOT NULL,
      words tsvector NOT NULL,
      PRIMARY KEY (room, seq)
    );
    CREATE INDEX search_docs_words ON search_docs USING gin (words);
    CREATE TABLE search_marks (
      room text PRIMARY KEY,
      created_at bigint NOT NULL,
      seq bigint NOT NULL
    );
    CREATE FUNCTION parley_search_words(t text) RETURNS tsvector LANGUAGE sql IMMUTABLE AS $$
      SELECT to_tsvector('simple'::regconfig, regexp_replace(t, '[[:punct:][:space:][:cntrl:]]+', ' ', 'g'))
    $$;
    -- Reads about `budget` entries of `wanted` past their marks into search_docs; returns a row
    -- for each room with entries left (indexed NULL), then one with the entries read (left_room
    -- NULL).
    CREATE FUNCTION parley_search_catch_up(wanted text[], budget bigint)
      RETURNS TABLE (left_room text, indexed bigint) LANGUAGE plpgsql AS $$
    DECLARE
      v_read bigint := 0;
      v_room text;
      v_mark bigint;
      v_marked_created bigint;
      v_created bigint;
      v_last bigint;
      v_upto bigint;
    BEGIN
      FOR v_room IN
        SELECT q.room FROM unnest(wanted) AS q(room) LEFT JOIN search_marks s ON s.room = q.room
        WHERE s.seq IS DISTINCT FROM (SELECT MAX(m.seq) FROM messages m WHERE m.room = q.room)
           OR (s.room IS NOT NULL AND s.created_at <> COALESCE((SELECT o.created_at FROM rooms o WHERE o.id = q.room), 0))
        GROUP BY q.room ORDER BY q.room COLLATE "C"
      LOOP
        IF budget <= 0 THEN
          left_room := v_room;
          RETURN NEXT;
          CONTINUE;
        END IF;
        INSERT INTO search_marks(room, created_at, seq) VALUES (v_room, 0, 0) ON CONFLICT DO NOTHING;
        SELECT s.seq, s.created_at INTO v_mark, v_marked_created FROM search_marks s WHERE s.room = v_room FOR UPDATE;
        v_created := COALESCE((SELECT o.created_at FROM rooms o WHERE o.id = v_room), 0);
        v_last := COALESCE((SELECT MAX(m.seq) FROM messages m WHERE m.room = v_room), 0);
        IF v_marked_created <> v_created OR v_last < v_mark THEN
          DELETE FROM search_docs d WHERE d.room = v_room;
          v_mark := 0;
        END IF;
        IF v_last = 0 THEN
          DELETE FROM search_marks s WHERE s.room = v_room;
          CONTINUE;
        END IF;
        v_upto := COALESCE((SELECT m.seq FROM messages m WHERE m.room = v_room AND m.seq > v_mark
                            ORDER BY m.seq OFFSET budget - 1 LIMIT 1), v_last);
        INSERT INTO search_docs(room, seq, ts, words)
          SELECT m.room, m.seq, m.ts, parley_search_words(m.text) FROM messages m
          WHERE m.room = v_room AND m.seq > v_mark AND m.seq <= v_upto AND m.kind = 0 AND NOT m.deleted
          ON CONFLICT (room, seq) DO UPDATE SET words = EXCLUDED.words;
        DELETE FROM search_docs d USING messages e
          WHERE e.room = v_room AND e.seq > v_mark AND e.seq <= v_upto AND e.kind IN (1, 2)
            AND d.room = v_room AND d.seq = e.target;
        INSERT INTO search_docs(room, seq, ts, words)
          SELECT t.room, t.seq, t.ts, parley_search_words(t.text) FROM messages t
          WHERE t.room = v_room AND t.kind = 0 AND NOT t.deleted AND t.seq IN
            (SELECT e.target FROM messages e WHERE e.room = v_room AND e.seq > v_mark AND e.seq <= v_upto AND e.kind = 1)
          ON CONFLICT (room, seq) DO UPDATE SET words = EXCLUDED.words;
        UPDATE search_marks s SET seq = v_upto, created_at = v_created WHERE s.room = v_room;
        budget := budget - (v_upto - v_mark);
        v_read := v_read + (v_upto - v_mark);
        IF v_upto < v_last THEN
          left_room := v_room;
          RETURN NEXT;
        END IF;
      END LOOP;
      left_room := NULL;
      indexed := v_read;
      RETURN NEXT;
    END $$;
    )sql",
    // 14: a batch's edits, deletes, reacts and unreacts in one call (each one statement, and a
    // round trip, before: with a quarter of the entries changes, bench/mix.sh had the store 70%
    // slower). In (room, seq) order, as given: each entry stored, and applied to its target only
    // if it was stored now (an older edit never overwrites a newer one, a retry changes nothing
    // twice); returns the (1-based) places of those stored already, which the store compares
    // with what it sends (check_stored). The statements are those each one ran.
    R"sql(
    CREATE FUNCTION parley_apply_changes(p_rooms text[], p_seqs bigint[], p_senders text[], p_texts text[],
        p_tss bigint[], p_cids text[], p_sender_ids text[], p_kinds bigint[], p_targets bigint[], p_files text[],
        p_user_keys text[])
      RETURNS SETOF integer LANGUAGE plpgsql AS $$
    DECLARE
      v_stored bigint;
    BEGIN
      FOR i IN 1 .. COALESCE(array_length(p_rooms, 1), 0) LOOP
        INSERT INTO messages(room, seq, sender, text, ts, cid, sender_id, kind, target, files)
          VALUES (p_rooms[i], p_seqs[i], p_senders[i], p_texts[i], p_tss[i], p_cids[i], p_sender_ids[i], p_kinds[i],
                  p_targets[i], p_files[i])
          ON CONFLICT (room, seq) DO NOTHING;
        GET DIAGNOSTICS v_stored = ROW_COUNT;
        IF v_stored = 0 THEN
          RETURN NEXT i;
          CONTINUE;
        END IF;
        IF p_kinds[i] = 1 THEN
          UPDATE messages SET text = p_texts[i], edited = p_tss[i]
            WHERE room = p_rooms[i] AND seq = p_targets[i] AND kind = 0 AND NOT deleted;
        ELSIF p_kinds[i] = 3 THEN
          INSERT INTO reactions(room, seq, emoji, user_key, sender, sender_id, made_seq)
            SELECT p_rooms[i], p_targets[i], p_texts[i], p_user_keys[i], p_senders[i], p_sender_ids[i], p_seqs[i]
            WHERE EXISTS (SELECT 1 FROM messages m WHERE m.room = p_rooms[i] AND m.seq = p_targets[i] AND m.kind = 0
                          AND NOT m.deleted)
            ON CONFLICT DO NOTHING;
        ELSIF p_kinds[i] = 4 THEN
          DELETE FROM reactions
            WHERE room = p_rooms[i] AND seq = p_targets[i] AND emoji = p_texts[i] AND user_key = p_user_keys[i];
        ELSIF p_kinds[i] = 2 THEN
          -- Its files go (before the row loses them): to the trash, whose bytes the node removes.
          WITH gone AS (
            DELETE FROM files f WHERE f.room = p_rooms[i] AND f.claim <> '' AND (f.uploader, f.claim) IN
              (SELECT m.sender_id, m.cid FROM messages m WHERE m.room = p_rooms[i] AND m.seq = p_targets[i] AND m.kind = 0)
            RETURNING f.id)
          INSERT INTO file_trash(id) SELECT id FROM gone ON CONFLICT DO NOTHING;
          UPDATE messages SET text = '', files = '', deleted = true
            WHERE room = p_rooms[i] AND seq = p_targets[i] AND kind = 0;
          DELETE FROM reactions WHERE room = p_rooms[i] AND seq = p_targets[i];
          UPDATE messages SET text = ''
            WHERE room = p_rooms[i] AND target = p_targets[i] AND kind = 1 AND target > 0;
        END IF;
      END LOOP;
    END $$;
    )sql",
    // 15: accents folded in search, as SQLite's index folds them ("deploiement" finds
    // "déploiement"), by the unaccent extension (PostgreSQL's contrib; trusted: a database owner
    // may create it). Where it cannot be created the texts stay as typed, with a warning in the
    // server's log. Texts and terms go through the same parley_search_text (folded, punctuation a
    // space); the query is made from the terms in SQL (parley_search_query: each quoted, the last
    // a prefix) since folding may yield punctuation ("ŉ" is "'n"). The index is read again.
    R"sql(
    DO $$
    DECLARE
      v_schema text;
    BEGIN
      BEGIN
        CREATE EXTENSION IF NOT EXISTS unaccent;
      EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'parley: no unaccent extension (%): search compares accents as typed', SQLERRM;
      END;
      SELECT n.nspname INTO v_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'unaccent';
      IF v_schema IS NULL THEN
        CREATE OR REPLACE FUNCTION parley_search_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT t';
      ELSE
        EXECUTE format('CREATE OR REPLACE FUNCTION parley_search_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE AS '
                       '%L', format('SELECT %I.unaccent(%L::regdictionary, t)', v_schema,
                                    quote_ident(v_schema) || '.unaccent'));
      END IF;
    END $$;
    CREATE OR REPLACE FUNCTION parley_search_text(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
      SELECT regexp_replace(parley_search_fold(t), '[[:punct:][:space:][:cntrl:]]+', ' ', 'g')
    $$;
    CREATE OR REPLACE FUNCTION parley_search_words(t text) RETURNS tsvector LANGUAGE sql IMMUTABLE AS $$
      SELECT to_tsvector('simple'::regconfig, parley_search_text(t))
    $$;
    CREATE OR REPLACE FUNCTION parley_search_query(terms text[]) RETURNS tsquery LANGUAGE sql IMMUTABLE AS $$
      SELECT to_tsquery('simple', COALESCE(string_agg(
               chr(39) || w || chr(39) || CASE WHEN i = cardinality(terms) THEN ':*' ELSE '' END, ' & ' ORDER BY i), ''))
      FROM (SELECT i, btrim(parley_search_text(t)) AS w
            FROM unnest(terms) WITH ORDINALITY AS u(t, i)) x
      WHERE w <> ''
    $$;
    TRUNCATE search_docs, search_marks;
    )sql",
    // 16: parley_apply_changes set-based: a statement for each kind of change in the batch, not
    // for each change (with a quarter of the entries changes, pg_stat_statements over a mix run
    // had the function 4.9 s of the backend's time: 1.6 s of it PL/pgSQL running the loop, and
    // 8.1 µs for each change's own INSERT against 4.5 µs for a message's in a multi-row one).
    // The same state as applying each in turn: only those stored now are applied; a message's
    // latest edit of the batch wins (where not deleted); per user and emoji the reactions after
    // its last unreact of the batch count, the first of them making the row (made_seq); deletes
    // go last, for good, taking the message's files, reactions and edits' texts, also those an
    // earlier entry of the batch made.
    R"sql(
    CREATE OR REPLACE FUNCTION parley_apply_changes(p_rooms text[], p_seqs bigint[], p_senders text[], p_texts text[],
        p_tss bigint[], p_cids text[], p_sender_ids text[], p_kinds bigint[], p_targets bigint[], p_files text[],
        p_user_keys text[])
      RETURNS SETOF integer LANGUAGE plpgsql AS $$
    DECLARE
      v_new boolean[];
      v_del_rooms text[];
      v_del_seqs bigint[];
    BEGIN
      WITH input AS (
        SELECT * FROM unnest(p_rooms, p_seqs, p_senders, p_texts, p_tss, p_cids, p_sender_ids, p_kinds, p_targets,
                             p_files) WITH ORDINALITY
          AS u(room, seq, sender, text, ts, cid, sender_id, kind, target, files, i)),
      stored AS (
        INSERT INTO messages(room, seq, sender, text, ts, cid, sender_id, kind, target, files)
          SELECT room, seq, sender, text, ts, cid, sender_id, kind, target, files FROM input ORDER BY i
          ON CONFLICT (room, seq) DO NOTHING
          RETURNING room, seq)
      SELECT array_agg(s.seq IS NOT NULL ORDER BY input.i) INTO v_new
        FROM input LEFT JOIN stored s ON s.room = input.room AND s.seq = input.seq;
      IF v_new IS NULL THEN
        RETURN;
      END IF;
      RETURN QUERY SELECT i::integer FROM generate_subscripts(v_new, 1) AS g(i) WHERE NOT v_new[i];

      IF 1 = ANY(p_kinds) THEN
        UPDATE messages m SET text = e.text, edited = e.ts
          FROM (SELECT DISTINCT ON (p_rooms[i], p_targets[i]) p_rooms[i] AS room, p_targets[i] AS target,
                       p_texts[i] AS text, p_tss[i] AS ts
                  FROM generate_subscripts(v_new, 1) AS g(i) WHERE v_new[i] AND p_kinds[i] = 1
                  ORDER BY p_rooms[i], p_targets[i], p_seqs[i] DESC) e
          WHERE m.room = e.room AND m.seq = e.target AND m.kind = 0 AND NOT m.deleted;
      END IF;

      IF 3 = ANY(p_kinds) OR 4 = ANY(p_kinds) THEN
        -- Per (message, emoji, user): a row there before an unreact of the batch goes.
        DELETE FROM reactions r
          USING (SELECT DISTINCT p_rooms[i] AS room, p_targets[i] AS target, p_texts[i] AS emoji,
                        p_user_keys[i] AS user_key
                   FROM generate_subscripts(v_new, 1) AS g(i) WHERE v_new[i] AND p_kinds[i] = 4) u
          WHERE r.room = u.room AND r.seq = u.target AND r.emoji = u.emoji AND r.user_key = u.user_key;
        -- The first react after the last unreact of the batch makes the row (one there stays).
        INSERT INTO reactions(room, seq, emoji, user_key, sender, sender_id, made_seq)
          SELECT DISTINCT ON (o.room, o.target, o.emoji, o.user_key) o.room, o.target, o.emoji, o.user_key, o.sender,
                 o.sender_id, o.seq
            FROM (SELECT p_rooms[i] AS room, p_targets[i] AS target, p_texts[i] AS emoji, p_user_keys[i] AS user_key,
                         p_senders[i] AS sender, p_sender_ids[i] AS sender_id, p_seqs[i] AS seq, p_kinds[i] AS kind,
                         max(CASE WHEN p_kinds[i] = 4 THEN p_seqs[i] END)
                           OVER (PARTITION BY p_rooms[i], p_targets[i], p_texts[i], p_user_keys[i]) AS last_unreact
                    FROM generate_subscripts(v_new, 1) AS g(i) WHERE v_new[i] AND p_kinds[i] IN (3, 4)) o
            WHERE o.kind = 3 AND o.seq > COALESCE(o.last_unreact, -1)
              AND EXISTS (SELECT 1 FROM messages m WHERE m.room = o.room AND m.seq = o.target AND m.kind = 0
                          AND NOT m.deleted)
            ORDER BY o.room, o.target, o.emoji, o.user_key, o.seq
          ON CONFLICT DO NOTHING;
      END IF;

      IF 2 = ANY(p_kinds) THEN
        SELECT array_agg(p_rooms[i]), array_agg(p_targets[i]) INTO v_del_rooms, v_del_seqs
          FROM generate_subscripts(v_new, 1) AS g(i) WHERE v_new[i] AND p_kinds[i] = 2;
        -- Its files go (before the row loses them): to the trash, whose bytes the node removes.
        WITH gone AS (
          DELETE FROM files f USING unnest(v_del_rooms, v_del_seqs) AS d(room, seq), messages m
            WHERE m.room = d.room AND m.seq = d.seq AND m.kind = 0 AND f.room = d.room AND f.claim <> ''
              AND f.uploader = m.sender_id AND f.claim = m.cid
            RETURNING f.id)
        INSERT INTO file_trash(id) SELECT id FROM gone ON CONFLICT DO NOTHING;
        UPDATE messages m SET text = '', files = '', deleted = true
          FROM unnest(v_del_rooms, v_del_seqs) AS d(room, seq)
          WHERE m.room = d.room AND m.seq = d.seq AND m.kind = 0;
        DELETE FROM reactions r USING unnest(v_del_rooms, v_del_seqs) AS d(room, seq)
          WHERE r.room = d.room AND r.seq = d.seq;
        UPDATE messages m SET text = ''
          FROM unnest(v_del_rooms, v_del_seqs) AS d(room, seq)
          WHERE m.room = d.room AND m.target = d.seq AND m.kind = 1 AND m.target > 0;
      END IF;
    END $$;
    )sql",
    // 17: search_docs in a search's order, newest first (postgres_search.cpp, search): a common
    // word's page is read from the newest documents back until it is full (the planner picks it
    // by the word's frequency, from the table's statistics) instead of every match read through
    // the words' index and sorted (119 ms for a word in ~10% of 1,000,000 messages).
    R"sql(
    CREATE INDEX search_docs_time ON search_docs (ts, room COLLATE "C", seq);
    )sql",
};

// Nodes starting together against one database take this advisory lock around their migrations:
// the second waits for the first's COMMIT, then finds the schema current. Statements are prepared
// only after it (never against a schema another node is changing).
constexpr const char* migration_lock = "SELECT pg_advisory_xact_lock(7079686568)";  // "parley" digits

// How many of this connection's prepared statements the server holds.
constexpr const char* count_prepared = "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'parley\\_%'";

// 500 rows x 9 parameters: far below the protocol's 65,535 parameters per statement, large enough
// that a 10,000-message batch is 20 statements.
constexpr std::size_t chunk_rows = 500;

std::int64_t clamp64(std::uint64_t v) { return static_cast<std::int64_t>(std::min<std::uint64_t>(v, INT64_MAX)); }

std::string insert_sql(std::size_t rows) {
  constexpr std::size_t columns = 10;
  std::string sql = "INSERT INTO messages(room, seq, sender, text, ts, cid, sender_id, kind, target, files) VALUES ";
  for (std::size_t i = 0; i < rows; ++i) {
    sql += i ? ",(" : "(";
    for (std::size_t c = 1; c <= columns; ++c) sql += (c > 1 ? ",$" : "$") + std::to_string(i * columns + c);
    sql += ')';
  }
  sql += " ON CONFLICT (room, seq) DO NOTHING";
  return sql;
}

// One row of insert_sql().
void add_row(Params& p, const core::Message& m) {
  p.text(m.room);
  p.int8(clamp64(m.seq));
  p.text(m.from);
  p.text(m.text);
  p.int8(m.ts);
  p.text(m.cid);
  p.text(m.from_id);
  p.int8(static_cast<std::int64_t>(m.kind));
  p.int8(clamp64(m.target));
  p.text(m.files);
}

// The conninfo without its password, for messages.
std::string describe(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (!opts) {
    std::string msg = "unparsable conninfo: " + trimmed(err);
    PQfreemem(err);
    return msg;
  }
  std::string out;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (!o->val || std::strcmp(o->keyword, "password") == 0) continue;
    if (!out.empty()) out += ' ';
    out += std::string(o->keyword) + "=" + o->val;
  }
  PQconninfoFree(opts);
  return out.empty() ? "libpq defaults" : out;
}

}  // namespace

PostgresStore::PostgresStore(PostgresOptions options)
    : options_(std::move(options)),
      worker_(*this, StoreWorkerOptions{.max_queue = options_.max_queue,
                                        .max_batch = options_.max_batch,
                                        .stop_timeout = options_.stop_timeout}) {
  if (const char* pause = std::getenv("PARLEY_TEST_PG_PREPARE_PAUSE_MS"))
    prepare_pause_ = std::chrono::milliseconds(std::strtol(pause, nullptr, 10));
  const auto deadline = Clock::now() + options_.connect_timeout;
  auto backoff = std::chrono::milliseconds(100);
  std::string err;
  // No statements yet: the schema may be older than they need, or being migrated by another node.
  while (!connect_once(err, false)) {
    if (Clock::now() + backoff > deadline)
      throw std::runtime_error("cannot connect to PostgreSQL (" + describe(options_.conninfo) + ") within " +
                               std::to_string(options_.connect_timeout.count()) + " ms: " + err);
    spdlog::warn("store: PostgreSQL not reachable yet, retrying in {} ms: {}", backoff.count(), err);
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
  try {
    migrate();
    if (!prepare_statements(err)) throw std::runtime_error("PostgreSQL: " + err);
  } catch (...) {
    disconnect();
    throw;
  }
  searcher_ =
      std::make_unique<Searcher>(postgres_search_index(options_.conninfo), options_.search_nice, options_.search_share);
  worker_.start();
}

PostgresStore::~PostgresStore() {
  if (searcher_) searcher_->stop();
  worker_.stop();
  disconnect();
}

bool PostgresStore::connect_once(std::string& err, bool prepare) {
  disconnect();
  conn_ = pg::connect(options_.conninfo);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    err = conn_ ? trimmed(PQerrorMessage(conn_)) : "out of memory";
    disconnect();
    return false;
  }
  return !prepare || prepare_statements(err);
}

bool PostgresStore::prepare_statements(std::string& err) {
  // Prepared per connection: a reconnect prepares them again. Every one of them, after the
  // migrations (the constructor's, or another node's: the schema only grows): a statement that
  // fails here fails the connection, never a later call that needs it.
  const std::pair<const char*, std::string> statements[] = {
      {"parley_insert_messages", insert_sql(chunk_rows)},
      {"parley_select_one",
       "SELECT sender, text, ts, cid, sender_id, kind, edited, deleted FROM messages WHERE room = $1 AND seq = $2"},
      {"parley_select_range",
       "SELECT seq, sender, text, ts, cid, sender_id, kind, target, edited, deleted, (SELECT string_agg(emoji || "
       "E'\\x1f' || sender_id || E'\\x1f' || sender, E'\\x1e' ORDER BY made_seq) FROM reactions r WHERE r.room = "
       "m.room AND "
       "r.seq = m.seq), files FROM messages m WHERE room = $1 AND seq > $2 AND seq < $3 ORDER BY seq DESC LIMIT $4"},
      // A deleted room's files go to the trash (the node removes their bytes).
      {"parley_trash_room_files",
       "WITH gone AS (DELETE FROM files WHERE room = $1 RETURNING id) INSERT INTO file_trash(id) SELECT id FROM gone "
       "ON CONFLICT DO NOTHING"},
      {"parley_delete_room_reactions", "DELETE FROM reactions WHERE room = $1"},
      // A batch's changes (migration 14). Each parameter is an array's text (sent as text, as
      // every string parameter is; "$1::text[]" would make it a binary array).
      {"parley_apply_changes",
       "SELECT * FROM parley_apply_changes($1::text::text[], $2::text::bigint[], $3::text::text[], $4::text::text[], "
       "$5::text::bigint[], $6::text::text[], $7::text::text[], $8::text::bigint[], $9::text::bigint[], "
       "$10::text::text[], $11::text::text[])"},
      // The room and its owner in one statement: a private room never exists without its owner.
      // Answers how many rooms it inserted (0: the id is taken).
      {"parley_insert_room",
       "WITH r AS (INSERT INTO rooms(id, created_at, created_by, kind, password_hash, peers, title, topic) VALUES ($1, "
       "$2, $3, $4, $5, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING id), o AS (INSERT INTO room_members(room, "
       "user_id, role, since) "
       "SELECT id, $6::text, 'owner', $2 FROM r WHERE $6::text <> '' RETURNING 1), m AS (INSERT INTO "
       "room_members(room, user_id, role, since) SELECT id, u, 'member', $2 FROM r, string_to_table($7::text, E'\\n') "
       "AS u WHERE $7::text <> '' RETURNING 1) SELECT count(*) FROM r"},
      {"parley_select_room",
       "SELECT created_at, created_by, COALESCE((SELECT MAX(seq) FROM messages WHERE room = $1), 0), kind, "
       "password_hash, peers, title, topic FROM rooms WHERE id = $1"},
      {"parley_delete_messages", "DELETE FROM messages WHERE room = $1"},
      {"parley_delete_room_members", "DELETE FROM room_members WHERE room = $1"},
      {"parley_delete_room_bans", "DELETE FROM room_bans WHERE room = $1"},
      {"parley_delete_read_marks", "DELETE FROM read_marks WHERE room = $1"},
      {"parley_delete_room", "DELETE FROM rooms WHERE id = $1"},
  };
  std::vector<std::pair<const char*, std::string>> all(std::begin(statements), std::end(statements));
  for (auto& statement : account_statements()) all.push_back(std::move(statement));
  for (const auto& [name, sql] : all) {
    if (prepare_pause_.count() > 0 && std::strcmp(name, "parley_insert_room") == 0)
      std::this_thread::sleep_for(prepare_pause_);
    Result r(PQprepare(conn_, name, sql.c_str(), 0, nullptr));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      err = std::string("prepare ") + name + ": " + trimmed(PQerrorMessage(conn_));
      disconnect();
      return false;
    }
  }
  prepared_ = static_cast<std::int64_t>(all.size());
  return true;
}

bool PostgresStore::statements_missing() {
  Result r(PQexec(conn_, count_prepared));
  return PQresultStatus(r.get()) != PGRES_TUPLES_OK || int_column(r.get(), 0, 0) != prepared_;
}

bool PostgresStore::reconnect_after(const PGresult* r) {
  if (PQstatus(conn_) != CONNECTION_OK) return true;
  const std::string state = sqlstate(r);
  // 26000: a statement this connection does not have; 42P01/42703: a table or column it does
  // not see (a schema changed under it); 0A000: a cached plan whose result type changed. A fresh
  // connection prepares every statement against the schema as it is now.
  return state == "26000" || state == "42P01" || state == "42703" || state == "0A000";
}

bool PostgresStore::probe_now(std::string& err) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!ensure_connected(err)) return false;
    Result r(PQexec(conn_, count_prepared));
    if (PQresultStatus(r.get()) == PGRES_TUPLES_OK && int_column(r.get(), 0, 0) == prepared_) return true;
    err = PQresultStatus(r.get()) == PGRES_TUPLES_OK ? "prepared statements missing" : trimmed(PQerrorMessage(conn_));
    spdlog::warn("store: PostgreSQL connection unusable ({}); connecting again", err);
    disconnect();
  }
  return false;
}

bool PostgresStore::ensure_connected(std::string& err) {
  if (conn_ && PQstatus(conn_) == CONNECTION_OK) return true;
  if (!connect_once(err)) return false;
  spdlog::info("store: reconnected to PostgreSQL ({})", describe(options_.conninfo));
  return true;
}

void PostgresStore::rollback() { Result ended(PQexec(conn_, "ROLLBACK")); }

void PostgresStore::disconnect() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

void PostgresStore::migrate() {
  auto exec = [this](const char* sql) {
    Result r(PQexec(conn_, sql));
    const auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      const std::string msg = trimmed(PQerrorMessage(conn_));
      rollback();
      throw std::runtime_error(std::string("PostgreSQL schema migration failed: ") + msg);
    }
    return r;
  };
  exec("BEGIN");
  exec(migration_lock);
  exec("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied_at bigint NOT NULL)");
  Result v = exec("SELECT COALESCE(MAX(version), 0) FROM schema_version");
  const int version = static_cast<int>(int_column(v.get(), 0, 0));
  const int latest = static_cast<int>(std::size(migrations));
  if (version > latest) {
    rollback();
    throw std::runtime_error("database schema version " + std::to_string(version) + " is newer than this binary's " +
                             std::to_string(latest));
  }
  for (int n = version; n < latest; ++n) {
    exec(migrations[n]);
    const std::string record = "INSERT INTO schema_version(version, applied_at) VALUES (" + std::to_string(n + 1) +
                               ", (extract(epoch from now()) * 1000)::bigint)";
    exec(record.c_str());
    spdlog::info("store: applied PostgreSQL schema migration {}", n + 1);
  }
  exec("COMMIT");
}

std::vector<StoredRoom> PostgresStore::load_rooms_now() {
  std::string err;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!ensure_connected(err)) continue;
    Result r(PQexec(conn_,
                    "SELECT id, created_at, created_by, "
                    "COALESCE((SELECT MAX(seq) FROM messages m WHERE m.room = r.id), 0), kind, password_hash, "
                    "peers, title, topic FROM rooms r ORDER BY id"));
    if (PQresultStatus(r.get()) == PGRES_TUPLES_OK) {
      std::vector<StoredRoom> rooms;
      rooms.reserve(static_cast<std::size_t>(PQntuples(r.get())));
      for (int i = 0; i < PQntuples(r.get()); ++i) {
        StoredRoom room{.id = column(r.get(), i, 0),
                        .last_seq = static_cast<std::uint64_t>(int_column(r.get(), i, 3)),
                        .created_at = int_column(r.get(), i, 1),
                        .created_by = column(r.get(), i, 2),
                        .kind = core::parse_kind(column(r.get(), i, 4)).value_or(core::RoomKind::private_room),
                        .password_hash = column(r.get(), i, 5),
                        .peers = column(r.get(), i, 6),
                        .title = column(r.get(), i, 7),
                        .topic = column(r.get(), i, 8)};
        rooms.push_back(std::move(room));
      }
      // Every room's access rows, two queries for all: rooms are few next to their messages.
      std::unordered_map<std::string, std::size_t> at;
      for (std::size_t i = 0; i < rooms.size(); ++i) at.emplace(rooms[i].id, i);
      Result members(
          PQexec(conn_, "SELECT room, user_id, role, since FROM room_members ORDER BY room, since, user_id"));
      Result bans(PQexec(conn_, "SELECT room, user_id FROM room_bans ORDER BY room, user_id"));
      if (PQresultStatus(members.get()) == PGRES_TUPLES_OK && PQresultStatus(bans.get()) == PGRES_TUPLES_OK) {
        for (int i = 0; i < PQntuples(members.get()); ++i) {
          auto it = at.find(column(members.get(), i, 0));
          if (it == at.end() || rooms[it->second].members.size() >= max_loaded_members) continue;
          const auto role = core::parse_role(column(members.get(), i, 2)).value_or(core::Role::member);
          rooms[it->second].members.push_back(
              StoredMember{column(members.get(), i, 1), role, int_column(members.get(), i, 3)});
        }
        for (int i = 0; i < PQntuples(bans.get()); ++i) {
          auto it = at.find(column(bans.get(), i, 0));
          if (it != at.end()) rooms[it->second].banned.push_back(column(bans.get(), i, 1));
        }
        return rooms;
      }
    }
    err = trimmed(PQerrorMessage(conn_));
    if (PQstatus(conn_) == CONNECTION_OK) break;
  }
  throw std::runtime_error("cannot load rooms from PostgreSQL: " + err);
}

std::vector<StoredRoom> PostgresStore::load_rooms() { return worker_.load_rooms(); }
void PostgresStore::create_room_now(const StoredRoom& room) { worker_.create_room_now(room); }
void PostgresStore::create_room(StoredRoom room, Done done) { worker_.create_room(std::move(room), std::move(done)); }
void PostgresStore::delete_room(std::string room, Done done) { worker_.delete_room(std::move(room), std::move(done)); }
bool PostgresStore::has_capacity() const { return worker_.has_capacity(); }
void PostgresStore::append(std::vector<core::Message> batch, Done done) {
  worker_.append(std::move(batch), std::move(done));
}
void PostgresStore::read(std::string room, std::uint64_t after, std::uint64_t before, std::size_t limit,
                         ReadDone done) {
  worker_.read(std::move(room), after, before, limit, std::move(done));
}
void PostgresStore::find_room(std::string room, FindRoomDone done) {
  worker_.find_room(std::move(room), std::move(done));
}
void PostgresStore::create_user(StoredUser user, Done done) { worker_.create_user(std::move(user), std::move(done)); }
void PostgresStore::find_user_by_name_key(std::string name_key, FindUserDone done) {
  worker_.find_user_by_name_key(std::move(name_key), std::move(done));
}
void PostgresStore::find_user(std::string id, FindUserDone done) { worker_.find_user(std::move(id), std::move(done)); }
void PostgresStore::set_password(std::string user_id, std::string password_hash, std::string keep_session_digest,
                                 Done done) {
  worker_.set_password(std::move(user_id), std::move(password_hash), std::move(keep_session_digest), std::move(done));
}
void PostgresStore::delete_user(std::string user_id, Done done) {
  worker_.delete_user(std::move(user_id), std::move(done));
}
void PostgresStore::create_session(StoredSession session, std::size_t max_per_user, CreateSessionDone done) {
  worker_.create_session(std::move(session), max_per_user, std::move(done));
}
void PostgresStore::find_session(std::string token_digest, std::int64_t now_ms, FindSessionDone done) {
  worker_.find_session(std::move(token_digest), now_ms, std::move(done));
}
void PostgresStore::touch_session(std::string token_digest, std::int64_t last_seen_at, std::int64_t expires_at,
                                  Done done) {
  worker_.touch_session(std::move(token_digest), last_seen_at, expires_at, std::move(done));
}
void PostgresStore::list_sessions(std::string user_id, ListSessionsDone done) {
  worker_.list_sessions(std::move(user_id), std::move(done));
}
void PostgresStore::revoke_session(std::string user_id, std::string token_digest, Done done) {
  worker_.revoke_session(std::move(user_id), std::move(token_digest), std::move(done));
}
void PostgresStore::revoke_sessions(std::string user_id, Done done) {
  worker_.revoke_sessions(std::move(user_id), std::move(done));
}
void PostgresStore::sweep_sessions(std::int64_t now_ms, Done done) { worker_.sweep_sessions(now_ms, std::move(done)); }
void PostgresStore::load_access(std::string room, AccessDone done) {
  worker_.load_access(std::move(room), std::move(done));
}
void PostgresStore::set_member(std::string room, StoredMember member, Done done) {
  worker_.set_member(std::move(room), std::move(member), std::move(done));
}
void PostgresStore::remove_member(std::string room, std::string user_id, bool ban, Done done) {
  worker_.remove_member(std::move(room), std::move(user_id), ban, std::move(done));
}
void PostgresStore::unban(std::string room, std::string user_id, Done done) {
  worker_.unban(std::move(room), std::move(user_id), std::move(done));
}
void PostgresStore::load_roster(std::string room, std::size_t limit, RosterDone done) {
  worker_.load_roster(std::move(room), limit, std::move(done));
}
void PostgresStore::set_room_info(std::string room, std::string title, std::string topic, Done done) {
  worker_.set_room_info(std::move(room), std::move(title), std::move(topic), std::move(done));
}
void PostgresStore::set_read(std::string user_id, std::string room, std::uint64_t seq, SetReadDone done) {
  worker_.set_read(std::move(user_id), std::move(room), seq, std::move(done));
}
void PostgresStore::read_states(std::string user_id, std::string name_key, std::vector<std::string> rooms,
                                ReadStatesDone done) {
  worker_.read_states(std::move(user_id), std::move(name_key), std::move(rooms), std::move(done));
}
void PostgresStore::room_reads(std::string room, std::size_t limit, SeenDone done) {
  worker_.room_reads(std::move(room), limit, std::move(done));
}
void PostgresStore::search(SearchQuery query, SearchDone done) { searcher_->search(std::move(query), std::move(done)); }

void PostgresStore::create_api_key(StoredApiKey key, Done done) {
  worker_.create_api_key(std::move(key), std::move(done));
}
void PostgresStore::find_api_key(std::string id, FindApiKeyDone done) {
  worker_.find_api_key(std::move(id), std::move(done));
}
void PostgresStore::list_api_keys(ListApiKeysDone done) { worker_.list_api_keys(std::move(done)); }
void PostgresStore::revoke_api_key(std::string id, std::int64_t now_ms, RevokeApiKeyDone done) {
  worker_.revoke_api_key(std::move(id), now_ms, std::move(done));
}
void PostgresStore::touch_api_key(std::string id, std::int64_t now_ms, Done done) {
  worker_.touch_api_key(std::move(id), now_ms, std::move(done));
}
void PostgresStore::flush() { worker_.flush(); }
void PostgresStore::stop() {
  searcher_->stop();
  worker_.stop();
}
StoreStats PostgresStore::stats() const { return searcher_->with_stats(worker_.stats()); }

StoreBackend::Outcome PostgresStore::classify_failure(const PGresult* r, std::string& err) {
  err = trimmed(PQerrorMessage(conn_));
  const std::string state = sqlstate(r);
  // Class 22 (data exception, e.g. a NUL byte in a text) and 54 (program limit): this row can
  // never be stored. The transaction is rolled back; the connection is fine.
  if (PQstatus(conn_) == CONNECTION_OK && (state.starts_with("22") || state.starts_with("54"))) {
    rollback();
    return Outcome::rejected;
  }
  // Anything else (a lost connection, a server shutting down, a transient error): start over on a
  // fresh connection, whatever state this one is in.
  disconnect();
  return Outcome::retry;
}

StoreBackend::Outcome PostgresStore::try_commit(std::span<Append> appends, std::string& err) {
  // A lost connection is opened again here, on the next attempt: the worker's backoff spaces them.
  if (!ensure_connected(err)) return Outcome::retry;
  {
    Result r(PQexec(conn_, "BEGIN"));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return classify_failure(r.get(), err);
  }
  // Every row in (room, seq) order, across the whole batch and its chunks (a multi-row INSERT
  // takes its rows in VALUES order). A transaction waits for another only on a key the other
  // inserted first (the same (room, seq), not yet committed: a recovery writing what another node
  // writes too); with every node going up the same order, the one waited for never waits back
  // for a smaller key, so two commits cannot deadlock.
  // Edits and deletes go one by one after the messages (their targets, of lower seqs, are
  // stored by then), in the same (room, seq) order on every node.
  std::vector<std::pair<const core::Message*, Append*>> sorted, changes;
  for (Append& a : appends)
    for (const auto& m : *a.messages) (m.kind == core::MessageKind::message ? sorted : changes).emplace_back(&m, &a);
  auto by_key = [](const auto& x, const auto& y) {
    return std::tie(x.first->room, x.first->seq) < std::tie(y.first->room, y.first->seq);
  };
  std::ranges::sort(sorted, by_key);
  std::ranges::sort(changes, by_key);
  std::vector<const core::Message*> rows;
  std::vector<Append*> owners;
  for (std::size_t at = 0; at < sorted.size(); at += chunk_rows) {
    const std::size_t n = std::min(chunk_rows, sorted.size() - at);
    rows.clear();
    owners.clear();
    for (std::size_t i = at; i < at + n; ++i) {
      rows.push_back(sorted[i].first);
      owners.push_back(sorted[i].second);
    }
    if (auto o = insert_chunk(rows.data(), rows.size(), owners, err); o != Outcome::ok) return o;
  }
  if (!changes.empty())
    if (auto o = insert_changes(changes, err); o != Outcome::ok) return o;
  Result r(PQexec(conn_, "COMMIT"));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return classify_failure(r.get(), err);
  searcher_->index_later_of(sorted, changes);  // each in room order
  return Outcome::ok;
}

StoreBackend::Outcome PostgresStore::insert_chunk(const core::Message* const* rows, std::size_t n,
                                                  std::vector<Append*>& owners, std::string& err) {
  Params p;
  p.reserve(n * 10);
  for (std::size_t i = 0; i < n; ++i) add_row(p, *rows[i]);
  Result r(
      n == chunk_rows
          ? PQexecPrepared(conn_, "parley_insert_messages", p.size(), p.values(), p.lengths(), p.formats(), 0)
          : PQexecParams(conn_, insert_sql(n).c_str(), p.size(), p.types(), p.values(), p.lengths(), p.formats(), 0));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return classify_failure(r.get(), err);
  if (static_cast<std::size_t>(std::strtoull(PQcmdTuples(r.get()), nullptr, 10)) == n) return Outcome::ok;
  return check_stored(rows, n, owners, err);
}

StoreBackend::Outcome PostgresStore::check_stored(const core::Message* const* rows, std::size_t n,
                                                  std::vector<Append*>& owners, std::string& err) {
  // Some (room, seq) were already stored: by this very batch before its connection died (an
  // ambiguous commit, now retried), or by another node recovering the same message. The same
  // message is fine; a different one under the same seq fails the append that carried it
  // (seq_taken), whose other rows are stored.
  for (std::size_t i = 0; i < n; ++i) {
    const core::Message& m = *rows[i];
    Params q;
    q.text(m.room);
    q.int8(clamp64(m.seq));
    Result s(PQexecPrepared(conn_, "parley_select_one", q.size(), q.values(), q.lengths(), q.formats(), 0));
    if (PQresultStatus(s.get()) != PGRES_TUPLES_OK) return classify_failure(s.get(), err);
    // A message edited or deleted since (or an edit whose text a delete removed) has another
    // text now: the rest says whether it is the same entry.
    const bool changed = PQntuples(s.get()) == 1 &&
                         (column(s.get(), 0, 5) != "0" || column(s.get(), 0, 6) != "0" || column(s.get(), 0, 7) == "t");
    const bool same = PQntuples(s.get()) == 1 && column(s.get(), 0, 0) == m.from &&
                      (changed || column(s.get(), 0, 1) == m.text) && int_column(s.get(), 0, 2) == m.ts &&
                      column(s.get(), 0, 3) == m.cid &&
                      // '': stored before messages carried ids (the same message, retried since)
                      (column(s.get(), 0, 4) == m.from_id || column(s.get(), 0, 4).empty());
    if (!same) {
      // Its seq was handed out twice (store.hpp, store_errc::seq_taken): the caller publishes it
      // again under a new one. The stored message stays.
      spdlog::warn("store: {} seq {} is already stored with another message; append answered seq_taken", m.room, m.seq);
      owners[i]->result = store_errc::seq_taken;
    }
  }
  return Outcome::ok;
}

StoreBackend::Outcome PostgresStore::insert_changes(std::span<const std::pair<const core::Message*, Append*>> changes,
                                                    std::string& err) {
  // One call for all of them (parley_apply_changes: migration 14, set-based since 16), each column an
  // array.
  auto texts = [&](auto get) {
    return pg::text_array(changes, [&](const auto& c) -> const std::string& { return get(*c.first); });
  };
  auto ints = [&](auto get) { return pg::int_array(changes, [&](const auto& c) { return get(*c.first); }); };
  const std::string columns[] = {
      texts([](const core::Message& m) -> const std::string& { return m.room; }),
      ints([](const core::Message& m) { return clamp64(m.seq); }),
      texts([](const core::Message& m) -> const std::string& { return m.from; }),
      texts([](const core::Message& m) -> const std::string& { return m.text; }),
      ints([](const core::Message& m) { return m.ts; }),
      texts([](const core::Message& m) -> const std::string& { return m.cid; }),
      texts([](const core::Message& m) -> const std::string& { return m.from_id; }),
      ints([](const core::Message& m) { return static_cast<std::int64_t>(m.kind); }),
      ints([](const core::Message& m) { return clamp64(m.target); }),
      texts([](const core::Message& m) -> const std::string& { return m.files; }),
      pg::text_array(changes, [](const auto& c) { return core::sender_key(*c.first); }),
  };
  Params p;
  for (const std::string& column : columns) p.text(column);
  Result r(PQexecPrepared(conn_, "parley_apply_changes", p.size(), p.values(), p.lengths(), p.formats(), 0));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return classify_failure(r.get(), err);
  // Those stored already (a retry, a recovery): applied then, not again; a different entry under
  // its seq fails the append, as a message's does.
  std::vector<const core::Message*> rows;
  std::vector<Append*> owners;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    const auto at = static_cast<std::size_t>(int_column(r.get(), i, 0)) - 1;
    if (at >= changes.size()) continue;
    rows.push_back(changes[at].first);
    owners.push_back(changes[at].second);
  }
  return rows.empty() ? Outcome::ok : check_stored(rows.data(), rows.size(), owners, err);
}

StoreBackend::Outcome PostgresStore::try_create_room(const StoredRoom& room, std::error_code& result,
                                                     std::string& err) {
  if (!ensure_connected(err)) return Outcome::retry;
  Params p;
  p.text(room.id);
  p.int8(room.created_at);
  p.text(room.created_by);
  const std::string kind(core::kind_name(room.kind));  // Params keeps a pointer to it
  p.text(kind);
  p.text(room.password_hash);
  p.text(room.owner_id);
  std::string members;  // one id per line
  for (const auto& m : room.members) members += (members.empty() ? "" : "\n") + m.user_id;
  p.text(members);
  p.text(room.peers);
  p.text(room.title);
  p.text(room.topic);
  Result r(PQexecPrepared(conn_, "parley_insert_room", p.size(), p.values(), p.lengths(), p.formats(), 0));
  if (PQresultStatus(r.get()) == PGRES_TUPLES_OK) {
    if (int_column(r.get(), 0, 0) != 0) return Outcome::ok;
    // ON CONFLICT DO NOTHING: the room is there. Ours, if an earlier attempt stored it and its
    // answer was lost with the connection; else another creation's.
    std::optional<StoredRoom> stored;
    if (auto ec = find_room_now(room.id, stored)) {
      result = ec;
      return Outcome::ok;
    }
    const bool ours = stored && stored->created_at == room.created_at && stored->created_by == room.created_by;
    if (!ours) result = errc::room_exists;
    return Outcome::ok;
  }
  err = trimmed(PQerrorMessage(conn_));
  if (PQstatus(conn_) == CONNECTION_OK && sqlstate(r.get()).starts_with("22")) return Outcome::rejected;
  disconnect();
  return Outcome::retry;
}

StoreBackend::Outcome PostgresStore::try_delete_room(const std::string& room, std::string& err) {
  if (!ensure_connected(err)) return Outcome::retry;
  // One transaction: the room never loses its messages without itself, or the reverse.
  Params p;
  p.text(room);
  Result begin(PQexec(conn_, "BEGIN"));
  bool ok = PQresultStatus(begin.get()) == PGRES_COMMAND_OK;
  bool stale = false;
  for (const char* statement :
       {"parley_trash_room_files", "parley_delete_room_reactions", "parley_delete_messages",
        "parley_delete_room_members", "parley_delete_room_bans", "parley_delete_read_marks", "parley_delete_room"}) {
    if (!ok) break;
    Result r(PQexecPrepared(conn_, statement, p.size(), p.values(), p.lengths(), p.formats(), 0));
    ok = PQresultStatus(r.get()) == PGRES_COMMAND_OK;
    stale = !ok && reconnect_after(r.get());
  }
  if (ok) {
    Result commit(PQexec(conn_, "COMMIT"));
    ok = PQresultStatus(commit.get()) == PGRES_COMMAND_OK;
  }
  if (ok) {
    const std::string* gone[] = {&room};  // its words leave the search index
    searcher_->index_later(gone);
    return Outcome::ok;
  }
  err = trimmed(PQerrorMessage(conn_));
  if (PQstatus(conn_) == CONNECTION_OK && !stale) {
    rollback();
  } else {
    disconnect();
  }
  return Outcome::retry;
}

std::error_code PostgresStore::read_now(const std::string& room, std::uint64_t after, std::uint64_t before,
                                        std::size_t limit, std::vector<core::Message>& out) {
  // A read is not retried through an outage: the caller gets an error now, not a stalled reply.
  std::string err;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!ensure_connected(err)) break;
    Params p;
    p.text(room);
    p.int8(clamp64(after));
    p.int8(before == 0 ? std::numeric_limits<std::int64_t>::max() : clamp64(before));
    p.int8(clamp64(limit));
    Result r(PQexecPrepared(conn_, "parley_select_range", p.size(), p.values(), p.lengths(), p.formats(), 0));
    if (PQresultStatus(r.get()) == PGRES_TUPLES_OK) {
      const int rows = PQntuples(r.get());
      out.reserve(static_cast<std::size_t>(rows));
      for (int i = rows - 1; i >= 0; --i) {
        std::vector<core::Reaction> reactions;
        core::parse_reactions(column(r.get(), i, 10), reactions);
        out.push_back(core::Message{.room = room,
                                    .seq = static_cast<std::uint64_t>(int_column(r.get(), i, 0)),
                                    .from = column(r.get(), i, 1),
                                    .text = column(r.get(), i, 2),
                                    .ts = int_column(r.get(), i, 3),
                                    .cid = column(r.get(), i, 4),
                                    .from_id = column(r.get(), i, 5),
                                    .kind = static_cast<core::MessageKind>(int_column(r.get(), i, 6) & 7),
                                    .target = static_cast<std::uint64_t>(int_column(r.get(), i, 7)),
                                    .edited = int_column(r.get(), i, 8),
                                    .deleted = column(r.get(), i, 9) == "t",
                                    .reactions = std::move(reactions),
                                    .files = column(r.get(), i, 11)});
      }
      return {};
    }
    err = trimmed(PQerrorMessage(conn_));
    if (!reconnect_after(r.get())) break;  // a query error a new connection would not mend
    disconnect();
  }
  spdlog::error("store: read of {} failed: {}", room, err);
  return errc::store_failed;
}

std::error_code PostgresStore::find_room_now(const std::string& room, std::optional<StoredRoom>& out) {
  // As a read: not retried through an outage (the node asking answers its client now).
  std::string err;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!ensure_connected(err)) break;
    Params p;
    p.text(room);
    Result r(PQexecPrepared(conn_, "parley_select_room", p.size(), p.values(), p.lengths(), p.formats(), 0));
    if (PQresultStatus(r.get()) == PGRES_TUPLES_OK) {
      if (PQntuples(r.get()) == 1)
        out = StoredRoom{.id = room,
                         .last_seq = static_cast<std::uint64_t>(int_column(r.get(), 0, 2)),
                         .created_at = int_column(r.get(), 0, 0),
                         .created_by = column(r.get(), 0, 1),
                         .kind = core::parse_kind(column(r.get(), 0, 3)).value_or(core::RoomKind::private_room),
                         .password_hash = column(r.get(), 0, 4),
                         .peers = column(r.get(), 0, 5),
                         .title = column(r.get(), 0, 6),
                         .topic = column(r.get(), 0, 7)};
      if (!out) return {};
      StoredAccess access;
      if (auto ec = load_access_now(room, access)) {
        out.reset();
        return ec;
      }
      out->members = std::move(access.members);
      out->banned = std::move(access.banned);
      return {};
    }
    err = trimmed(PQerrorMessage(conn_));
    if (!reconnect_after(r.get())) break;  // a query error a new connection would not mend
    disconnect();
  }
  spdlog::error("store: lookup of room {} failed: {}", room, err);
  return errc::store_failed;
}

}  // namespace parley::store
