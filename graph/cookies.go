package graph

import (
	"context"
	"net/http"
	"time"
)

// RefreshCookieName is the cookie that carries the refresh token in browser
// cookie mode.
const RefreshCookieName = "keycard_refresh"

// CookieMode configures browser cookie mode: the refresh token travels in an
// httpOnly cookie that page scripts cannot read, instead of in the body.
type CookieMode struct {
	Enabled bool
	// MaxAge is the refresh token lifetime.
	MaxAge time.Duration
	// Path scopes the cookie to the GraphQL endpoint.
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

// setRefreshCookie hands the refresh token to the browser in an httpOnly,
// SameSite=Strict cookie scoped to the GraphQL path.
func (m CookieMode) setRefreshCookie(ctx context.Context, token string) {
	x := exchangeFrom(ctx)
	if x == nil {
		return
	}
	http.SetCookie(x.w, &http.Cookie{
		Name:     RefreshCookieName,
		Value:    token,
		Path:     m.Path,
		MaxAge:   int(m.MaxAge.Seconds()),
		Expires:  time.Now().Add(m.MaxAge),
		HttpOnly: true,
		Secure:   m.Secure(x.r),
		SameSite: http.SameSiteStrictMode,
	})
}

// clearRefreshCookie tells the browser to forget the refresh cookie.
func (m CookieMode) clearRefreshCookie(ctx context.Context) {
	x := exchangeFrom(ctx)
	if x == nil {
		return
	}
	http.SetCookie(x.w, &http.Cookie{
		Name:     RefreshCookieName,
		Value:    "",
		Path:     m.Path,
		MaxAge:   -1,
		Expires:  time.Unix(0, 0),
		HttpOnly: true,
		Secure:   m.Secure(x.r),
		SameSite: http.SameSiteStrictMode,
	})
}

// refreshCookie is the refresh token the browser sent, or "".
func refreshCookie(ctx context.Context) string {
	x := exchangeFrom(ctx)
	if x == nil {
		return ""
	}
	c, err := x.r.Cookie(RefreshCookieName)
	if err != nil {
		return ""
	}
	return c.Value
}
