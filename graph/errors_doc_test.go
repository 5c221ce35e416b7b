package graph

import (
	"os"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/errcode"
)

// docs/errors.md is where client authors look up a code: every code this
// package can send has a row there (with its HTTP status). A code added to
// the mapping without a row fails here.
func TestErrorsDocListsEveryCode(t *testing.T) {
	doc, err := os.ReadFile("../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	sent := []string{CodeBadRequest, errcode.ParseFailed, errcode.ValidationFailed}
	for _, code := range codes {
		sent = append(sent, code)
	}
	for _, code := range sent {
		if !strings.Contains(string(doc), "\n| `"+code+"` | ") {
			t.Errorf("docs/errors.md has no row for %s", code)
		}
	}
}
