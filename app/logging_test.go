package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// logBuffer collects log output from every goroutine of a server.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLogsNeverContainSecrets(t *testing.T) {
	t.Parallel()
	storetestEach(t, func(t *testing.T, dbURL string) {
		logs := &logBuffer{}
		logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		s := startServer(t, dbURL, withLogger(logger))

		const (
			password    = "first-secret-passphrase"
			newPassword = "second-secret-passphrase"
			wrong       = "wrong-secret-guess"
		)
		var secrets []string
		keep := func(p authPayload) authPayload {
			secrets = append(secrets, p.AccessToken, p.refresh(), strings.Split(p.AccessToken, ".")[2])
			return p
		}
		name := unique("logged")
		reg := keep(s.register(t, name, password))
		for range 5 {
			expectCode(t, s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": name, "password": wrong}}), "UNAUTHENTICATED")
		}
		login := keep(s.login(t, name, password))
		expectOK(t, s.me(t, login.AccessToken))
		var rotated authPayload
		resp := s.refresh(t, login.refresh())
		resp.into(t, "refresh", &rotated)
		keep(rotated)
		expectCode(t, s.refresh(t, login.refresh()), "UNAUTHENTICATED") // reuse
		expectOK(t, s.gql(t, reg.AccessToken, logoutMutation, nil))
		expectCode(t, s.me(t, reg.AccessToken), "UNAUTHENTICATED") // revoked token
		fresh := s.login(t, name, password)
		keep(fresh)
		resp = s.gql(t, fresh.AccessToken, changePasswordMutation, map[string]any{"current": password, "next": newPassword})
		expectOK(t, resp)
		var changed authPayload
		resp.into(t, "changePassword", &changed)
		keep(changed)
		if _, err := s.app.Service().GrantRole(context.Background(), name, "admin"); err != nil {
			t.Fatal(err)
		}
		expectCode(t, s.gql(t, "Bearer-garbage."+reg.AccessToken, meQuery, nil), "UNAUTHENTICATED")

		var hash string
		if err := s.rawDB(t).SQL.QueryRow("SELECT password_hash FROM users WHERE username = ?", name).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		s.stop() // flush background writers before reading the logs
		out := logs.String()
		secrets = append(secrets, password, newPassword, wrong, testSecret, hash, "$argon2id$")
		for _, secret := range secrets {
			if secret != "" && strings.Contains(out, secret) {
				t.Fatalf("logs contain a secret (%.12s…)", secret)
			}
		}
		// The logs did record what happened, so the check above means
		// something.
		for _, want := range []string{"repeated login failures", "refresh token reuse detected", "revoked access token used", `"msg":"request"`} {
			if !strings.Contains(out, want) {
				t.Errorf("logs lack %q", want)
			}
		}
	})
}
