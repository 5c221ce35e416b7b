package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// RoleAdmin may list audit events and end other users' sessions.
const RoleAdmin = "admin"

const (
	// DefaultEventPage and MaxEventPage bound one page of audit events.
	DefaultEventPage = 20
	MaxEventPage     = 100
)

// EventPage is one page of audit events, newest first. HasMore says older
// events follow; HasPrevious that newer ones precede it (only a page that
// continues from a cursor has them).
type EventPage struct {
	Events      []*Event
	HasMore     bool
	HasPrevious bool
}

// AuthEvents pages through the audit log for an admin. f.Limit is the page
// size (0 to MaxEventPage); f.BeforeID continues after a previous page.
func (s *Service) AuthEvents(ctx context.Context, c *Claims, f EventFilter) (*EventPage, error) {
	if err := s.RequireRole(ctx, c, RoleAdmin); err != nil {
		return nil, err
	}
	if f.Limit < 0 || f.Limit > MaxEventPage {
		return nil, Invalid("first", "first must be between 0 and %d", MaxEventPage)
	}
	want := f.Limit
	f.Limit++ // one more tells whether another page follows
	events, err := s.store.Events(ctx, f)
	if err != nil {
		return nil, err
	}
	page := &EventPage{Events: events}
	if len(events) > want {
		page.Events, page.HasMore = events[:want], true
	}
	if f.BeforeID > 0 {
		// What precedes a page that continues from a cursor is the cursor's
		// event and everything newer: the newest matching event (one row
		// off the same index) says whether there is any.
		newest := f
		newest.BeforeID, newest.Limit = 0, 1
		latest, err := s.store.Events(ctx, newest)
		if err != nil {
			return nil, err
		}
		page.HasPrevious = len(latest) == 1 && latest[0].ID >= f.BeforeID
	}
	return page, nil
}

// RevokeUserSessions ends every session of another user, for an admin. It
// reports false when there is no such user.
func (s *Service) RevokeUserSessions(ctx context.Context, c *Claims, userID string, client Client) (bool, error) {
	if err := s.RequireRole(ctx, c, RoleAdmin); err != nil {
		return false, err
	}
	if !validID(userID) {
		return false, nil
	}
	if _, err := s.store.UserByID(ctx, userID); errors.Is(err, ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	err := s.revokeSessions(ctx, userID, nil, EventUserSessionsRevoked, "", "by admin "+c.UserID(), client)
	return err == nil, err
}

// ValidateRole admits role names of lower-case letters, digits and
// "_.:-", starting with a letter: they end up in every access token.
func ValidateRole(role string) error {
	if role == "" || len(role) > 64 || role[0] < 'a' || role[0] > 'z' {
		return Invalid("role", "a role is 1 to 64 characters, starting with a lower-case letter")
	}
	for i := 0; i < len(role); i++ {
		c := role[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-') {
			return Invalid("role", "a role may contain only lower-case letters, digits, '_', '.', ':' and '-'")
		}
	}
	return nil
}

// GrantRole gives a user a role (for the command line: the first admin has
// nobody to ask). Authorization (@hasRole, introspection) and `me` see it
// within one revocation sync in every process, outstanding tokens
// included; tokens carry it in their roles claim from the user's next
// login or refresh.
func (s *Service) GrantRole(ctx context.Context, username, role string) (*User, error) {
	return s.changeRoles(ctx, username, role, EventRoleGranted, func(roles []string) []string {
		if slices.Contains(roles, role) {
			return roles
		}
		return append(slices.Clone(roles), role)
	})
}

// RevokeRole takes a role away from a user.
func (s *Service) RevokeRole(ctx context.Context, username, role string) (*User, error) {
	return s.changeRoles(ctx, username, role, EventRoleRevoked, func(roles []string) []string {
		return slices.DeleteFunc(slices.Clone(roles), func(r string) bool { return r == role })
	})
}

func (s *Service) changeRoles(ctx context.Context, username, role string, kind EventKind, change func([]string) []string) (*User, error) {
	if err := ValidateRole(role); err != nil {
		return nil, err
	}
	key, ok := UsernameKey(username)
	if !ok {
		return nil, fmt.Errorf("no user %q", username)
	}
	now := s.clock()
	var user *User
	err := s.store.Tx(ctx, func(tx Store) error {
		found, _, err := tx.UserByUsername(ctx, key)
		if err != nil {
			return err
		}
		found.Roles = change(found.Roles)
		if err := tx.SetRoles(ctx, found.ID, found.Roles); err != nil {
			return err
		}
		// Other processes drop their cached copy of the user on sync.
		if err := tx.AppendRevocation(ctx, &Revocation{Kind: UserChanged, Subject: found.ID, UserID: found.ID,
			RevokedAt: now, ExpiresAt: now.Add(userCacheMaxAge)}); err != nil {
			return err
		}
		e := newEvent(kind, found.ID, found.Username, "", Client{}, now)
		e.Detail = role
		user = found
		return tx.RecordEvent(ctx, e)
	})
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("no user %q", username)
	}
	if err != nil {
		return nil, err
	}
	s.users.Invalidate(user.ID)
	return user, nil
}
