-- The cluster foundation: one cluster row, its nodes, users, API keys, sessions and settings.

CREATE TABLE cluster (
  id              integer PRIMARY KEY CHECK (id = 1),
  installation_id uuid NOT NULL,
  -- HMAC of a constant under a key derived from the master key: only the right key reproduces it.
  key_check       text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE settings (
  key        text PRIMARY KEY,
  value      jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE nodes (
  id                   text PRIMARY KEY,
  name                 text NOT NULL UNIQUE,
  -- Second key of the node's session advisory lock; held while the node process lives.
  lock_key             serial NOT NULL UNIQUE,
  -- Incremented at every start; every write of a running node is fenced on it.
  epoch                integer NOT NULL DEFAULT 0,
  version              text NOT NULL,
  listen_url           text NOT NULL DEFAULT '',
  max_concurrent_tasks integer NOT NULL DEFAULT 5 CHECK (max_concurrent_tasks >= 0),
  drain                boolean NOT NULL DEFAULT false,
  storage_nonce        text NOT NULL DEFAULT '',
  storage_report       jsonb NOT NULL DEFAULT '{}'::jsonb,
  registered_at        timestamptz NOT NULL DEFAULT now(),
  started_at           timestamptz,
  stopped_at           timestamptz,
  last_seen            timestamptz
);

CREATE TABLE users (
  id            text PRIMARY KEY,
  username      text NOT NULL,
  display_name  text NOT NULL,
  email         text NOT NULL DEFAULT '',
  password_hash text,
  is_admin      boolean NOT NULL DEFAULT false,
  is_active     boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username ON users (lower(username));
CREATE SEQUENCE users_seq;

CREATE TABLE api_keys (
  id         text PRIMARY KEY,
  user_id    text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  purpose    text NOT NULL DEFAULT '',
  -- SHA-256 of the key: keys are 128+ bits of randomness, so a fast hash is enough and lookups stay indexed.
  key_hash   text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz
);
CREATE SEQUENCE api_keys_seq;

CREATE TABLE sessions (
  id         text PRIMARY KEY,
  user_id    text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
