package verify_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"

	"github.com/keycard/keycard/verify"
)

// A service that serves /api/profile to signed-in users only. (The same
// program as in the package documentation; compiled, not run, since it
// needs a keycard.)
func Example() {
	// The verifier follows the feed for as long as this context lives.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	v, err := verify.New(ctx, verify.Options{
		Issuer:     "https://auth.example.com",               // keycard's KEYCARD_PUBLIC_URL
		Credential: os.Getenv("KEYCARD_INTROSPECTION_TOKEN"), // follow revocations
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/profile", func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verify.ClaimsFrom(r.Context()) // always there behind Middleware
		if !claims.HasRole("editor") {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "hello, user %s\n", claims.Subject)
	})
	srv := &http.Server{Addr: ":8081", Handler: v.Middleware(mux)}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// Code that is not an http.Handler tells the error kinds apart: the client
// must get a new token, or retry later.
func ExampleVerifier_Verify() {
	v, err := verify.New(context.Background(), verify.Options{Issuer: "https://auth.example.com"})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	claims, err := v.Verify(context.Background(), os.Getenv("ACCESS_TOKEN"))
	switch {
	case errors.Is(err, verify.ErrInvalidToken), errors.Is(err, verify.ErrRevoked):
		fmt.Println("unauthenticated: sign in again")
	case errors.Is(err, verify.ErrFeedStale), errors.Is(err, verify.ErrUnavailable):
		fmt.Println("unavailable: retry later")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println("user", claims.Subject, "session", claims.SessionID, "mfa", claims.HasAMR("mfa"))
	}
}
