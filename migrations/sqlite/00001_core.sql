-- keycard core schema for the embedded SQLite database. Times are stored as
-- UTC text in one fixed format, so text comparison is time order.

-- +goose Up
CREATE TABLE users (
    id            TEXT NOT NULL PRIMARY KEY,
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL,
    email         TEXT NULL,
    email_key     TEXT NULL,
    password_hash TEXT NOT NULL,
    roles         TEXT NOT NULL DEFAULT '',
    created_at    DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL
);
CREATE UNIQUE INDEX uq_users_username_key ON users (username_key);
CREATE UNIQUE INDEX uq_users_email_key ON users (email_key);

CREATE TABLE sessions (
    id           TEXT NOT NULL PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    generation   INTEGER NOT NULL,
    created_at   DATETIME NOT NULL,
    last_used_at DATETIME NOT NULL,
    expires_at   DATETIME NOT NULL,
    rotated_at   DATETIME NOT NULL,
    revoked_at   DATETIME NULL,
    user_agent   TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ix_sessions_user_id ON sessions (user_id);
CREATE INDEX ix_sessions_expires_at ON sessions (expires_at);

CREATE TABLE refresh_tokens (
    token_hash BLOB NOT NULL PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation INTEGER NOT NULL,
    created_at DATETIME NOT NULL
);
CREATE INDEX ix_refresh_tokens_session_id ON refresh_tokens (session_id);

-- AUTOINCREMENT: ids are never reused after deletes, so the sync cursor
-- never skips a new row.
CREATE TABLE revocations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    revoked_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL
);
CREATE INDEX ix_revocations_expires_at ON revocations (expires_at);

CREATE TABLE settings (
    name  TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE revocations;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
