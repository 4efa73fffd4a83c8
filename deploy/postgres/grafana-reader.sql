-- The read-only database role of Grafana's energy dashboard (compose service `grafana-db-init`).
--
--   psql -v ON_ERROR_STOP=1 -v reader=luna_grafana -v reader_password=... -f grafana-reader.sql
--
-- Run as the owner of the Luna tables (POSTGRES_USER) after the migrations. Idempotent: creates the
-- role once, then (re)sets its password and grants on every run. The role can log in, read the
-- energy tables listed below and nothing else (no documents, API keys or audit trail), and its
-- sessions are read-only. On TimescaleDB, grants on a hypertable apply to its chunks.

\set QUIET on

SELECT format('CREATE ROLE %I LOGIN', :'reader')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'reader')
\gexec

ALTER ROLE :"reader" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION
    CONNECTION LIMIT 10 PASSWORD :'reader_password';
ALTER ROLE :"reader" SET default_transaction_read_only = on;
ALTER ROLE :"reader" SET statement_timeout = '30s';

SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), :'reader')
\gexec
GRANT USAGE ON SCHEMA public TO :"reader";

-- The energy tables (skipping any that a partial migration has not created yet).
SELECT format('GRANT SELECT ON TABLE public.%I TO %I', table_name, :'reader')
FROM information_schema.tables
WHERE table_schema = 'public'
  AND table_name IN (
    'meters',
    'smart_meter_readings',
    'reading_rollups',
    'market_prices',
    'battery_states',
    'ingest_batches',
    'data_quality'
  )
ORDER BY table_name
\gexec

\echo grafana-db-init: role :reader can read the energy tables
