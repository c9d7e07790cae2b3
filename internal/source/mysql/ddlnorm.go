package mysql

import (
	"regexp"
	"strings"
	"sync"

	"github.com/pingcap/tidb/pkg/parser/charset"

	"github.com/weir-data/weir/internal/mysqlconn"
)

// normalizeDDL rewrites syntax of MariaDB 10.x/11.x and MySQL 8 that the TiDB parser
// lacks into what it knows, outside quoted text and comments, keeping everything weir
// reads of a statement (its tables, columns, types and charsets):
//
//	COLLATE x, x unknown to the parser   the parser's default collation of x's charset
//	                                     (utf8mb4_uca1400_ai_ci, utf8mb4_nopad_bin → …);
//	                                     dropped when x names no charset (uca1400_ai_ci)
//	CHARACTER SET / CHARSET DEFAULT      dropped (the table's or database's default)
//	CREATE OR REPLACE TABLE              CREATE TABLE, with orReplace set: the statement
//	                                     drops the table of that name first
//	ALTER ONLINE [IGNORE] TABLE          ALTER TABLE
//	ALGORITHM = NOCOPY                   ALGORITHM = INPLACE
//	YEAR(2), YEAR(4)                     YEAR
//	RENAME KEY|INDEX IF EXISTS           RENAME KEY|INDEX
//	[NOT] IGNORED (indexes), INVISIBLE   dropped: neither changes what a row holds
//	PERIOD FOR p(a, b), WITHOUT OVERLAPS dropped: application-time periods name columns
//	                                     declared anyway
//
// Every charset weir decodes is made known to the parser (it knows only a few by default).
func normalizeDDL(q string) (out string, orReplace bool) {
	parserCharsets.Do(registerCharsets)
	var b strings.Builder
	b.Grow(len(q))
	for _, seg := range splitQuoted(q) {
		if seg.quoted {
			b.WriteString(seg.text)
			continue
		}
		s := seg.text
		if createOrReplace.MatchString(s) {
			s, orReplace = createOrReplace.ReplaceAllString(s, "${1}CREATE${2}TABLE"), true
		}
		for _, r := range ddlRewrites {
			s = r.re.ReplaceAllString(s, r.to)
		}
		s = collateClause.ReplaceAllStringFunc(s, func(m string) string {
			name := collateClause.FindStringSubmatch(m)[1]
			if _, err := charset.GetCollationByName(name); err == nil {
				return m
			}
			cs, _, _ := strings.Cut(strings.ToLower(name), "_")
			if info, err := charset.GetCharsetInfo(cs); err == nil {
				return " COLLATE " + info.DefaultCollation
			}
			return " "
		})
		b.WriteString(s)
	}
	return b.String(), orReplace
}

var (
	createOrReplace = regexp.MustCompile(`(?i)^(\s*(?:/\*.*?\*/\s*)*)CREATE\s+OR\s+REPLACE(\s+(?:TEMPORARY\s+)?)TABLE`)
	collateClause   = regexp.MustCompile(`(?i)\s+COLLATE\s*=?\s*([A-Za-z0-9_]+)`)
	ddlRewrites     = []struct {
		re *regexp.Regexp
		to string
	}{
		{regexp.MustCompile(`(?i)(?:DEFAULT\s+)?(?:CHARACTER\s+SET|CHARSET)\s*=?\s*DEFAULT\b`), ""},
		{regexp.MustCompile(`(?i)\bALTER\s+ONLINE\s+(?:IGNORE\s+)?TABLE\b`), "ALTER TABLE"},
		{regexp.MustCompile(`(?i)\bALGORITHM\s*=?\s*NOCOPY\b`), "ALGORITHM = INPLACE"},
		{regexp.MustCompile(`(?i)\bYEAR\s*\(\s*[24]\s*\)`), "YEAR"},
		{regexp.MustCompile(`(?i)\bRENAME\s+(KEY|INDEX)\s+IF\s+EXISTS\b`), "RENAME $1"},
		{regexp.MustCompile(`(?i)\)\s*(?:NOT\s+)?IGNORED\b`), ")"},
		{regexp.MustCompile(`(?i)\s(?:NOT\s+)?INVISIBLE\b`), " "},
		{regexp.MustCompile(`(?i),\s*PERIOD\s+FOR\s+[A-Za-z0-9_$]+\s*\([^)]*\)`), ""},
		{regexp.MustCompile(`(?i),\s*WITHOUT\s+OVERLAPS\b`), ""},
	}
	parserCharsets sync.Once
)

// registerCharsets makes every charset weir decodes known to the parser, which otherwise
// refuses CHARACTER SET cp1251 and the like as unsupported. It changes the parser
// package's tables once, before this package parses anything.
func registerCharsets() {
	for _, cs := range mysqlconn.SupportedCharsets() {
		if info, err := charset.GetCharsetInfo(cs); info != nil && err != nil {
			charset.AddCharset(info)
		}
	}
}

// segment is a run of a statement: quoted (a string, a quoted identifier, a comment) or not.
type segment struct {
	text   string
	quoted bool
}

// splitQuoted cuts q into quoted and unquoted runs, so that rewrites touch SQL only.
func splitQuoted(q string) []segment {
	var out []segment
	start := 0
	emit := func(end int, quoted bool) {
		if end > start {
			out = append(out, segment{q[start:end], quoted})
		}
		start = end
	}
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			emit(i, false)
			j := i + 1
			for j < len(q) {
				if q[j] == '\\' && c != '`' {
					j += 2
					continue
				}
				if q[j] == c {
					if j+1 < len(q) && q[j+1] == c { // a doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			i = min(j+1, len(q))
			emit(i, true)
		case c == '/' && i+1 < len(q) && q[i+1] == '*' && !(i+2 < len(q) && q[i+2] == '!'):
			emit(i, false)
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				i = len(q)
			} else {
				i += end + 4
			}
			emit(i, true)
		default:
			i++
		}
	}
	emit(len(q), false)
	return out
}
