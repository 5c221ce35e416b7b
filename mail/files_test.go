package mail_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	keycardmail "github.com/keycard/keycard/mail"
	"github.com/keycard/keycard/mail/mailtest"
)

func filepathGlob(dir string) ([]string, error) { return filepath.Glob(filepath.Join(dir, "*.eml")) }

func TestDevelopmentWritesEachMailAsAnEmlFileOnlyTheOwnerReads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keycard-mail")
	outbox, clk := mailtest.NewOutbox(), newClock()
	w := newWorker(t, keycardmail.Config{Development: true, Dir: dir, Product: "Acme ID"}, outbox, keycardmail.Deps{Now: clk.Now})
	later := enqueueReset(t, outbox, "bob@example.com", clk.Now().Add(-time.Second))
	earlier := enqueueReset(t, outbox, "alice@example.com", clk.Now().Add(-time.Minute))
	sendDue(t, w, 2)

	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("mail directory: %v, %v; want mode 0700", info, err)
	}
	files, err := filepathGlob(dir)
	if err != nil || len(files) != 2 {
		t.Fatalf("files %v, %v; want 2", files, err)
	}
	slices.Sort(files)
	name := regexp.MustCompile(`^\d{8}T\d{6}\.\d{9}Z-(\d+)-password_reset\.eml$`)
	for i, id := range []int64{earlier, later} { // sorted by name is sorted by time
		m := name.FindStringSubmatch(filepath.Base(files[i]))
		if m == nil || m[1] != itoa(id) {
			t.Errorf("file %d is %s, want message %d's", i, filepath.Base(files[i]), id)
		}
		info, _ := os.Stat(files[i])
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", files[i], info.Mode().Perm())
		}
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	p := mailtest.Parse(t, raw)
	link := "https://app.acme.example/reset-password?token=alice@example.com"
	if p.Link("https://app.acme.example/reset-password?token=") != link || p.Header.Get("To") != "<alice@example.com>" || p.Subject != "Reset your Acme ID password" {
		t.Errorf("parsed %s: subject %q, to %q, text:\n%s", files[0], p.Subject, p.Header.Get("To"), p.Text)
	}
	// The link is greppable in the raw file: what docs/mail.md tells
	// developers to do.
	if !bytes.Contains(raw, []byte(link)) {
		t.Errorf("the raw file does not hold the link verbatim:\n%s", raw)
	}
	if r := row(t, outbox, earlier); r.SentAt.IsZero() {
		t.Error("a written mail was not marked sent")
	}
}

func TestWritingAMailTwiceLeavesOneFile(t *testing.T) {
	dir := t.TempDir()
	s, err := keycardmail.NewFileSender(dir, sender)
	if err != nil {
		t.Fatal(err)
	}
	r := resetMail(t)
	for range 2 {
		if err := s.Send(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want the one mail", len(entries))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
