package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"
)

// embedded holds the default templates: NAME.subject, NAME.txt and
// NAME.html for every template keycard sends.
//
//go:embed templates/*
var embedded embed.FS

// TemplateData is what a template sees: {{.Product}}, {{.Link}}, ...
type TemplateData struct {
	// Product is the product name (Config.Product, default "keycard").
	Product string
	// To is the recipient's address.
	To string
	// Link is Message.Data[DataLink]: the reset or verification link.
	Link string
	// Username is Message.Data[DataUsername]; it may be empty.
	Username string
	// NewEmail is Message.Data[DataNewEmail] (email_change_notice).
	NewEmail string
}

// templateNeeds lists the templates keycard sends and the Data keys each
// cannot do without.
func templateNeeds() map[string][]string {
	return map[string][]string{
		TemplatePasswordReset:     {DataLink},
		TemplateVerifyEmail:       {DataLink},
		TemplateEmailChangeVerify: {DataLink},
		TemplateEmailChangeNotice: {DataNewEmail},
	}
}

// Parts of a template set, by file extension. The subject is text.
const (
	partSubject = ".subject"
	partText    = ".txt"
	partHTML    = ".html"
)

// maxTemplateBytes bounds one override file: a template is a page of text,
// and reading a huge file by mistake should fail start-up, not fill memory.
const maxTemplateBytes = 256 << 10

// Templates renders Messages. It is immutable once loaded and safe for
// concurrent use.
type Templates struct {
	product string
	sets    map[string]templateSet
}

type templateSet struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
	needs   []string
}

// Rendered is a Message turned into a mail, ready for a Sender.
type Rendered struct {
	// ID and CreatedAt are the Message's: they name .eml files and make
	// the Message-ID, so a mail sent twice (at least once) keeps its id.
	ID        int64
	CreatedAt time.Time
	Template  string
	To        string
	Subject   string
	Text      string
	HTML      string
}

