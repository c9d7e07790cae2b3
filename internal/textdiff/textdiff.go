// Package textdiff compares short texts (pipeline files) line by line: the longest common
// subsequence, computed whole.
package textdiff

import (
	"fmt"
	"strings"
)

// Line is a line of a diff: Op is ' ' (in both), '-' (the first text's only) or '+' (the
// second's only).
type Line struct {
	Op   byte
	Text string
}

// Lines is the change from a to b.
func Lines(a, b string) []Line {
	split := func(s string) []string {
		if s = strings.TrimRight(s, "\n"); s == "" {
			return nil
		}
		return strings.Split(s, "\n")
	}
	x, y := split(a), split(b)
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var lines []Line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			lines = append(lines, Line{' ', x[i]})
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			lines = append(lines, Line{'-', x[i]})
			i++
		default:
			lines = append(lines, Line{'+', y[j]})
			j++
		}
	}
	return lines
}

// Context renders the change from a to b: "- " a line of a only, "+ " a line of b only,
// and one unchanged line of context around each change ("…" where lines are left out).
func Context(a, b string) string {
	lines := Lines(a, b)
	near := func(k int) bool {
		for d := -1; d <= 1; d++ {
			if k+d >= 0 && k+d < len(lines) && lines[k+d].Op != ' ' {
				return true
			}
		}
		return false
	}
	var sb strings.Builder
	skipped := false
	for k, l := range lines {
		if !near(k) {
			if !skipped {
				sb.WriteString("  …\n")
			}
			skipped = true
			continue
		}
		skipped = false
		fmt.Fprintf(&sb, "%c %s\n", l.Op, l.Text)
	}
	return sb.String()
}
