package mailtest

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"regexp"
	"strings"
	"testing"
)

// Parsed is an RFC 5322 message read back: its header and its decoded
// text and HTML parts.
type Parsed struct {
	Header mail.Header
	// Subject is the decoded Subject header.
	Subject string
	// ContentType is the top-level media type.
	ContentType string
	Text, HTML  string
}

// Parse reads a multipart/alternative mail as keycard sends it, failing
// the test when it is not one.
func Parse(t testing.TB, data []byte) Parsed {
	t.Helper()
	p, err := ParseMessage(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return p
}

// ParseMessage is Parse without a test.
func ParseMessage(data []byte) (Parsed, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return Parsed{}, fmt.Errorf("not an RFC 5322 message: %w", err)
	}
	p := Parsed{Header: msg.Header}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return Parsed{}, fmt.Errorf("subject: %w", err)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return Parsed{}, fmt.Errorf("content type: %w", err)
	}
	p.ContentType = mediaType
	if mediaType != "multipart/alternative" {
		return Parsed{}, fmt.Errorf("content type %s, want multipart/alternative", mediaType)
	}
	// multipart decodes quoted-printable parts itself.
	parts := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := parts.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Parsed{}, fmt.Errorf("parts: %w", err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			return Parsed{}, fmt.Errorf("part: %w", err)
		}
		partType, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		switch partType {
		case "text/plain":
			p.Text = string(body)
		case "text/html":
			p.HTML = string(body)
		default:
			return Parsed{}, fmt.Errorf("unexpected part %s", partType)
		}
	}
	if p.Text == "" || p.HTML == "" {
		return Parsed{}, fmt.Errorf("want a text and an HTML part, got text %t, HTML %t", p.Text != "", p.HTML != "")
	}
	return p, nil
}

var url = regexp.MustCompile(`https?://[^\s"<>]+`)

// Link is the first URL in the text part that starts with prefix ("" when
// there is none): Link("http://app.test/reset-password?token=").
func (p Parsed) Link(prefix string) string {
	for _, u := range url.FindAllString(p.Text, -1) {
		if strings.HasPrefix(u, prefix) {
			return u
		}
	}
	return ""
}
