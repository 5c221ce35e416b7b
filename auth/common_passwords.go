package auth

import (
	"bufio"
	_ "embed"
	"strings"
	"sync"
)

//go:embed data/common-passwords.txt
var commonPasswordList string

// commonPasswords is the embedded list as a set, built on first use.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 10000)
	scanner := bufio.NewScanner(strings.NewReader(commonPasswordList))
	for scanner.Scan() {
		line := scanner.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[strings.ToLower(line)] = struct{}{}
	}
	return set
})

// isCommonPassword reports whether password is one of the 10,000 most
// common, ignoring case: "Password1" is guessed as early as "password1".
func isCommonPassword(password string) bool {
	_, found := commonPasswords()[strings.ToLower(password)]
	return found
}
