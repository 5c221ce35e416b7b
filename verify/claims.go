package verify

import (
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of a keycard access token (RFC 9068 and keycard's
// own). Verify and ClaimsFrom return them shared between every request that
// presents the same token: read them, never modify them.
type Claims struct {
	// Issuer, Subject (the user id), Audience, ExpiresAt, NotBefore,
	// IssuedAt and ID (the jti).
	jwt.RegisteredClaims
	// SessionID is the keycard session the token belongs to ("sid").
	SessionID string `json:"sid"`
	// Roles are the user's roles when the token was issued. keycard
	// revokes the user's tokens when they change only through the feed:
	// without a Credential, a token keeps its roles until it expires.
	Roles []string `json:"roles"`
	// ClientID is the OAuth client the token was issued to (RFC 9068 §2.2).
	ClientID string `json:"client_id"`
	// AuthTime is when the user last authenticated with a credential;
	// refreshes carry it unchanged.
	AuthTime *jwt.NumericDate `json:"auth_time,omitempty"`
	// AMR lists how the user authenticated (RFC 8176): "pwd", "otp",
	// "mfa", "hwk".
	AMR []string `json:"amr"`
	// Scope is space-separated and includes "role:NAME" for each role.
	Scope string `json:"scope"`
}

// HasRole reports whether the token carries role.
func (c *Claims) HasRole(role string) bool {
	return slices.Contains(c.Roles, role)
}

// HasScope reports whether scope is one of the token's space-separated
// scopes.
func (c *Claims) HasScope(scope string) bool {
	if scope == "" {
		return false
	}
	for s := range strings.FieldsSeq(c.Scope) {
		if s == scope {
			return true
		}
	}
	return false
}

// HasAMR reports whether the user authenticated with method (RFC 8176),
// e.g. "mfa" for a second factor.
func (c *Claims) HasAMR(method string) bool {
	return slices.Contains(c.AMR, method)
}
