package graph

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// The cookie that carries the refresh token in browser cookie mode.
const (
	// RefreshCookieName is its name in development, which may run over
	// plain HTTP.
	RefreshCookieName = "keycard_refresh"
	// HostRefreshCookieName is its name in production. Browsers accept a
	// __Host- cookie only with Secure, Path=/ and no Domain, so a page on
	// a sibling subdomain (or over plain HTTP) cannot plant one that
	// keycard would read: no session fixation by cookie injection.
	HostRefreshCookieName = "__Host-keycard_refresh"
)

// hostPrefix is the cookie prefix whose rules the browser enforces.
const hostPrefix = "__Host-"

// CookieMode configures browser cookie mode: the refresh token travels in an
// httpOnly cookie that page scripts cannot read, instead of in the body.
type CookieMode struct {
	Enabled bool
	// Name is the cookie's name (empty: RefreshCookieName). A __Host-
	// name is always sent Secure, whatever Secure says.
	Name string
	// MaxAge is the refresh token lifetime.
	MaxAge time.Duration
	// Path scopes the cookie: the GraphQL endpoint, or / (which a
	// __Host- cookie must have).
	Path string
	// Secure decides the cookie's Secure attribute for a request: always
	// in production, and in development whenever the request came over
	// HTTPS.
	Secure func(r *http.Request) bool
	// AllowedOrigins may send cookie-authenticated mutations (besides the
	// API's own origin).
	AllowedOrigins []string
}

type httpExchangeKey struct{}

// httpExchange gives resolvers the HTTP request and response of their
// operation: cookie mode reads and writes cookies there.
type httpExchange struct {
	w http.ResponseWriter
	r *http.Request
}

func withHTTP(ctx context.Context, w http.ResponseWriter, r *http.Request) context.Context {
	return context.WithValue(ctx, httpExchangeKey{}, &httpExchange{w: w, r: r})
}

func exchangeFrom(ctx context.Context) *httpExchange {
	x, _ := ctx.Value(httpExchangeKey{}).(*httpExchange)
	return x
}

func (m CookieMode) name() string {
	if m.Name == "" {
		return RefreshCookieName
	}
	return m.Name
}

// cookie is the refresh cookie with value, living maxAge seconds (-1:
// delete it): httpOnly, SameSite=Strict, never with a Domain (so it goes
// to keycard's own host only).
func (m CookieMode) cookie(r *http.Request, value string, maxAge int, expires time.Time) *http.Cookie {
	return &http.Cookie{
		Name:     m.name(),
		Value:    value,
		Path:     m.Path,
		MaxAge:   maxAge,
		Expires:  expires,
		HttpOnly: true,
		Secure:   m.Secure(r) || strings.HasPrefix(m.name(), hostPrefix),
		SameSite: http.SameSiteStrictMode,
	}
}

// setRefreshCookie hands the refresh token to the browser in the refresh
// cookie.
func (m CookieMode) setRefreshCookie(ctx context.Context, token string) {
	x := exchangeFrom(ctx)
	if x == nil {
		return
	}
	http.SetCookie(x.w, m.cookie(x.r, token, int(m.MaxAge.Seconds()), time.Now().Add(m.MaxAge)))
}

// clearRefreshCookie tells the browser to forget the refresh cookie.
func (m CookieMode) clearRefreshCookie(ctx context.Context) {
	x := exchangeFrom(ctx)
	if x == nil {
		return
	}
	http.SetCookie(x.w, m.cookie(x.r, "", -1, time.Unix(0, 0)))
}

// refreshCookie is the refresh token the browser sent, or "". Only the
// cookie of this mode's name counts: in production a keycard_refresh
// cookie, which anyone on a sibling subdomain could have planted, is
// ignored.
func (m CookieMode) refreshCookie(ctx context.Context) string {
	x := exchangeFrom(ctx)
	if x == nil {
		return ""
	}
	c, err := x.r.Cookie(m.name())
	if err != nil {
		return ""
	}
	return c.Value
}
