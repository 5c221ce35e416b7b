-- Issue 9 (security review).
--
-- users.credential_version is bumped by every change of what signs the
-- user in (password change, and later reset, email change, second
-- factors). A login reads it with the hash and checks it again, the row
-- locked, in the transaction that opens the session; a rehash or a
-- password change writes only while it is still the version checked.
--
-- ix_sessions_user_live serves the per-user session cap, counted on every
-- sign-in: the live sessions of one user, oldest first, without reading
-- the revoked rows the janitor has not purged yet.

-- +goose Up
ALTER TABLE users ADD COLUMN credential_version BIGINT NOT NULL DEFAULT 0;
CREATE INDEX ix_sessions_user_live ON sessions (user_id, revoked_at, created_at);

-- +goose Down
DROP INDEX ix_sessions_user_live ON sessions;
ALTER TABLE users DROP COLUMN credential_version;
