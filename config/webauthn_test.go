package config

import (
	"slices"
	"strings"
	"testing"
)

func TestWebAuthnDevelopmentDefaultsToLocalhost(t *testing.T) {
	cfg, err := LoadEnv(env(map[string]string{"KEYCARD_ADDR": "127.0.0.1:9000"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.WebAuthn
	if !w.Enabled() || w.RPID != "localhost" || w.RPName != "keycard" ||
		!slices.Equal(w.Origins, []string{"http://localhost:5173", "http://localhost:9000"}) {
		t.Fatalf("development relying party: %+v", w)
	}
}

func TestWebAuthnSettings(t *testing.T) {
	production := map[string]string{"KEYCARD_ENV": "production", "KEYCARD_PUBLIC_URL": "https://auth.example.com", "KEYCARD_JWT_SECRET": productionSecret}
	with := func(base map[string]string, vars ...string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i < len(vars); i += 2 {
			out[vars[i]] = vars[i+1]
		}
		return out
	}
	for _, tt := range []struct {
		name    string
		env     map[string]string
		want    WebAuthn // when err is empty
		wantErr string
	}{
		{"production without either: off", production, WebAuthn{}, ""},
		{"production with both", with(production, "KEYCARD_WEBAUTHN_RP_ID", "Example.COM.", "KEYCARD_WEBAUTHN_ORIGINS", "https://app.example.com/, https://example.com:8443", "KEYCARD_WEBAUTHN_RP_NAME", "Example"),
			WebAuthn{RPID: "example.com", RPName: "Example", Origins: []string{"https://app.example.com", "https://example.com:8443"}}, ""},
		{"production RP ID alone", with(production, "KEYCARD_WEBAUTHN_RP_ID", "example.com"), WebAuthn{}, "KEYCARD_WEBAUTHN_ORIGINS is required with KEYCARD_WEBAUTHN_RP_ID"},
		{"production origins alone", with(production, "KEYCARD_WEBAUTHN_ORIGINS", "https://example.com"), WebAuthn{}, "KEYCARD_WEBAUTHN_RP_ID is required with KEYCARD_WEBAUTHN_ORIGINS"},
		{"production over plain HTTP", with(production, "KEYCARD_WEBAUTHN_RP_ID", "example.com", "KEYCARD_WEBAUTHN_ORIGINS", "http://app.example.com"), WebAuthn{}, "must be https in production"},
		{"production on localhost over HTTP", with(production, "KEYCARD_WEBAUTHN_RP_ID", "localhost", "KEYCARD_WEBAUTHN_ORIGINS", "http://localhost:3000"),
			WebAuthn{RPID: "localhost", RPName: "keycard", Origins: []string{"http://localhost:3000"}}, ""},
		{"origin off the RP ID", map[string]string{"KEYCARD_WEBAUTHN_RP_ID": "example.com", "KEYCARD_WEBAUTHN_ORIGINS": "https://example.com.evil.test"}, WebAuthn{}, "is not on KEYCARD_WEBAUTHN_RP_ID example.com"},
		{"origin that only ends like the RP ID", map[string]string{"KEYCARD_WEBAUTHN_RP_ID": "example.com", "KEYCARD_WEBAUTHN_ORIGINS": "https://badexample.com"}, WebAuthn{}, "is not on KEYCARD_WEBAUTHN_RP_ID"},
		{"development RP ID with the default origins", map[string]string{"KEYCARD_WEBAUTHN_RP_ID": "example.com"}, WebAuthn{}, "http://localhost:5173 is not on KEYCARD_WEBAUTHN_RP_ID example.com"},
		{"origin with a path", map[string]string{"KEYCARD_WEBAUTHN_ORIGINS": "http://localhost:5173/app"}, WebAuthn{}, "is not an origin"},
		{"RP ID with a scheme", map[string]string{"KEYCARD_WEBAUTHN_RP_ID": "https://example.com"}, WebAuthn{}, "is not a domain"},
		{"RP ID with a port", map[string]string{"KEYCARD_WEBAUTHN_RP_ID": "example.com:443"}, WebAuthn{}, "is not a domain"},
		{"RP ID an address", map[string]string{"KEYCARD_WEBAUTHN_RP_ID": "127.0.0.1", "KEYCARD_WEBAUTHN_ORIGINS": "http://127.0.0.1:5173"}, WebAuthn{}, "not an IP address"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadEnv(env(tt.env), nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.WebAuthn; got.RPID != tt.want.RPID || got.RPName != tt.want.RPName && tt.want.RPID != "" || !slices.Equal(got.Origins, tt.want.Origins) {
				t.Fatalf("WebAuthn %+v, want %+v", got, tt.want)
			}
			if got := cfg.WebAuthn.Enabled(); got != (tt.want.RPID != "") {
				t.Fatalf("Enabled() = %v", got)
			}
		})
	}
}
