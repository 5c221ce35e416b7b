// Package models holds keycard's database rows as GORM models. It knows
// nothing of the domain; the store package converts between the two. The
// schema itself is owned by the SQL migrations, never by AutoMigrate.
package models

import (
	"database/sql/driver"
	"errors"
	"strings"
	"time"
)

// User is a row of users.
type User struct {
	ID string `gorm:"primaryKey;size:36"`
	// Username is as the user typed it; UsernameKey is its lower-case form
	// that carries the unique index, so uniqueness ignores case on every
	// database whatever its collation.
	Username     string `gorm:"size:32;not null"`
	UsernameKey  string `gorm:"size:32;not null;uniqueIndex"`
	Email        *string
	EmailKey     *string `gorm:"uniqueIndex"`
	PasswordHash string  `gorm:"not null"`
	// CredentialVersion is bumped by every credential change; sign-ins
	// and rehashes compare it in the transaction that acts on a check.
	CredentialVersion int64 `gorm:"not null"`
	Roles             Roles `gorm:"not null"`
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Session is a row of sessions: one per sign-in.
type Session struct {
	ID         string `gorm:"primaryKey;size:36"`
	UserID     string `gorm:"size:36;not null;index"`
	Generation int64  `gorm:"not null"`
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time `gorm:"index"`
	RotatedAt  time.Time
	RevokedAt  *time.Time
	UserAgent  string `gorm:"size:512;not null"`
	IP         string `gorm:"size:64;not null"`
	// AccessValidUntil is when the newest access token of the session
	// stops verifying (NULL for sessions from before it was recorded).
	AccessValidUntil *time.Time
}

// RefreshToken is a row of refresh_tokens: the SHA-256 of every refresh
// token a session has issued, current and rotated, so that reuse of any
// earlier token of the chain is recognised.
type RefreshToken struct {
	TokenHash  []byte `gorm:"primaryKey"`
	SessionID  string `gorm:"size:36;not null;index"`
	Generation int64  `gorm:"not null"`
	CreatedAt  time.Time
}

// Revocation is a row of revocations, an append-only log: its ids give
// every process a cursor to sync from.
type Revocation struct {
	ID        int64  `gorm:"primaryKey;autoIncrement"`
	Kind      string `gorm:"size:16;not null"`
	Subject   string `gorm:"size:36;not null"`
	UserID    string `gorm:"size:36;not null"`
	RevokedAt time.Time
	ExpiresAt time.Time `gorm:"index"`
}

// Setting is a row of settings: keycard's own key/value state, such as the
// development signing secret.
type Setting struct {
	Name  string `gorm:"primaryKey;size:64"`
	Value string `gorm:"not null"`
}

// Roles is stored as a space-separated list: role names are short tokens
// and always read together with the user.
type Roles []string

// Value implements driver.Valuer.
func (r Roles) Value() (driver.Value, error) {
	return strings.Join(r, " "), nil
}

// Scan implements sql.Scanner.
func (r *Roles) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	case nil:
	default:
		return errors.New("roles: unsupported column type")
	}
	*r = strings.Fields(s)
	if *r == nil {
		*r = Roles{}
	}
	return nil
}

// AuthEvent is a row of auth_events, the audit log.
type AuthEvent struct {
	ID        int64   `gorm:"primaryKey;autoIncrement"`
	Kind      string  `gorm:"size:32;not null"`
	UserID    *string `gorm:"size:36"`
	Username  string  `gorm:"size:64;not null"`
	SessionID *string `gorm:"size:36"`
	IP        string  `gorm:"size:64;not null"`
	UserAgent string  `gorm:"size:512;not null"`
	Detail    string  `gorm:"size:255;not null"`
	CreatedAt time.Time
}

// Passkey is a row of passkeys: a WebAuthn credential of a user.
type Passkey struct {
	ID           string `gorm:"primaryKey;size:36"`
	UserID       string `gorm:"size:36;not null;index"`
	Name         string `gorm:"size:64;not null"`
	CredentialID []byte `gorm:"not null;uniqueIndex"`
	SignCount    int64  `gorm:"not null"`
	Record       []byte `gorm:"not null"`
	CreatedAt    time.Time
	LastUsedAt   *time.Time
}

// WebAuthnChallenge is a row of webauthn_challenges: a passkey ceremony
// begun and not yet finished.
type WebAuthnChallenge struct {
	ID        string  `gorm:"primaryKey;size:36"`
	Purpose   string  `gorm:"size:16;not null"`
	UserID    *string `gorm:"size:36"`
	State     []byte  `gorm:"not null"`
	CreatedAt time.Time
	ExpiresAt time.Time `gorm:"index"`
}

// TableName keeps GORM from spelling it web_authn_challenges.
func (WebAuthnChallenge) TableName() string { return "webauthn_challenges" }
