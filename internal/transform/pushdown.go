package transform

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// Predicate pushdown: the part of a rule's filter that the source database can evaluate
// in its snapshot query, so that a filtered snapshot reads only (about) the rows it keeps.
//
// The filter's top-level AND terms are pushed one by one; a term is pushed only when the
// database's answer is certain to include every row weir's own evaluation keeps. weir still
// evaluates the whole filter on every row, so a pushed term may select more (never fewer):
//
//   - columns compared with literals, IS [NOT] NULL, BETWEEN, IN, LIKE, AND, OR, NOT;
//   - numbers (integers, decimals, doubles) in any position: both sides compare them alike;
//   - dates and wall-clock timestamps against literals that read as such, in any position;
//   - text only by =, IN and LIKE (without backslashes), and not under NOT: a database
//     collation may equate 'a' with 'A' or 'a ' (so it keeps more rows for =, which is
//     safe, but fewer for <>), and orders text by its own rules (so < is never pushed).
//
// Metadata columns, functions, arithmetic, booleans, floats, instants, enums and uuids stay
// in weir. The SQL quotes identifiers, and writes text literals so that no setting of the
// server changes how they read (MySQL: hexadecimal with a character set introducer;
// PostgreSQL: standard-conforming strings, which the source sets on its sessions).

// Dialects of SQL that pushdown writes.
const (
	DialectMySQL    = "mysql"
	DialectPostgres = "postgres"
)

// Pushdown splits the filter that applies to table s into the condition its source can
// evaluate in dialect (pushed, "" for none) and the terms only weir evaluates (kept, as
// written). weir evaluates the whole filter on every row either way.
func (t *Transformer) Pushdown(s *event.Schema, dialect string) (pushed string, kept []string, err error) {
	rule := t.ruleFor(s.ID)
	if rule == nil || strings.TrimSpace(rule.Filter) == "" {
		return "", nil, nil
	}
	if t.noPushdown {
		return "", []string{rule.Filter}, nil
	}
	sel, err := parseSelect("SELECT 1 FROM t WHERE " + rule.Filter)
	if err != nil {
		return "", nil, &CompileError{Table: s.ID, Expr: rule.Filter, Err: err}
	}
	var terms []ast.ExprNode
	var split func(e ast.ExprNode)
	split = func(e ast.ExprNode) {
		if b, ok := e.(*ast.BinaryOperationExpr); ok && b.Op == opcode.LogicAnd {
			split(b.L)
			split(b.R)
			return
		}
		if p, ok := e.(*ast.ParenthesesExpr); ok {
			if b, ok := p.Expr.(*ast.BinaryOperationExpr); ok && b.Op == opcode.LogicAnd {
				split(p.Expr)
				return
			}
		}
		terms = append(terms, e)
	}
	split(sel.Where)
	r := &sqlWriter{s: s, dialect: dialect}
	var out []string
	for _, term := range terms {
		if sql, ok := r.write(term, true); ok {
			out = append(out, sql)
		} else {
			kept = append(kept, restore(term))
		}
	}
	if len(out) == 0 {
		return "", kept, nil
	}
	return "(" + strings.Join(out, ") AND (") + ")", kept, nil
}

// ruleFor is the first rule that applies to table id, or nil.
func (t *Transformer) ruleFor(id event.TableID) *Rule {
	for i := range t.rules {
		if t.rules[i].matches(id) {
			return &t.rules[i]
		}
	}
	return nil
}

// sqlWriter writes a filter term in a dialect, or says it cannot.
type sqlWriter struct {
	s       *event.Schema
	dialect string
}

// class is what a column's values are, for pushdown.
type class uint8

const (
	classNone class = iota
	classNumber
	classText
	classTime
)

func classOf(t types.Type) class {
	switch t.Kind {
	case types.Int8, types.Int16, types.Int32, types.Int64, types.Uint64, types.Decimal, types.Float64:
		return classNumber
	case types.String:
		return classText
	case types.Date, types.Timestamp:
		return classTime
	}
	return classNone
}

