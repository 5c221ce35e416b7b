package graph

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	gqlast "github.com/vektah/gqlparser/v2/ast"
	gqlparser "github.com/vektah/gqlparser/v2/parser"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/graph/model"
)

// parseSchema reads schema.graphqls as written (not as gqlgen merged it
// with the built-in types).
func parseSchema(t *testing.T) *gqlast.SchemaDocument {
	t.Helper()
	input, err := os.ReadFile("schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := gqlparser.ParseSchema(&gqlast.Source{Name: "schema.graphqls", Input: string(input)})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// Codegen, GraphiQL and Apollo Sandbox show descriptions as the API's
// documentation: every type, field, argument, enum value and directive has
// one.
func TestSchemaDescribesEverything(t *testing.T) {
	doc := parseSchema(t)
	var missing []string
	need := func(what, description string) {
		if strings.TrimSpace(description) == "" {
			missing = append(missing, what)
		}
	}
	arguments := func(owner string, args gqlast.ArgumentDefinitionList) {
		for _, a := range args {
			need(fmt.Sprintf("argument %s(%s:)", owner, a.Name), a.Description)
		}
	}
	for _, defs := range []gqlast.DefinitionList{doc.Definitions, doc.Extensions} {
		for _, def := range defs {
			need(fmt.Sprintf("%s %s", strings.ToLower(string(def.Kind)), def.Name), def.Description)
			for _, f := range def.Fields {
				need(fmt.Sprintf("field %s.%s", def.Name, f.Name), f.Description)
				arguments(def.Name+"."+f.Name, f.Arguments)
			}
			for _, v := range def.EnumValues {
				need(fmt.Sprintf("enum value %s.%s", def.Name, v.Name), v.Description)
			}
		}
	}
	for _, d := range doc.Directives {
		need("directive @"+d.Name, d.Description)
		arguments("@"+d.Name, d.Arguments)
	}
	if len(missing) > 0 {
		t.Errorf("schema.graphqls: no description on\n  %s", strings.Join(missing, "\n  "))
	}
}

// A field behind @hasRole says so first thing in its description, so that
// a reader of the docs knows before trying it.
func TestRoleOnlyFieldsSayWhoMayUseThem(t *testing.T) {
	doc := parseSchema(t)
	checked := 0
	for _, defs := range []gqlast.DefinitionList{doc.Definitions, doc.Extensions} {
		for _, def := range defs {
			for _, f := range def.Fields {
				for _, d := range f.Directives.ForNames("hasRole") {
					checked++
					role := d.Arguments.ForName("role").Value.Raw
					want := strings.ToUpper(role[:1]) + role[1:] + " only"
					if !strings.HasPrefix(f.Description, want) {
						t.Errorf("%s.%s needs role %s: its description should start with %q: %q", def.Name, f.Name, role, want, f.Description)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no field with @hasRole found: the test no longer looks at the schema")
	}
}

// auditLogKinds are the EventKind constants declared in package auth: what
// the audit log can record, read from the source so that a kind added there
// and not to the schema fails this test.
func auditLogKinds(t *testing.T) []auth.EventKind {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "auth", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []auth.EventKind
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				if typ, ok := vs.Type.(*ast.Ident); !ok || typ.Name != "EventKind" {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: an EventKind constant that is not a string literal", fset.Position(v.Pos()))
					}
					value, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					kinds = append(kinds, auth.EventKind(value))
				}
			}
		}
	}
	if len(kinds) == 0 {
		t.Fatal("no EventKind constants found in package auth")
	}
	return kinds
}

// AuthEventKind has one value per kind the audit log records, and the two
// spellings convert both ways.
func TestAuthEventKindsMatchTheAuditLog(t *testing.T) {
	logged := auditLogKinds(t)
	for _, k := range logged {
		if v := eventKindModel(k); !v.IsValid() {
			t.Errorf("audit log kind %q has no AuthEventKind value (want %s in schema.graphqls)", k, v)
		} else if back := eventKind(v); back != k {
			t.Errorf("%q → %s → %q", k, v, back)
		}
	}
	for _, v := range model.AllAuthEventKind {
		if !slices.Contains(logged, eventKind(v)) {
			t.Errorf("AuthEventKind %s is no kind the audit log records", v)
		}
	}
}