// LoadTemplates parses the embedded templates, each file replaced by the
// one of the same name in dir when dir is set and holds it. HTML parts are
// html/template (every value escaped for its context), subjects and text
// parts text/template. A file that does not parse, a name no template has
// (a typo would silently keep the default), or a template that fails on
// sample data or leaves out the link is an error naming the file: a bad
// template stops start-up, not a mail at 3 a.m.
func LoadTemplates(dir, product string) (*Templates, error) {
	overrides := map[string]string{}
	var errs []error
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("mail templates: %w", err)
		}
		known := map[string]bool{}
		for name := range templateNeeds() {
			for _, part := range []string{partSubject, partText, partHTML} {
				known[name+part] = true
			}
		}
		for _, entry := range entries {
			name := entry.Name()
			if strings.HasPrefix(name, ".") {
				continue // editor swap files, .keep
			}
			path := filepath.Join(dir, name)
			if !known[name] || !entry.Type().IsRegular() {
				errs = append(errs, fmt.Errorf("mail templates: %s is not a template file (names are TEMPLATE.subject, TEMPLATE.txt, TEMPLATE.html for %s)", path, strings.Join(templateNames(), ", ")))
				continue
			}
			source, err := readTemplate(path)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			overrides[name] = source
		}
	}
	t := &Templates{product: product, sets: map[string]templateSet{}}
	for name, needs := range templateNeeds() {
		set, err := parseSet(name, needs, dir, overrides)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := t.check(name, set); err != nil {
			errs = append(errs, err)
			continue
		}
		t.sets[name] = set
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

func templateNames() []string {
	names := make([]string, 0, len(templateNeeds()))
	for name := range templateNeeds() {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func readTemplate(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("mail templates: %w", err)
	}
	defer f.Close()
	source, err := io.ReadAll(io.LimitReader(f, maxTemplateBytes+1))
	if err != nil {
		return "", fmt.Errorf("mail templates: %w", err)
	}
	if len(source) > maxTemplateBytes {
		return "", fmt.Errorf("mail templates: %s is larger than %d KiB", path, maxTemplateBytes>>10)
	}
	return string(source), nil
}

// parseSet parses one template's three parts, each from its override
// when there is one.
func parseSet(name string, needs []string, dir string, overrides map[string]string) (templateSet, error) {
	source := func(part string) (string, string, error) {
		file := name + part
		if s, ok := overrides[file]; ok {
			return filepath.Join(dir, file), s, nil
		}
		b, err := fs.ReadFile(embedded, "templates/"+file)
		return "embedded " + file, string(b), err
	}
	set := templateSet{needs: needs}
	var errs []error
	for _, part := range []string{partSubject, partText, partHTML} {
		origin, s, err := source(part)
		if err != nil {
			errs = append(errs, fmt.Errorf("mail templates: %s: %w", origin, err))
			continue
		}
		switch part {
		case partSubject:
			set.subject, err = texttemplate.New(origin).Option("missingkey=error").Parse(s)
		case partText:
			set.text, err = texttemplate.New(origin).Option("missingkey=error").Parse(s)
		case partHTML:
			set.html, err = htmltemplate.New(origin).Option("missingkey=error").Parse(s)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("mail templates: %w", err))
		}
	}
	return set, errors.Join(errs...)
}

// check renders a set with sample data: a template naming a field that
// does not exist fails here, and one that leaves out the link would send
// mails nobody can act on.
func (t *Templates) check(name string, set templateSet) error {
	const sampleLink = "https://app.example.com/sample?token=SAMPLE-TOKEN"
	data := TemplateData{Product: t.product, To: "someone@example.com", Link: sampleLink, Username: "someone", NewEmail: "new@example.com"}
	subject, text, html, err := set.execute(data)
	if err != nil {
		return err
	}
	var errs []error
	if strings.TrimSpace(subject) == "" {
		errs = append(errs, fmt.Errorf("mail templates: %s.subject renders an empty subject", name))
	}
	if slices.Contains(set.needs, DataLink) {
		if !strings.Contains(text, sampleLink) {
			errs = append(errs, fmt.Errorf("mail templates: %s.txt does not contain {{.Link}}", name))
		}
		if !strings.Contains(html, sampleLink) {
			errs = append(errs, fmt.Errorf("mail templates: %s.html does not contain {{.Link}}", name))
		}
	}
	return errors.Join(errs...)
}

func (set templateSet) execute(data TemplateData) (subject, text, html string, err error) {
	var s, tx, h bytes.Buffer
	if err := set.subject.Execute(&s, data); err != nil {
		return "", "", "", fmt.Errorf("mail templates: %w", err)
	}
	if err := set.text.Execute(&tx, data); err != nil {
		return "", "", "", fmt.Errorf("mail templates: %w", err)
	}
	if err := set.html.Execute(&h, data); err != nil {
		return "", "", "", fmt.Errorf("mail templates: %w", err)
	}
	return s.String(), tx.String(), h.String(), nil
}

// Render turns m into a mail. An unknown template or missing data is an
// error: a newer instance may have enqueued what this one cannot render,
// so the Worker retries rather than gives up at once.
func (t *Templates) Render(m Message) (Rendered, error) {
	set, ok := t.sets[m.Template]
	if !ok {
		return Rendered{}, fmt.Errorf("mail: unknown template %q", m.Template)
	}
	for _, key := range set.needs {
		if m.Data[key] == "" {
			return Rendered{}, fmt.Errorf("mail: template %s needs data %q", m.Template, key)
		}
	}
	subject, text, html, err := set.execute(TemplateData{
		Product:  t.product,
		To:       m.To,
		Link:     m.Data[DataLink],
		Username: m.Data[DataUsername],
		NewEmail: m.Data[DataNewEmail],
	})
	if err != nil {
		return Rendered{}, err
	}
	return Rendered{
		ID:        m.ID,
		CreatedAt: m.CreatedAt,
		Template:  m.Template,
		To:        m.To,
		// One line whatever the data held: a newline in a subject would
		// start a header of the attacker's choosing.
		Subject: strings.Join(strings.Fields(subject), " "),
		Text:    text,
		HTML:    html,
	}, nil
}
