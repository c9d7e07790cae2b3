package cli

import (
	"fmt"
	"strings"
)

// lineDiff renders the change from a to b, line by line: "- " a line of a only, "+ " a
// line of b only, and one unchanged line of context around each change ("…" where lines
// are left out). Pipeline files are short: the longest common subsequence is computed
// whole.
func lineDiff(a, b string) string {
	x, y := strings.Split(strings.TrimRight(a, "\n"), "\n"), strings.Split(strings.TrimRight(b, "\n"), "\n")
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
	type line struct {
		mark byte
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			lines = append(lines, line{' ', x[i]})
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			lines = append(lines, line{'-', x[i]})
			i++
		default:
			lines = append(lines, line{'+', y[j]})
			j++
		}
	}
	near := func(k int) bool {
		for d := -1; d <= 1; d++ {
			if k+d >= 0 && k+d < len(lines) && lines[k+d].mark != ' ' {
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
		fmt.Fprintf(&sb, "%c %s\n", l.mark, l.text)
	}
	return sb.String()
}
