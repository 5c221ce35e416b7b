-- Issue 12: passkeys (WebAuthn credentials) and the ceremonies begun but
-- not yet finished.
--
-- passkeys.credential_id is the authenticator's id of the credential (at
-- most 1023 bytes, WebAuthn Level 3), unique across every user: a login
-- finds the passkey by it, and nobody can register a credential id that
-- is already someone's. record is what the relying party keeps to verify
-- the credential's assertions (public key, flags, transports, in the
-- passkey package's own format); sign_count is the last signature counter
-- the authenticator reported, compared in the UPDATE that records a login
-- so that a regression can never be written over.
--
-- webauthn_challenges are single use: finishing a ceremony deletes its row,
-- and only the one DELETE that removes it may go on. user_id binds a
-- registration to its user (and a username-first login to the user named);
-- expires_at serves the janitor.

-- +goose Up
CREATE TABLE passkeys (
    id            TEXT NOT NULL PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    credential_id BLOB NOT NULL,
    sign_count    INTEGER NOT NULL DEFAULT 0,
    record        BLOB NOT NULL,
    created_at    DATETIME NOT NULL,
    last_used_at  DATETIME NULL
);
CREATE UNIQUE INDEX uq_passkeys_credential_id ON passkeys (credential_id);
CREATE INDEX ix_passkeys_user_id ON passkeys (user_id, created_at);

CREATE TABLE webauthn_challenges (
    id         TEXT NOT NULL PRIMARY KEY,
    purpose    TEXT NOT NULL,
    user_id    TEXT NULL,
    state      BLOB NOT NULL,
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL
);
CREATE INDEX ix_webauthn_challenges_expires_at ON webauthn_challenges (expires_at);

-- +goose Down
DROP TABLE webauthn_challenges;
DROP TABLE passkeys;