// write renders e; positive says e's truth is not negated by what surrounds it.
func (w *sqlWriter) write(e ast.ExprNode, positive bool) (string, bool) {
	switch e := e.(type) {
	case *ast.ParenthesesExpr:
		in, ok := w.write(e.Expr, positive)
		return "(" + in + ")", ok
	case *ast.UnaryOperationExpr:
		if e.Op != opcode.Not && e.Op != opcode.Not2 {
			return "", false
		}
		in, ok := w.write(e.V, !positive)
		if _, paren := e.V.(*ast.ParenthesesExpr); paren {
			return "NOT " + in, ok
		}
		return "NOT (" + in + ")", ok
	case *ast.BinaryOperationExpr:
		switch e.Op {
		case opcode.LogicAnd, opcode.LogicOr:
			l, ok1 := w.write(e.L, positive)
			r, ok2 := w.write(e.R, positive)
			op := map[opcode.Op]string{opcode.LogicAnd: " AND ", opcode.LogicOr: " OR "}[e.Op]
			return "(" + l + ")" + op + "(" + r + ")", ok1 && ok2
		case opcode.EQ, opcode.NE, opcode.LT, opcode.LE, opcode.GT, opcode.GE:
			col, lit, flipped, ok := w.operands(e.L, e.R)
			if !ok {
				return "", false
			}
			c := classOf(w.s.Columns[col].Type)
			eq := e.Op == opcode.EQ && positive || e.Op == opcode.NE && !positive
			if c == classText && !eq {
				return "", false
			}
			v, ok := w.literal(lit, c)
			if !ok {
				return "", false
			}
			op := map[opcode.Op]string{opcode.EQ: "=", opcode.NE: "<>", opcode.LT: "<", opcode.LE: "<=", opcode.GT: ">", opcode.GE: ">="}[e.Op]
			if flipped {
				return v + " " + op + " " + w.ident(col), true
			}
			return w.ident(col) + " " + op + " " + v, true
		}
	case *ast.IsNullExpr:
		col, ok := w.column(e.Expr)
		if !ok || classOf(w.s.Columns[col].Type) == classNone {
			return "", false
		}
		if e.Not {
			return w.ident(col) + " IS NOT NULL", true
		}
		return w.ident(col) + " IS NULL", true
	case *ast.BetweenExpr:
		col, ok := w.column(e.Expr)
		if !ok {
			return "", false
		}
		c := classOf(w.s.Columns[col].Type)
		if c != classNumber && c != classTime {
			return "", false
		}
		lo, ok1 := w.literal(e.Left, c)
		hi, ok2 := w.literal(e.Right, c)
		not := map[bool]string{true: "NOT ", false: ""}[e.Not]
		return w.ident(col) + " " + not + "BETWEEN " + lo + " AND " + hi, ok1 && ok2
	case *ast.PatternInExpr:
		col, ok := w.column(e.Expr)
		if !ok || e.Sel != nil {
			return "", false
		}
		c := classOf(w.s.Columns[col].Type)
		if c == classNone || c == classText && (e.Not || !positive) {
			return "", false
		}
		items := make([]string, len(e.List))
		for i, item := range e.List {
			if items[i], ok = w.literal(item, c); !ok {
				return "", false
			}
		}
		not := map[bool]string{true: "NOT ", false: ""}[e.Not]
		return w.ident(col) + " " + not + "IN (" + strings.Join(items, ", ") + ")", true
	case *ast.PatternLikeOrIlikeExpr:
		col, ok := w.column(e.Expr)
		if !ok || !e.IsLike || e.Not || !positive || e.Escape != '\\' || classOf(w.s.Columns[col].Type) != classText {
			return "", false
		}
		v, ok := e.Pattern.(*test_driver.ValueExpr)
		if !ok || v.Kind() != test_driver.KindString || strings.Contains(v.GetString(), `\`) {
			return "", false
		}
		return w.ident(col) + " LIKE " + w.text(v.GetString()), true
	}
	return "", false
}

// operands finds a column compared with a literal, in either order.
func (w *sqlWriter) operands(l, r ast.ExprNode) (col int, lit ast.ExprNode, flipped, ok bool) {
	if c, ok := w.column(l); ok && isLiteral(r) {
		return c, r, false, true
	}
	if c, ok := w.column(r); ok && isLiteral(l) {
		return c, l, true, true
	}
	return 0, nil, false, false
}

func isLiteral(e ast.ExprNode) bool {
	if u, ok := e.(*ast.UnaryOperationExpr); ok && u.Op == opcode.Minus {
		e = u.V
	}
	_, ok := e.(*test_driver.ValueExpr)
	return ok
}

// column is the index of the source column e names (not a metadata column).
func (w *sqlWriter) column(e ast.ExprNode) (int, bool) {
	c, ok := e.(*ast.ColumnNameExpr)
	if !ok || c.Name.Table.O != "" {
		return 0, false
	}
	i := columnIndexFold(w.s, c.Name.Name.O)
	return i, i >= 0
}

func (w *sqlWriter) ident(i int) string {
	name := w.s.Columns[i].Name
	if w.dialect == DialectMySQL {
		return "`" + strings.ReplaceAll(name, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func (w *sqlWriter) text(s string) string {
	if w.dialect == DialectMySQL {
		if s == "" {
			return "_utf8mb4''"
		}
		return "_utf8mb4 X'" + hex.EncodeToString([]byte(s)) + "'"
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// literal renders literal e for a column of class c, when it is of that class.
func (w *sqlWriter) literal(e ast.ExprNode, c class) (string, bool) {
	neg := false
	if u, ok := e.(*ast.UnaryOperationExpr); ok && u.Op == opcode.Minus {
		neg, e = true, u.V
	}
	v, ok := e.(*test_driver.ValueExpr)
	if !ok {
		return "", false
	}
	switch v.Kind() {
	case test_driver.KindNull:
		return "NULL", !neg
	case test_driver.KindInt64, test_driver.KindUint64, test_driver.KindMysqlDecimal, test_driver.KindFloat64:
		if c != classNumber {
			return "", false
		}
		var s string
		switch v.Kind() {
		case test_driver.KindInt64:
			s = strconv.FormatInt(v.GetInt64(), 10)
		case test_driver.KindUint64:
			s = strconv.FormatUint(v.GetUint64(), 10)
		case test_driver.KindMysqlDecimal:
			s = v.GetMysqlDecimal().String()
		default:
			s = strconv.FormatFloat(v.GetFloat64(), 'g', -1, 64)
			if strings.ContainsAny(s, "eE") && w.dialect == DialectPostgres {
				s = "'" + s + "'::float8"
			}
		}
		if neg {
			s = "-" + s
		}
		return s, true
	case test_driver.KindString:
		if neg {
			return "", false
		}
		switch c {
		case classText:
			return w.text(v.GetString()), true
		case classTime:
			us, err := parseDateTime(v.GetString())
			if err != nil {
				return "", false
			}
			text := time.UnixMicro(us).UTC().Format("2006-01-02 15:04:05.999999")
			if w.dialect == DialectMySQL {
				return fmt.Sprintf("CAST(X'%s' AS DATETIME(6))", hex.EncodeToString([]byte(text))), true
			}
			return "'" + text + "'::timestamp", true
		}
	}
	return "", false
}
