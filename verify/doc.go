// Package verify checks keycard access tokens inside other Go services
// (resource servers, API gateways) without calling keycard for each
// request. It holds the Verifier (discovery, key cache, token checks, the
// revocation-feed follower), its http.Handler middleware and the Claims it
// yields. It imports golang-jwt v5 and the standard library only, nothing
// else of keycard, so any service can import it.
//
// # What is checked
//
// New reads keycard's RFC 8414 metadata from
// Issuer + "/.well-known/oauth-authorization-server", refuses a document
// naming another issuer, and fetches the JWKS it points to. Keys are cached
// for the JWKS's Cache-Control max-age (clamped to 30 s … 1 h; a failed
// refetch keeps the last good set); a token naming an unknown kid makes
// the verifier fetch the JWKS again, at most once per MinRefetchInterval,
// which picks up a key rotation without letting forged kids hammer keycard.
//
// Every token must pass the rules of RFC 8725: its alg is one of the pinned
// Algorithms and the one its key's JWK names (no "none", no algorithm
// confusion); typ is at+jwt; exp is present and not passed, nbf and iat
// not in the future (with Leeway); iss equals Issuer and aud contains
// Audience; sub, jti, sid and iat are present; base64 is strict; a crit
// header is refused and jku, x5u and jwk headers are ignored; a token over
// 8 KiB is refused unparsed. A token that passed once is remembered by its
// exact bytes, so later requests with it cost a map look-up and the time
// and revocation checks.
//
// # Revocation
//
// A signature stays valid after a logout. With Options.Credential (keycard's
// KEYCARD_INTROSPECTION_TOKEN) the Verifier follows keycard's revocation
// feed with long polls and refuses tokens of revoked sessions, revoked
// tokens and users cut off (password change, logout everywhere, disabled or
// deleted account) within a second of the revocation. It fails closed:
// when the feed has not answered for longer than MaxStaleness (10 s),
// Verify returns ErrFeedStale for every token (Middleware answers 503) until
// it answers again.
//
// Without a Credential a revoked token keeps verifying until its exp
// (keycard's KEYCARD_ACCESS_TTL, 15 minutes by default), and so do its
// roles after they change. That is the limit of offline verification; use
// a Credential wherever a logout must take effect at once.
//
// # Example
//
// A service that serves /api/profile to signed-in users only:
//
//	package main
//
//	import (
//		"context"
//		"fmt"
//		"log"
//		"net/http"
//		"os"
//		"os/signal"
//
//		"github.com/keycard/keycard/verify"
//	)
//
//	func main() {
//		// The verifier follows the feed for as long as this context lives.
//		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
//		defer stop()
//		v, err := verify.New(ctx, verify.Options{
//			Issuer:     "https://auth.example.com",               // keycard's KEYCARD_PUBLIC_URL
//			Credential: os.Getenv("KEYCARD_INTROSPECTION_TOKEN"), // follow revocations
//		})
//		if err != nil {
//			log.Fatal(err)
//		}
//		defer v.Close()
//
//		mux := http.NewServeMux()
//		mux.HandleFunc("GET /api/profile", func(w http.ResponseWriter, r *http.Request) {
//			claims, _ := verify.ClaimsFrom(r.Context()) // always there behind Middleware
//			if !claims.HasRole("editor") {
//				http.Error(w, "forbidden", http.StatusForbidden)
//				return
//			}
//			fmt.Fprintf(w, "hello, user %s\n", claims.Subject)
//		})
//		srv := &http.Server{Addr: ":8081", Handler: v.Middleware(mux)}
//		go func() {
//			<-ctx.Done()
//			srv.Shutdown(context.Background())
//		}()
//		if err := srv.ListenAndServe(); err != http.ErrServerClosed {
//			log.Fatal(err)
//		}
//	}
//
// Code that is not an http.Handler (a gRPC interceptor, a queue consumer)
// calls Verify and tells the error kinds apart with errors.Is:
// ErrInvalidToken and ErrRevoked mean "get a new token", ErrFeedStale and
// ErrUnavailable "retry later".
package verify
