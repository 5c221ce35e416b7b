-- Issue 9 (security review).
--
-- users.credential_version is bumped by every change of what signs the
-- user in (password change, and later reset, email change, second
-- factors). A login reads it with the hash and checks it again, the row
-- locked, in the transaction that opens the session; a rehash or a
-- password change writes only while it is still the version checked.

-- +goose Up
ALTER TABLE users ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE users DROP COLUMN credential_version;
