-- Issue 9 (security review).
--
-- users.credential_version is bumped by every change of what signs the
-- user in (password change, and later reset, email change, second
-- factors). A login reads it with the hash and checks it again, the row
-- locked, in the transaction that opens the session; a rehash or a
-- password change writes only while it is still the version checked.
--
-- sessions.access_valid_until is when the newest access token issued for
-- the session stops passing verification (its exp plus leeway): a
-- revocation of the session is kept at least that long, so a revoked token
-- stays refused until its own exp whatever KEYCARD_ACCESS_TTL says now.
--
-- ix_sessions_user_live serves the per-user session cap, counted on every
-- sign-in: the live sessions of one user, oldest first, without reading
-- the revoked rows the janitor has not purged yet.

-- +goose Up
ALTER TABLE users ADD COLUMN credential_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN access_valid_until DATETIME(6) NULL;
CREATE INDEX ix_sessions_user_live ON sessions (user_id, revoked_at, created_at);

-- +goose Down
DROP INDEX ix_sessions_user_live ON sessions;
ALTER TABLE sessions DROP COLUMN access_valid_until;
ALTER TABLE users DROP COLUMN credential_version;
