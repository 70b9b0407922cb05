-- Users an administrator manages, and sign-in throttling counted for the whole cluster.

-- A service user has no password: it signs in only with its API keys.
ALTER TABLE users ADD COLUMN is_service boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN modified_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE users ADD COLUMN modified_by text;

-- Each sign-in attempt is written here before its password is checked and removed when it
-- succeeds, so parallel guesses through many nodes count at once. The user name is lower-cased
-- as typed, whether or not such a user exists (a guesser learns nothing from being throttled).
CREATE TABLE sign_in_failures (
  id             bigserial PRIMARY KEY,
  username       text NOT NULL,
  failed_at      timestamptz NOT NULL DEFAULT now(),
  remote_address text
);
CREATE INDEX sign_in_failures_username ON sign_in_failures (username, failed_at);
-- Pruning reads the oldest rows of every user name.
CREATE INDEX sign_in_failures_failed_at ON sign_in_failures (failed_at);

-- A user name refused without a password check until locked_until.
CREATE TABLE sign_in_locks (
  username     text PRIMARY KEY,
  locked_at    timestamptz NOT NULL DEFAULT now(),
  locked_until timestamptz NOT NULL
);
