package mysql

import (
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/pingcap/tidb/pkg/parser/charset"

	"github.com/weir-data/weir/internal/event"
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
//	[NOT] IGNORED (indexes), INVISIBLE   dropped: neither changes what a row holds;
//	ALTER INDEX i [NOT] IGNORED, ADD or  FORCE (a no-op the parser knows)
//	DROP PERIOD FOR p
//	SPATIAL KEY / INDEX                  KEY / INDEX
//	[WITH|WITHOUT|ADD|DROP] SYSTEM       dropped (FORCE for ADD and DROP): a table's hidden
//	VERSIONING                           row_start and row_end are found in its binlog
//	                                     rows, whose history is left out (stream.go)
//	PERIOD FOR p(a, b), WITHOUT OVERLAPS dropped: application-time periods name columns
//	                                     declared anyway
//	c TYPE … COMPRESSED                  c TYPE …, and c in types as compressed
//	c INET6, c INET4, c UUID             c BINARY(16) / BINARY(4) / BINARY(16), and c in
//	                                     types: the column's real type, which the schema
//	                                     the statement makes takes back (typeColumns)
//
// Every charset weir decodes is made known to the parser (it knows only a few by default).
func normalizeDDL(q string) (out string, orReplace bool, types map[string]string) {
	parserCharsets.Do(registerCharsets)
	var b strings.Builder
	b.Grow(len(q))
	segs := splitQuoted(q)
	for i, seg := range segs {
		if seg.quoted {
			b.WriteString(seg.text)
			continue
		}
		s := seg.text
		// COMPRESSED columns: the keyword goes, the column is remembered.
		s = compressedColumn.ReplaceAllStringFunc(s, func(m string) string {
			sm := compressedColumn.FindStringSubmatch(m)
			if types == nil {
				types = map[string]string{}
			}
			types[sm[1]] = strings.ToLower(strings.Join(strings.Fields(sm[2]), "")) + " compressed"
			return sm[1] + " " + sm[2] + sm[3]
		})
		// Types the parser lacks, after a column name (in this run, or the quoted
		// identifier just before it).
		s = typedColumn.ReplaceAllStringFunc(s, func(m string) string {
			sm := typedColumn.FindStringSubmatch(m)
			name := sm[1]
			if name == "" && i > 0 && strings.HasPrefix(segs[i-1].text, "`") {
				name = strings.ReplaceAll(strings.Trim(segs[i-1].text, "`"), "``", "`")
			}
			if name == "" || strings.EqualFold(name, "AS") {
				return sm[0][:len(sm[0])-len(sm[2])] + binaryOf[strings.ToLower(sm[2])]
			}
			if types == nil {
				types = map[string]string{}
			}
			types[name] = strings.ToLower(sm[2])
			return sm[0][:len(sm[0])-len(sm[2])] + binaryOf[strings.ToLower(sm[2])]
		})
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
	return b.String(), orReplace, types
}

var (
	// typedColumn is a column (group 1, "" when it was quoted) of a type the parser lacks.
	typedColumn = regexp.MustCompile(`(?i)(?:^|([A-Za-z0-9_$]+))\s+(INET6|INET4|UUID)\b`)
	binaryOf    = map[string]string{"inet6": "BINARY(16)", "inet4": "BINARY(4)", "uuid": "BINARY(16)"}
	// compressedColumn is a column (1) of a type (2) with options (3) marked COMPRESSED.
	compressedColumn = regexp.MustCompile(`(?i)([A-Za-z0-9_$]+)\s+((?:TINY|MEDIUM|LONG)?(?:BLOB|TEXT)|(?:VARCHAR|VARBINARY|CHAR|BINARY)\s*\(\s*\d+\s*\))((?:\s+(?:CHARACTER\s+SET|CHARSET|COLLATE)\s+[A-Za-z0-9_]+)*)\s+COMPRESSED(?:\s*=\s*zlib)?\b`)
	createOrReplace  = regexp.MustCompile(`(?i)^(\s*(?:/\*.*?\*/\s*)*)CREATE\s+OR\s+REPLACE(\s+(?:TEMPORARY\s+)?)TABLE`)
	collateClause    = regexp.MustCompile(`(?i)\s+COLLATE\s*=?\s*([A-Za-z0-9_]+)`)
	ddlRewrites      = []struct {
		re *regexp.Regexp
		to string
	}{
		{regexp.MustCompile(`(?i)(?:DEFAULT\s+)?(?:CHARACTER\s+SET|CHARSET)\s*=?\s*DEFAULT\b`), ""},
		{regexp.MustCompile(`(?i)\bALTER\s+ONLINE\s+(?:IGNORE\s+)?TABLE\b`), "ALTER TABLE"},
		{regexp.MustCompile(`(?i)\bALGORITHM\s*=?\s*NOCOPY\b`), "ALGORITHM = INPLACE"},
		{regexp.MustCompile(`(?i)\bYEAR\s*\(\s*[24]\s*\)`), "YEAR"},
		{regexp.MustCompile(`(?i)\bRENAME\s+(KEY|INDEX)\s+IF\s+EXISTS\b`), "RENAME $1"},
		{regexp.MustCompile(`(?i)\)\s*(?:NOT\s+)?IGNORED\b`), ")"},
		{regexp.MustCompile(`(?i)\bALTER\s+(?:INDEX|KEY)\s+(?:IF\s+EXISTS\s+)?[A-Za-z0-9_$]+\s+(?:NOT\s+)?IGNORED\b`), "FORCE"},
		{regexp.MustCompile(`(?i)\b(?:DROP|ADD)\s+PERIOD\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?FOR\s+[A-Za-z0-9_$]+(?:\s*\([^)]*\))?`), "FORCE"},
		{regexp.MustCompile(`(?i)\bSPATIAL\s+(KEY|INDEX)\b`), "$1"},
		{regexp.MustCompile(`(?i)\b(?:ADD|DROP)\s+SYSTEM\s+VERSIONING\b`), "FORCE"},
		{regexp.MustCompile(`(?i)\bWITH(?:OUT)?\s+SYSTEM\s+VERSIONING\b`), ""},
		{regexp.MustCompile(`(?i)\s(?:NOT\s+)?INVISIBLE(\s*[,)]|\s*$|\s+(?:NOT|NULL|DEFAULT|COMMENT|PRIMARY|UNIQUE|KEY|AUTO_INCREMENT|COLLATE|CHARACTER|CHARSET|CHECK|REFERENCES|FIRST|AFTER|WITH|WITHOUT|AS|GENERATED)\b)`), "$1"},
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
			i = skipQuoted(q, i)
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

// typeColumns gives the columns of s named in types (normalizeDDL) their real type back,
// in a copy of s; s itself when none is there.
func typeColumns(s *event.Schema, types map[string]string) (*event.Schema, error) {
	if s == nil || len(types) == 0 {
		return s, nil
	}
	var out *event.Schema
	for i, c := range s.Columns {
		t, ok := types[c.Name]
		if !ok {
			continue
		}
		if out == nil {
			cp := *s
			cp.Columns = slices.Clone(s.Columns)
			out = &cp
		}
		ci := infoOf(c) // its charset and collation stay
		ci.ColumnType = t
		col, err := newColumn(ci)
		if err != nil {
			return nil, err
		}
		out.Columns[i].Type, out.Columns[i].SourceType = col.typ, col.srcType
	}
	if out == nil {
		return s, nil
	}
	return out, nil
}

// stripDefaults removes the DEFAULT clauses whose value is an expression rather than a
// literal (DEFAULT (a + 1), DEFAULT CURDATE(), DEFAULT COALESCE(x) …), outside quotes:
// MariaDB takes more of them than the parser does, and weir keeps only literal defaults
// (for the rows a new column fills) anyway. A statement the parser refuses is read again
// without them.
func stripDefaults(q string) string {
	var b strings.Builder
	depth := 0
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := skipQuoted(q, i)
			b.WriteString(q[i:j])
			i = j
			continue
		case c == '(':
			depth++
		case c == ')':
			depth--
		case (c == 'D' || c == 'd') && wordAt(q, i, "DEFAULT"):
			j := i + len("DEFAULT")
			for j < len(q) && (q[j] == ' ' || q[j] == '\t' || q[j] == '\n') {
				j++
			}
			if end, literal := defaultEnd(q, j, depth); !literal {
				i = end
				continue
			}
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

// defaultEnd finds where the value of a DEFAULT starting at j ends, and whether it is a
// literal (a number, a string, NULL, a bare CURRENT_TIMESTAMP).
func defaultEnd(q string, j, depth int) (end int, literal bool) {
	if j < len(q) && (q[j] == '\'' || q[j] == '"' || q[j] == '-' || q[j] == '+' || (q[j] >= '0' && q[j] <= '9')) {
		return j, true
	}
	for _, w := range []string{"NULL", "TRUE", "FALSE"} {
		if wordAt(q, j, w) {
			return j, true
		}
	}
	if wordAt(q, j, "CURRENT_TIMESTAMP") || wordAt(q, j, "NOW") {
		return j, true
	}
	d := depth
	k := j
	for k < len(q) {
		c := q[k]
		switch {
		case c == '\'' || c == '"' || c == '`':
			k = skipQuoted(q, k)
			continue
		case c == '(':
			d++
		case c == ')':
			if d == depth {
				return k, false
			}
			d--
		case c == ',' && d == depth:
			return k, false
		case d == depth && k > j && (q[k-1] == ' ' || q[k-1] == ')'):
			for _, w := range defaultStops {
				if wordAt(q, k, w) {
					return k, false
				}
			}
		}
		k++
	}
	return k, false
}

var defaultStops = []string{"NOT", "NULL", "COMMENT", "PRIMARY", "UNIQUE", "KEY", "AUTO_INCREMENT", "COLLATE", "CHARACTER",
	"CHARSET", "CHECK", "REFERENCES", "ON", "FIRST", "AFTER", "INVISIBLE", "WITH", "WITHOUT", "GENERATED", "AS"}

// wordAt reports whether the word w (any case) stands at q[i:], alone.
func wordAt(q string, i int, w string) bool {
	if i+len(w) > len(q) || !strings.EqualFold(q[i:i+len(w)], w) {
		return false
	}
	before := i == 0 || !isIdent(q[i-1])
	after := i+len(w) == len(q) || !isIdent(q[i+len(w)])
	return before && after
}

func isIdent(c byte) bool {
	return c == '_' || c == '$' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// skipQuoted returns where the quoted run that starts at q[i] ends.
func skipQuoted(q string, i int) int {
	c := q[i]
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
			return j + 1
		}
		j++
	}
	return len(q)
}
