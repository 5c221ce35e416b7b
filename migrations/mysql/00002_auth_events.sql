-- Audit log of authentication events, and an index the janitor uses to
-- prune refresh-token hashes that have outlived the refresh lifetime.

-- +goose Up
CREATE TABLE auth_events (
    id         BIGINT       NOT NULL AUTO_INCREMENT,
    kind       VARCHAR(32)  NOT NULL,
    user_id    CHAR(36)     NULL,
    username   VARCHAR(64)  NOT NULL DEFAULT '',
    session_id CHAR(36)     NULL,
    ip         VARCHAR(64)  NOT NULL DEFAULT '',
    user_agent VARCHAR(512) NOT NULL DEFAULT '',
    detail     VARCHAR(255) NOT NULL DEFAULT '',
    created_at DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    KEY ix_auth_events_user_id (user_id, id),
    KEY ix_auth_events_kind (kind, id),
    KEY ix_auth_events_created_at (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE INDEX ix_refresh_tokens_created_at ON refresh_tokens (created_at);

-- +goose Down
DROP INDEX ix_refresh_tokens_created_at ON refresh_tokens;
DROP TABLE auth_events;
