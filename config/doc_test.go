package config

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docRow is a row of a variable table in docs/configuration.md:
// | `KEYCARD_NAME` | default | meaning |
var docRow = regexp.MustCompile("^\\| `(KEYCARD_[A-Z0-9_]+)` \\| ([^|]*) \\|")

// docs/configuration.md is the reference for operators: it must list every
// variable keycard reads, with the built-in default, and nothing keycard
// does not read. Whoever adds a variable to Vars adds its row there.
func TestConfigurationDocListsEveryVariable(t *testing.T) {
	file, err := os.Open("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	documented := map[string]string{} // name → default cell
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		m := docRow.FindStringSubmatch(scanner.Text())
		if m == nil {
			continue
		}
		if _, twice := documented[m[1]]; twice {
			t.Errorf("docs/configuration.md has two rows for %s", m[1])
		}
		documented[m[1]] = strings.TrimSpace(m[2])
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}

	var known []string
	for _, v := range Vars() {
		known = append(known, v.Name)
		cell, ok := documented[v.Name]
		switch {
		case !ok:
			t.Errorf("docs/configuration.md has no row for %s (default %q: %s)", v.Name, v.Default, v.Help)
		case v.Default != "" && cell != "`"+v.Default+"`":
			t.Errorf("docs/configuration.md gives %s the default %s; keycard's is `%s`", v.Name, cell, v.Default)
		}
	}
	for name := range documented {
		if !slices.Contains(known, name) {
			t.Errorf("docs/configuration.md documents %s, which keycard does not read (not in config.Vars)", name)
		}
	}
}
