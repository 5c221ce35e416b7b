-- Audit log of authentication events, and an index the janitor uses to
-- prune refresh-token hashes that have outlived the refresh lifetime.

-- +goose Up
CREATE TABLE auth_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    user_id    TEXT NULL,
    username   TEXT NOT NULL DEFAULT '',
    session_id TEXT NULL,
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT '',
    created_at DATETIME NOT NULL
);
CREATE INDEX ix_auth_events_user_id ON auth_events (user_id, id);
CREATE INDEX ix_auth_events_kind ON auth_events (kind, id);
CREATE INDEX ix_auth_events_created_at ON auth_events (created_at);

CREATE INDEX ix_refresh_tokens_created_at ON refresh_tokens (created_at);

-- +goose Down
DROP INDEX ix_refresh_tokens_created_at;
DROP TABLE auth_events;
