-- SPDX-License-Identifier: ISC
-- roamsync.sql: the tables roamsync(8) shares the open relay list through.
--
-- roamsync -i runs this file (compiled into it); so may
--   psql -v ON_ERROR_STOP=1 -d DB -f roamsync.sql
-- as a role that may create schemas and roles. It creates what is missing
-- and replaces the functions and triggers: run it again after an upgrade.
--
-- roam.relay holds one row per address: the time of its last login, or of
-- its close, in milliseconds since the epoch by the database's clock
-- (at_ms), the account that opened it (account, bytes as the login
-- gave them, NULL if none is known), and seq,
-- which every insert or update sets anew from roam.relay_seq. Writers take
-- their turn (an advisory lock held to their commit), so seq grows in
-- commit order and a host that has read every row up to seq N has missed
-- none before it. Every change notifies the channel "roam".
--
-- The role roam_sync gets exactly what roamsync needs; give it to each
-- host's login role:  CREATE ROLE smtp1 LOGIN IN ROLE roam_sync;
DO $roam$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'roam_sync') THEN
		CREATE ROLE roam_sync NOLOGIN;
	END IF;
	CREATE SCHEMA IF NOT EXISTS roam;
	REVOKE ALL ON SCHEMA roam FROM PUBLIC;
	CREATE SEQUENCE IF NOT EXISTS roam.relay_seq;
	CREATE TABLE IF NOT EXISTS roam.relay (
		ip text PRIMARY KEY,
		at_ms bigint NOT NULL,
		closed boolean NOT NULL DEFAULT false,
		seq bigint NOT NULL DEFAULT 0,
		account bytea
	);
	-- The account that opened the address (NULL: none known): a table
	-- of earlier versions gains it in place.
	ALTER TABLE roam.relay ADD COLUMN IF NOT EXISTS account bytea;
	-- A table of earlier versions, in whole seconds (at), is brought to
	-- milliseconds in place, once: a roamsync of those versions then
	-- fails on every statement rather than misorder the changes.
	IF EXISTS (SELECT FROM information_schema.columns
		   WHERE table_schema = 'roam' AND table_name = 'relay'
		   AND column_name = 'at') THEN
		ALTER TABLE roam.relay RENAME COLUMN at TO at_ms;
		UPDATE roam.relay SET at_ms = at_ms * 1000
			WHERE at_ms < 9223372036854775::bigint;
	END IF;
	CREATE INDEX IF NOT EXISTS relay_seq_idx ON roam.relay (seq);

	CREATE OR REPLACE FUNCTION roam.relay_turn() RETURNS trigger
	LANGUAGE plpgsql AS $f$
	BEGIN
		-- 0x726f616d: "roam". Held until the writer's commit.
		PERFORM pg_advisory_xact_lock(1919902061);
		RETURN NULL;
	END
	$f$;
	CREATE OR REPLACE FUNCTION roam.relay_stamp() RETURNS trigger
	LANGUAGE plpgsql AS $f$
	BEGIN
		NEW.seq := nextval('roam.relay_seq');
		RETURN NEW;
	END
	$f$;
	CREATE OR REPLACE FUNCTION roam.relay_notify() RETURNS trigger
	LANGUAGE plpgsql AS $f$
	BEGIN
		PERFORM pg_notify('roam', '');
		RETURN NULL;
	END
	$f$;
	CREATE OR REPLACE TRIGGER relay_turn
		BEFORE INSERT OR UPDATE ON roam.relay
		FOR EACH STATEMENT EXECUTE FUNCTION roam.relay_turn();
	CREATE OR REPLACE TRIGGER relay_stamp
		BEFORE INSERT OR UPDATE ON roam.relay
		FOR EACH ROW EXECUTE FUNCTION roam.relay_stamp();
	CREATE OR REPLACE TRIGGER relay_notify
		AFTER INSERT OR UPDATE ON roam.relay
		FOR EACH ROW EXECUTE FUNCTION roam.relay_notify();

	GRANT USAGE ON SCHEMA roam TO roam_sync;
	GRANT SELECT, INSERT, UPDATE, DELETE ON roam.relay TO roam_sync;
	GRANT USAGE ON SEQUENCE roam.relay_seq TO roam_sync;
	REVOKE ALL ON FUNCTION roam.relay_turn(), roam.relay_stamp(),
		roam.relay_notify() FROM PUBLIC;
END
$roam$;
