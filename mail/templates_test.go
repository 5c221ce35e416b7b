package mail_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keycard/keycard/mail"
)

func loadTemplates(t *testing.T, dir string) *mail.Templates {
	t.Helper()
	templates, err := mail.LoadTemplates(dir, "Acme ID")
	if err != nil {
		t.Fatal(err)
	}
	return templates
}

// writeTemplates creates a directory holding files (name → content).
func writeTemplates(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestEmbeddedTemplatesRenderEveryMailWithProductAndLink(t *testing.T) {
	templates := loadTemplates(t, "")
	const link = "https://app.example.com/reset-password?token=abc123"
	for _, tc := range []struct {
		template    string
		data        map[string]string
		wantInText  []string
		wantSubject string
	}{
		{mail.TemplatePasswordReset, map[string]string{mail.DataLink: link, mail.DataUsername: "alice"}, []string{link, "alice", "one hour"}, "Reset your Acme ID password"},
		{mail.TemplateVerifyEmail, map[string]string{mail.DataLink: link}, []string{link, "alice@example.com", "24 hours"}, "Confirm your email address for Acme ID"},
		{mail.TemplateEmailChangeVerify, map[string]string{mail.DataLink: link}, []string{link, "alice@example.com", "current address"}, "Confirm your new email address for Acme ID"},
		{mail.TemplateEmailChangeNotice, map[string]string{mail.DataNewEmail: "new@example.org"}, []string{"new@example.org", "alice@example.com", "change it now"}, "Your Acme ID email address is being changed"},
	} {
		t.Run(tc.template, func(t *testing.T) {
			r, err := templates.Render(mail.Message{ID: 7, To: "alice@example.com", Template: tc.template, Data: tc.data, CreatedAt: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if r.Subject != tc.wantSubject {
				t.Errorf("subject = %q, want %q", r.Subject, tc.wantSubject)
			}
			for _, want := range append(tc.wantInText, "Acme ID") {
				if !strings.Contains(r.Text, want) {
					t.Errorf("text part lacks %q:\n%s", want, r.Text)
				}
				if !strings.Contains(r.HTML, want) {
					t.Errorf("HTML part lacks %q:\n%s", want, r.HTML)
				}
			}
			if tc.data[mail.DataLink] != "" && !strings.Contains(r.HTML, `href="`+link+`"`) {
				t.Errorf("HTML part does not link %s:\n%s", link, r.HTML)
			}
			if r.To != "alice@example.com" || r.ID != 7 || r.Template != tc.template {
				t.Errorf("rendered %+v lost the message's identity", r)
			}
		})
	}
}

func TestHTMLPartEscapesEveryValue(t *testing.T) {
	templates := loadTemplates(t, "")
	r, err := templates.Render(mail.Message{To: "a@example.com", Template: mail.TemplatePasswordReset, Data: map[string]string{
		mail.DataLink:     "javascript:alert(1)",
		mail.DataUsername: `<img src=x onerror="alert(1)">`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.HTML, "<img") || !strings.Contains(r.HTML, "&lt;img") {
		t.Errorf("username not escaped in HTML:\n%s", r.HTML)
	}
	if strings.Contains(r.HTML, `href="javascript:`) {
		t.Errorf("a javascript: link made it into href:\n%s", r.HTML)
	}
}

func TestRenderRefusesAnUnknownTemplateOrMissingData(t *testing.T) {
	templates := loadTemplates(t, "")
	for name, m := range map[string]mail.Message{
		"unknown template":       {To: "a@example.com", Template: "account_deleted"},
		"reset without link":     {To: "a@example.com", Template: mail.TemplatePasswordReset, Data: map[string]string{mail.DataUsername: "a"}},
		"notice without new":     {To: "a@example.com", Template: mail.TemplateEmailChangeNotice},
		"verify with empty link": {To: "a@example.com", Template: mail.TemplateVerifyEmail, Data: map[string]string{mail.DataLink: ""}},
	} {
		if _, err := templates.Render(m); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}

func TestRenderIgnoresDataKeysItDoesNotKnow(t *testing.T) {
	// A newer instance may enqueue more than this one reads.
	templates := loadTemplates(t, "")
	if _, err := templates.Render(mail.Message{To: "a@example.com", Template: mail.TemplateVerifyEmail, Data: map[string]string{mail.DataLink: "https://x.test/v?token=1", "locale": "de"}}); err != nil {
		t.Fatal(err)
	}
}

func TestSubjectStaysOneLineWhateverTheData(t *testing.T) {
	dir := writeTemplates(t, map[string]string{"password_reset.subject": "Reset for {{.Username}}\n"})
	r, err := loadTemplates(t, dir).Render(mail.Message{To: "a@example.com", Template: mail.TemplatePasswordReset, Data: map[string]string{
		mail.DataLink: "https://x.test/r?token=1", mail.DataUsername: "eve\r\nBcc: victim@example.com",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(r.Subject, "\r\n") || r.Subject != "Reset for eve Bcc: victim@example.com" {
		t.Errorf("subject = %q, want one line", r.Subject)
	}
}

func TestATemplateFileInTheDirectoryReplacesOnlyThatFile(t *testing.T) {
	dir := writeTemplates(t, map[string]string{
		"password_reset.txt":      "Custom reset for {{.Product}}: {{.Link}}\n",
		".password_reset.txt.swp": "editor junk is ignored {{",
	})
	r, err := loadTemplates(t, dir).Render(mail.Message{To: "a@example.com", Template: mail.TemplatePasswordReset, Data: map[string]string{mail.DataLink: "https://x.test/r?token=1"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Text != "Custom reset for Acme ID: https://x.test/r?token=1\n" {
		t.Errorf("text = %q, want the override", r.Text)
	}
	if !strings.Contains(r.HTML, "Choose a new password") || r.Subject != "Reset your Acme ID password" {
		t.Errorf("the HTML part and subject should stay embedded: %q\n%s", r.Subject, r.HTML)
	}
}

func TestBadTemplatesAreStartUpErrorsNamingTheFile(t *testing.T) {
	for _, tc := range []struct {
		name, file, content, want string
	}{
		{"syntax", "verify_email.html", "<p>{{.Link</p>", "verify_email.html"},
		{"unknown field", "verify_email.txt", "{{.Lnk}}", "verify_email.txt"},
		{"text without the link", "password_reset.txt", "Reset your password, {{.Username}}.", "password_reset.txt does not contain {{.Link}}"},
		{"HTML without the link", "email_change_verify.html", "<p>Confirm.</p>", "email_change_verify.html does not contain {{.Link}}"},
		{"empty subject", "email_change_notice.subject", "  \n", "email_change_notice.subject renders an empty subject"},
		{"unknown file", "pasword_reset.txt", "{{.Link}}", "pasword_reset.txt is not a template file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTemplates(t, map[string]string{tc.file: tc.content})
			_, err := mail.LoadTemplates(dir, "keycard")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadTemplates = %v, want an error with %q", err, tc.want)
			}
			err = mail.Config{Templates: dir}.Check()
			if err == nil || !strings.Contains(err.Error(), "KEYCARD_MAIL_TEMPLATES") {
				t.Errorf("Config.Check = %v, want it to name KEYCARD_MAIL_TEMPLATES", err)
			}
		})
	}
	t.Run("missing directory", func(t *testing.T) {
		if _, err := mail.LoadTemplates(filepath.Join(t.TempDir(), "nope"), "keycard"); err == nil {
			t.Error("a missing template directory loaded")
		}
	})
}
