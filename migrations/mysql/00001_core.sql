-- keycard core schema for MySQL 8, MariaDB 10.11+ and TiDB 8.5.
-- Every table is utf8mb4_bin so comparisons behave alike on all three;
-- case-insensitive uniqueness comes from the lower-cased *_key columns.

-- +goose Up
CREATE TABLE users (
    id            CHAR(36)      NOT NULL,
    username      VARCHAR(32)   NOT NULL,
    username_key  VARCHAR(32)   NOT NULL,
    email         VARCHAR(254)  NULL,
    email_key     VARCHAR(254)  NULL,
    password_hash VARCHAR(255)  NOT NULL,
    roles         VARCHAR(1024) NOT NULL DEFAULT '',
    created_at    DATETIME(6)   NOT NULL,
    updated_at    DATETIME(6)   NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_users_username_key (username_key),
    UNIQUE KEY uq_users_email_key (email_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE sessions (
    id           CHAR(36)     NOT NULL,
    user_id      CHAR(36)     NOT NULL,
    generation   BIGINT       NOT NULL,
    created_at   DATETIME(6)  NOT NULL,
    last_used_at DATETIME(6)  NOT NULL,
    expires_at   DATETIME(6)  NOT NULL,
    rotated_at   DATETIME(6)  NOT NULL,
    revoked_at   DATETIME(6)  NULL,
    user_agent   VARCHAR(512) NOT NULL DEFAULT '',
    ip           VARCHAR(64)  NOT NULL DEFAULT '',
    PRIMARY KEY (id),
    KEY ix_sessions_user_id (user_id),
    KEY ix_sessions_expires_at (expires_at),
    CONSTRAINT fk_sessions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE refresh_tokens (
    token_hash BINARY(32)  NOT NULL,
    session_id CHAR(36)    NOT NULL,
    generation BIGINT      NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (token_hash),
    KEY ix_refresh_tokens_session_id (session_id),
    CONSTRAINT fk_refresh_tokens_session FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Append-only; processes sync by id. On TiDB, AUTO_ID_CACHE=1 keeps ids
-- increasing across TiDB servers (the comment is ignored by MySQL/MariaDB).
CREATE TABLE revocations (
    id         BIGINT      NOT NULL AUTO_INCREMENT,
    kind       VARCHAR(16) NOT NULL,
    subject    CHAR(36)    NOT NULL,
    user_id    CHAR(36)    NOT NULL,
    revoked_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_revocations_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin /*T![auto_id_cache] AUTO_ID_CACHE=1 */;

CREATE TABLE settings (
    name  VARCHAR(64) NOT NULL,
    value TEXT        NOT NULL,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE settings;
DROP TABLE revocations;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
