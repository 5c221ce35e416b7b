package mail

import (
	"context"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"

	gomail "github.com/wneessen/go-mail"
)

// FileSender writes each mail as an .eml file, for development without an
// SMTP server: any mail client opens one, and the link is plain text in
// it. The files hold live tokens, so the directory is the owner's alone.
type FileSender struct {
	dir  string
	from *mail.Address
}

// NewFileSender writes into dir, creating it (0700) when missing.
func NewFileSender(dir string, from *mail.Address) (*FileSender, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("KEYCARD_MAIL_DIR: %w", err)
	}
	return &FileSender{dir: dir, from: from}, nil
}

func (s *FileSender) String() string { return ".eml files in " + s.dir }

// fileTime sorts lexically as it sorts in time (fixed width, UTC).
const fileTime = "20060102T150405.000000000Z"

// Send writes r to DIR/TIME-ID-TEMPLATE.eml, TIME being when the mail was
// enqueued, so `ls` lists mails in order. The name is the message's: a
// second delivery (at least once) replaces the file instead of adding
// one. The file appears whole or not at all (written aside, then renamed).
func (s *FileSender) Send(ctx context.Context, r Rendered) error {
	// 8bit: a file is no SMTP hop, and undecoded text keeps the link
	// whole for grep.
	msg, err := compose(s.from, r, gomail.NoEncoding)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%s-%d-%s.eml", r.CreatedAt.UTC().Format(fileTime), r.ID, r.Template)
	tmp, err := os.CreateTemp(s.dir, ".writing-*") // 0600
	if err != nil {
		return &DeliveryError{Class: ClassFile, Err: err}
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := msg.WriteTo(tmp); err != nil {
		tmp.Close()
		return &DeliveryError{Class: ClassFile, Err: err}
	}
	if err := tmp.Close(); err != nil {
		return &DeliveryError{Class: ClassFile, Err: err}
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.dir, name)); err != nil {
		return &DeliveryError{Class: ClassFile, Err: err}
	}
	return nil
}
