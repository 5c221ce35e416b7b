package config

import "strings"

// prefix is what every keycard variable starts with.
const prefix = "KEYCARD_"

// testPrefix marks the test suite's own switches (KEYCARD_TEST_MYSQL_URL),
// which a developer may well have exported in the shell that starts keycard.
const testPrefix = "KEYCARD_TEST_"

// removedVars are variables keycard once read, with what to do instead.
// Setting one is an error in every mode: it no longer does what the
// deployment relied on.
var removedVars = map[string]string{
	"KEYCARD_RATE_LIMIT_LOOPBACK": "per-address limits apply to every peer, loopback included; behind a proxy on this host set KEYCARD_TRUSTED_PROXIES=127.0.0.1,::1 so each client counts on its own, and unset KEYCARD_RATE_LIMIT_LOOPBACK",
}

// unknownVars returns the KEYCARD_* names in environ (KEY=value strings)
// that no setting reads, each with the nearest known name.
func unknownVars(environ []string) []UnknownVar {
	known := make(map[string]bool)
	for _, v := range Vars() {
		known[v.Name] = true
	}
	var unknown []UnknownVar
	seen := make(map[string]bool)
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, prefix) || strings.HasPrefix(name, testPrefix) || known[name] || seen[name] || removedVars[name] != "" {
			continue
		}
		seen[name] = true
		unknown = append(unknown, UnknownVar{Name: name, Suggestion: nearest(name)})
	}
	return unknown
}

// nearest is the known variable closest to name by edit distance, or ""
// when even the closest one is too far to be what was meant.
func nearest(name string) string {
	typed := strings.TrimPrefix(strings.ToUpper(name), prefix)
	best, bestCost := "", 0.0
	for _, v := range Vars() {
		candidate := strings.TrimPrefix(v.Name, prefix)
		cost := editCost(typed, candidate)
		if best == "" || cost < bestCost {
			best, bestCost = v.Name, cost
		}
	}
	// Half the candidate's length (at least 2) separates a typo from a
	// different word.
	if limit := max(2, float64(len(strings.TrimPrefix(best, prefix)))/2); bestCost > limit {
		return ""
	}
	return best
}

// editCost is the Levenshtein distance from typed to known, except for the
// two common slips that are no typo at all: abbreviating or leaving letters
// out (KEYCARD_DB_URL for KEYCARD_DATABASE_URL: typed is a subsequence of
// known), which costs a quarter per missing letter, and adding a word
// (KEYCARD_ACCESS_TOKEN_TTL), half per extra letter. Plain distance would
// take KEYCARD_DB_URL for KEYCARD_REDIS_URL.
func editCost(typed, known string) float64 {
	switch {
	case isSubsequence(typed, known):
		return float64(len(known)-len(typed)) / 4
	case isSubsequence(known, typed):
		return float64(len(typed)-len(known)) / 2
	}
	return float64(levenshtein(typed, known))
}

// isSubsequence reports whether every byte of short appears in long, in order.
func isSubsequence(short, long string) bool {
	i := 0
	for j := 0; i < len(short) && j < len(long); j++ {
		if short[i] == long[j] {
			i++
		}
	}
	return i == len(short)
}

// levenshtein counts the insertions, deletions and substitutions that turn
// a into b (names are ASCII).
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
