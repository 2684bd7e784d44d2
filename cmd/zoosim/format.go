package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"zoosim/checker"
	"zoosim/report"
	"zoosim/scenarios"
)

// Output bounds: a failing run's report stays readable however long the
// run was.
const (
	maxOpsShown     = 40
	maxAppliedShown = 200
)

// hashText is how zoosim prints a trace hash everywhere (text and JSON):
// 16 lowercase hex digits, no prefix. A string, not a JSON number, because
// a 64-bit hash does not survive a float64 round trip.
func hashText(h uint64) string { return fmt.Sprintf("%016x", h) }

// writeJSON writes v as the one JSON object of a command's stdout.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// exitFor maps a verdict to the exit status.
func exitFor(v checker.Verdict) int {
	switch v {
	case checker.VerdictViolation:
		return exitViolation
	case scenarios.VerdictError:
		return exitHarness
	}
	return exitOK
}

// verdictLine says the verdict in words; an inconclusive verdict says that
// it is not a failure but not a pass either.
func verdictLine(v checker.Verdict) string {
	switch v {
	case checker.VerdictOK:
		return "verdict: ok"
	case checker.VerdictInconclusive:
		return "verdict: inconclusive (no violation found, but a check could not decide; exit status 0)"
	case scenarios.VerdictError:
		return "verdict: error (the harness failed: a bug in zoosim, not a violation of the service; exit status 2)"
	}
	return "verdict: " + string(v)
}

// printResults prints each checker's verdict, and for every checker that
// did not pass, its explanation, the ops and txns it points at (the ops
// printed from h when there is one) and its details.
func printResults(w io.Writer, results []checker.Result, h *checker.History) {
	width := 0
	for _, r := range results {
		width = max(width, len(r.Checker))
	}
	for _, r := range results {
		fmt.Fprintf(w, "  %-*s  %s\n", width, r.Checker, r.Verdict)
		if note := r.UncheckedNote(); note != "" {
			// Whatever the verdict: an ok that left ops unjudged says so.
			fmt.Fprintf(w, "      %s\n", indent(note, "      "))
		}
		if r.Verdict == checker.VerdictOK {
			continue
		}
		if r.Explanation != "" {
			fmt.Fprintf(w, "      %s\n", indent(r.Explanation, "      "))
		}
		if r.Verdict != checker.VerdictViolation {
			continue
		}
		if len(r.Ops) > 0 {
			fmt.Fprintf(w, "      ops involved (%d):\n", len(r.Ops))
			printOps(w, r.Ops, h, "        ")
		}
		if len(r.Txns) > 0 {
			zs := make([]string, len(r.Txns))
			for i, z := range r.Txns {
				zs[i] = z.String()
			}
			fmt.Fprintf(w, "      txns involved: %s\n", strings.Join(zs, " "))
		}
		if d := strings.TrimRight(r.Details, "\n"); d != "" {
			fmt.Fprintf(w, "      details:\n        %s\n", indent(d, "        "))
		}
	}
}

// uncheckedWhy is a result's unchecked counts by reason, for JSON (nil
// when it judged every op).
func uncheckedWhy(r checker.Result) map[string]int {
	if r.Unchecked == 0 {
		return nil
	}
	out := make(map[string]int, len(r.UncheckedWhy))
	for _, u := range r.UncheckedWhy {
		out[u.Why] = u.Ops
	}
	return out
}

// printOps prints the ops with the given IDs, one compact line each, at
// most maxOpsShown of them.
func printOps(w io.Writer, ids []int, h *checker.History, prefix string) {
	for i, id := range ids {
		if i == maxOpsShown {
			fmt.Fprintf(w, "%s... and %d more\n", prefix, len(ids)-maxOpsShown)
			return
		}
		if h == nil || id < 0 || id >= len(h.Ops) {
			fmt.Fprintf(w, "%s#%d (not in the history)\n", prefix, id)
			continue
		}
		fmt.Fprintf(w, "%s%s\n", prefix, formatOp(&h.Ops[id]))
	}
}

// formatOp prints an op on one line (see report.OpText).
func formatOp(op *checker.Op) string { return report.OpText(op) }

func indent(s, prefix string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}

// shellQuote quotes a word for a POSIX shell when it needs it, so that a
// printed command line can be pasted back.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,+@%", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// splitWords splits a command line as a POSIX shell would for plain words,
// single and double quotes and backslash escapes (no expansions).
func splitWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\\':
			if i+1 < len(line) {
				i++
				cur.WriteByte(line[i])
			}
			inWord = true
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte(`"\$`+"`", line[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, errors.New("unterminated double quote")
			}
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// sortedKeys returns m's keys in order, so that output never depends on
// map order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// plural says "1 server", "5 servers".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
