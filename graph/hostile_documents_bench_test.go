package graph

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkHostileDocuments sends documents built to cost CPU through the
// real handler (default limits, introspection on as in development: the
// worse case, since production refuses introspection before measuring it)
// and reports the CPU time per request: cpu-ms/op, the mean (user and system
// time of the whole process, garbage collection included: other load on the
// machine does not inflate it the way it does wall time), and worst-cpu-ms,
// the most one request cost on its own. Each request
// differs from the last by a comment, so every one misses the query cache,
// as an attacker's would.
//
//	go test ./graph -run '^$' -bench HostileDocuments -benchtime 200x
func BenchmarkHostileDocuments(b *testing.B) {
	worstBatch := func(doc string) []string {
		batch := make([]string, defaultQueryLimits.MaxBatch)
		for i := range batch {
			batch[i] = doc
		}
		return batch
	}
	limits := defaultQueryLimits
	tokenLimit := tokensPerSelection * limits.MaxSelections
	for _, tc := range []struct {
		name string
		docs []string // more than one: a batch
	}{
		{"fragment doubling 24 levels", []string{fragmentDoubling(24)}},
		{"fragment doubling 30 levels", []string{fragmentDoubling(30)}},
		{"2900 repeated fields in 32 KB", []string{repeatedField(2900, "__typename")}},
		{"repeated fields at the selection limit", []string{repeatedField(limits.MaxSelections, "__typename")}},
		{"repeated nested fields at the selection limit", []string{repeatedField(limits.MaxSelections/2, "me { id }")}},
		{"999 nested fields", []string{nestedFields(999)}},
		{"999 nested inline fragments", []string{nestedInlineFragments(999)}},
		{"nested inline fragments at the selection limit", []string{nestedInlineFragments(limits.MaxSelections - 1)}},
		{"introspection ofType chain 200 deep", []string{ofTypeChain(200)}},
		{"introspection ofType chain at the depth limit", []string{ofTypeChain(limits.MaxIntrospectionDepth)}},
		{"introspection under 8 aliases", []string{aliasedIntrospection(b, 8)}},
		{"introspection of every field's type", []string{nestedIntrospectionLists(b)}},
		{"1800 aliases in 32 KB", []string{aliasedFields(1800)}},
		{"aliases at the limit", []string{aliasedFields(limits.MaxAliases)}},
		{"1700 directives in 32 KB", []string{repeatedDirectives(1700)}},
		{"directives at the token limit", []string{repeatedDirectives(tokenLimit/7 - 1)}},
		{"700 variables in 32 KB", []string{manyVariables(700)}},
		{"variables at the token limit", []string{manyVariables(tokenLimit/14 - 1)}},
		{"standard introspection (GraphiQL)", []string{introspectionQuery(b, "graphiql")}},
		{"variables at the limit", []string{variablesOfSize(limits.MaxDocumentBytes)}},
		{"64 KB of variables", []string{variablesOfSize(limits.maxBodyBytes())}},
		{"1 MB of variables", []string{variablesOfSize(1 << 20)}},
		{"batch of repeated fields at the selection limit", worstBatch(repeatedField(limits.MaxSelections, "__typename"))},
		{"batch of 2900 repeated fields in 32 KB", worstBatch(repeatedField(2900, "__typename"))},
		{"batch of 290 repeated fields in 3.2 KB", worstBatch(repeatedField(290, "__typename"))},
		{"batch of fragment doubling 30 levels", worstBatch(fragmentDoubling(30))},
		{"batch of standard introspection", worstBatch(introspectionQuery(b, "graphiql"))},
		{"batch of 1700 directives in 32 KB", worstBatch(repeatedDirectives(1700))},
		{"batch of directives at the token limit", worstBatch(repeatedDirectives(tokenLimit/7 - 1))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			handler := NewHandler(nil, Options{Introspection: true, QueryLimits: limits})
			i := 0
			body := func() string {
				items := make([]map[string]any, len(tc.docs))
				for j, doc := range tc.docs {
					i++
					items[j] = map[string]any{"query": fmt.Sprintf("#%d\n%s", i, doc)}
					if strings.HasPrefix(doc, variablesPrefix) {
						items[j] = map[string]any{"query": fmt.Sprintf("#%d\n{ __typename }", i), "variables": json.RawMessage(doc[len(variablesPrefix):])}
					}
				}
				var encoded []byte
				if len(items) == 1 {
					encoded, _ = json.Marshal(items[0])
				} else {
					encoded, _ = json.Marshal(items)
				}
				return string(encoded)
			}
			serve := func() time.Duration {
				req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body()))
				req.Header.Set("Content-Type", "application/json")
				before := cpuTime(b)
				handler.ServeHTTP(httptest.NewRecorder(), req)
				return cpuTime(b) - before
			}
			var total time.Duration
			for b.Loop() {
				total += serve()
			}
			b.ReportMetric(float64(total)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
			// The worst of one request on its own: with the heap collected
			// before it, so that it pays for its garbage only, not for
			// whichever collection its predecessors made due.
			var worst time.Duration
			for range worstOf {
				runtime.GC()
				worst = max(worst, serve())
			}
			b.ReportMetric(float64(worst)/float64(time.Millisecond), "worst-cpu-ms")
		})
	}
}

// variablesPrefix marks a benchmark case whose cost is its variables.
const variablesPrefix = "variables:"

// variablesOfSize is a case of variables {"a":[1,1,…]} about size bytes
// long: JSON that costs the most to decode for its size.
func variablesOfSize(size int) string {
	return variablesPrefix + `{"a":[` + strings.Repeat("1,", size/2-40) + `1]}`
}

// worstOf is how many requests of each case are measured one by one for
// the worst.
const worstOf = 50

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		b.Fatal(err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
