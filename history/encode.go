package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// maxLineBytes bounds one encoded operation; real ones are a few hundred
// bytes, so a longer line means the file is not a history.
const maxLineBytes = 64 << 10

// Encode writes h as JSON lines, one operation per line, so a CI run can
// keep it as an artifact and Decode can read it back.
func Encode(w io.Writer, h History) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range h {
		if err := enc.Encode(&h[i]); err != nil {
			return fmt.Errorf("history: encode op %d: %w", i, err)
		}
	}
	return bw.Flush()
}

// Decode reads a history written by Encode. Blank lines are skipped; a
// field this package does not know is an error, so a typo in a hand-written
// history is not silently ignored.
func Decode(r io.Reader) (History, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLineBytes)
	var h History
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		var op Op
		if err := dec.Decode(&op); err != nil {
			return nil, fmt.Errorf("history: line %d: %w", line, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("history: line %d: more than one operation", line)
		}
		h = append(h, op)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return h, nil
}
