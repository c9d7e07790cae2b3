package spec

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Problem is one thing wrong with a pipeline file, at a line and column.
type Problem struct {
	File      string
	Line, Col int    // 1-based; Col 0: the column is not known; Line 0: the file as a whole
	Path      string // "source.hostname", "route[1].source-table"; "" for the top level
	Msg       string // what is wrong and what to write instead; never a secret's value
}

// String renders the problem as "FILE:LINE:COL: PATH: MSG", leaving out what is unknown.
func (p Problem) String() string {
	loc := p.File
	switch {
	case p.Line > 0 && p.Col > 0:
		loc = fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	case p.Line > 0:
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Path == "" {
		return loc + ": " + p.Msg
	}
	return loc + ": " + p.Path + ": " + p.Msg
}

// Problems is every problem found in a file. It is the error Parse returns for a bad
// file; Parse returns them in line order.
type Problems []Problem

// Error renders one problem per line, in line and column order.
func (ps Problems) Error() string {
	sorted := append(Problems(nil), ps...)
	sorted.sort()
	lines := make([]string, len(sorted))
	for i, p := range sorted {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (ps Problems) sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Col < ps[j].Col
	})
}

// IsProblems reports whether err is (or wraps) a bad-file error.
func IsProblems(err error) bool {
	var ps Problems
	return errors.As(err, &ps)
}

// quote puts s in double quotes for a message. Unlike strconv.Quote it leaves
// backslashes alone, so that a regex reads as written; it escapes only what would make
// the message ambiguous.
func quote(s string) string {
	if strings.ContainsAny(s, "\"\n\r\t") || !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	return `"` + s + `"`
}

// didYouMean returns `; did you mean "x"?` for the candidate closest to s when it is
// close enough (edit distance at most max(2, len(s)/3), ignoring case) and differs from
// s by typos only: word for word (words split at '.', '-' and '_'), each word within a
// third of its length (a swap of two letters counting one). A candidate with a word more
// or less, or another word in its place, means something else: earliest-offset is not
// latest-offset, scan.binlog.newly-added-table.enabled not scan.newly-added-table.enabled.
func didYouMean(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := levenshtein(strings.ToLower(s), strings.ToLower(c)); d < bestD && typos(s, c) {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > max(2, len(s)/3) {
		return ""
	}
	return "; did you mean " + quote(best) + "?"
}

// typos reports whether a and b differ only by typos within their words (didYouMean).
func typos(a, b string) bool {
	split := func(s string) []string {
		return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == '.' || r == '-' || r == '_' })
	}
	wa, wb := split(a), split(b)
	if len(wa) != len(wb) {
		return false
	}
	for i := range wa {
		if osa(wa[i], wb[i]) > max(1, len(wb[i])/3) {
			return false
		}
	}
	return true
}

// osa is the edit distance between a and b in bytes where swapping two neighbours counts
// one edit (optimal string alignment).
func osa(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// levenshtein is the edit distance between a and b, in bytes.
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
