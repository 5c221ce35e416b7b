package auth

import "context"

// LogoutScope says which sessions a logout ends.
type LogoutScope int

const (
	// LogoutCurrent ends the session of the presented access token.
	LogoutCurrent LogoutScope = iota
	// LogoutAll ends every session of the user.
	LogoutAll
)

// Logout ends the caller's session, or all of the user's sessions. Every
// access token of an ended session stops working at once.
func (s *Service) Logout(ctx context.Context, c *Claims, scope LogoutScope, client Client) error {
	var ids []string
	detail := "all sessions"
	if scope == LogoutCurrent {
		ids = []string{c.SessionID}
		detail = "current session"
	}
	return s.revokeSessions(ctx, c.UserID(), ids, EventLogout, c.SessionID, detail, client)
}
