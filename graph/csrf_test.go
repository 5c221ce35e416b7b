package graph

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

const csrfRefused = "a mutation sent with the refresh cookie needs the X-CSRF-Protection header and an allowed Origin"

func cookieOptions(enabled bool) Options {
	return Options{Cookies: CookieMode{
		Enabled:        enabled,
		MaxAge:         time.Hour,
		Path:           "/graphql",
		Secure:         func(*http.Request) bool { return false },
		AllowedOrigins: []string{"https://app.example"},
	}}
}

// A cross-site page can make the browser send the refresh cookie with a
// mutation, but cannot add a non-simple header without CORS consent nor
// forge Origin. `mutation { __typename }` stands for any mutation: the
// check runs before a resolver would.
func TestCookieMutationNeedsCSRFProof(t *testing.T) {
	srv := newGraphServer(t, cookieOptions(true), nil)
	ownOrigin := "http://" + strings.TrimPrefix(srv.URL, "http://")
	cookie := []string{"Cookie", RefreshCookieName + "=refresh-token"}
	mutation := post(`{"query":"mutation { __typename }"}`)
	for _, tc := range []struct {
		name    string
		req     request
		refused bool
	}{
		{"cookie without header", mutation.with(cookie...), true},
		{"cookie with header from a foreign origin", mutation.with(cookie...).with("X-CSRF-Protection", "1", "Origin", "https://evil.example"), true},
		{"cookie with header from a look-alike origin", mutation.with(cookie...).with("X-CSRF-Protection", "1", "Origin", "https://app.example.evil.example"), true},
		{"cookie with X-CSRF-Protection and no Origin", mutation.with(cookie...).with("X-CSRF-Protection", "1"), false},
		{"cookie with Apollo-Require-Preflight", mutation.with(cookie...).with("Apollo-Require-Preflight", "true"), false},
		{"cookie with header from an allowed origin", mutation.with(cookie...).with("X-CSRF-Protection", "1", "Origin", "https://app.example"), false},
		{"cookie with header from the API's own origin", mutation.with(cookie...).with("X-CSRF-Protection", "1", "Origin", ownOrigin), false},
		{"no cookie", mutation, false},
		{"query with cookie", post(typenameQuery).with(cookie...), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := send(t, srv, tc.req)
			if tc.refused {
				rep.wantError(t, http.StatusForbidden, CodeForbidden, csrfRefused)
				return
			}
			if rep.status != http.StatusOK || len(rep.result(t).Errors) != 0 {
				t.Fatalf("status %d: %s", rep.status, rep.body)
			}
		})
	}

	t.Run("batch item", func(t *testing.T) {
		rep := send(t, srv, post(`[`+typenameQuery+`,{"query":"mutation { __typename }"}]`).with(cookie...))
		if rep.status != http.StatusOK {
			t.Fatalf("status %d: %s", rep.status, rep.body)
		}
		res := rep.results(t)
		if len(res) != 2 || res[0].Data["__typename"] != "Query" {
			t.Fatalf("the query did not run: %s", rep.body)
		}
		res[1].wantError(t, CodeForbidden, csrfRefused)
	})
}

func TestCSRFCheckIsOffWithoutCookieMode(t *testing.T) {
	srv := newGraphServer(t, cookieOptions(false), nil)
	rep := send(t, srv, post(`{"query":"mutation { __typename }"}`).with("Cookie", RefreshCookieName+"=refresh-token"))
	rep.wantTypename(t, "Mutation")
}

// The query limits run first: a document over them is refused as such,
// whatever its CSRF proof.
func TestQueryLimitsAreCheckedBeforeCSRF(t *testing.T) {
	opts := cookieOptions(true)
	opts.QueryLimits = testQueryLimits
	opts.QueryLimits.MaxAliases = 1
	srv := newGraphServer(t, opts, nil)
	rep := send(t, srv, post(`{"query":"mutation { a: __typename b: __typename }"}`).with("Cookie", RefreshCookieName+"=refresh-token"))
	rep.wantError(t, http.StatusBadRequest, "GRAPHQL_VALIDATION_FAILED", "query has 2 aliased fields; the limit is 1")
}
