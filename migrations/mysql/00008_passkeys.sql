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
    id            CHAR(36)        NOT NULL,
    user_id       CHAR(36)        NOT NULL,
    name          VARCHAR(64)     NOT NULL,
    credential_id VARBINARY(1023) NOT NULL,
    sign_count    BIGINT          NOT NULL DEFAULT 0,
    record        BLOB            NOT NULL,
    created_at    DATETIME(6)     NOT NULL,
    last_used_at  DATETIME(6)     NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_passkeys_credential_id (credential_id),
    KEY ix_passkeys_user_id (user_id, created_at),
    CONSTRAINT fk_passkeys_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE webauthn_challenges (
    id         CHAR(36)    NOT NULL,
    purpose    VARCHAR(16) NOT NULL,
    user_id    CHAR(36)    NULL,
    state      BLOB        NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_webauthn_challenges_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE webauthn_challenges;
DROP TABLE passkeys;
