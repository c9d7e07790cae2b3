package postgres

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/pgtext"
	"github.com/weir-data/weir/internal/types"
)

// ReadRows reads the rows of s's target table back into the unified form of s (the
// columns of s, in its order; extra target columns are not read), ordered by key. extra
// names weir's own columns to read after them as text (e.g. _weir_op); order overrides
// the ORDER BY. It is how tests compare a target with its source.
func ReadRows(ctx context.Context, conn *pgx.Conn, s *event.Schema, extra []string, order string) ([]event.Row, [][]string, error) {
	if order == "" {
		order = keyList(s)
	}
	q := fmt.Sprintf("SELECT %s FROM %s AS t", selectList(s, extra), quoteID(s.ID))
	if order != "" {
		q += " ORDER BY " + order
	}
	if _, err := conn.Exec(ctx, "SET TIME ZONE 'UTC'"); err != nil {
		return nil, nil, err
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	return scanRows(rows, s, len(extra))
}

// selectList reads s's columns as text, then the extra columns.
func selectList(s *event.Schema, extra []string) string {
	var cols []string
	for _, c := range s.Columns {
		switch c.Type.Kind {
		case types.Array: // a JSON column or a PostgreSQL array (native.go): both as JSON
			cols = append(cols, "to_json(t."+quote(c.Name)+")::text")
		case types.Decimal: // a numeric, or money (native.go), whose text has a currency sign
			cols = append(cols, "t."+quote(c.Name)+"::numeric::text")
		case types.String: // by the type's own output (format's %s): ::text drops a
			// character(n)'s blanks and adds an inet's netmask (native.go). num_nulls, not
			// IS NULL, which is true of a composite whose fields are all NULL: (,)
			q := "t." + quote(c.Name)
			cols = append(cols, "CASE WHEN num_nulls("+q+") = 1 THEN NULL ELSE format('%s', "+q+") END")
		default:
			cols = append(cols, "t."+quote(c.Name)+"::text")
		}
	}
	for _, e := range extra {
		cols = append(cols, "t."+quote(e)+"::text")
	}
	return strings.Join(cols, ", ")
}

// keyList is s's key columns, quoted, comma-separated.
func keyList(s *event.Schema) string {
	keys := s.KeyNames()
	for i := range keys {
		keys[i] = quote(keys[i])
	}
	return strings.Join(keys, ", ")
}

// scanRows turns rows of selectList(s, extra) into unified rows and the extras as text.
func scanRows(rows pgx.Rows, s *event.Schema, extra int) ([]event.Row, [][]string, error) {
	defer rows.Close()
	n := len(s.Columns) + extra
	var out []event.Row
	var extras [][]string
	for rows.Next() {
		vals := make([]*string, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		row := make(event.Row, len(s.Columns))
		for i, c := range s.Columns {
			if vals[i] == nil {
				continue
			}
			v, err := parseText(*vals[i], c.Type)
			if err != nil {
				return nil, nil, fmt.Errorf("column %s: %w", c.Name, err)
			}
			row[i] = v
		}
		out = append(out, row)
		if extra > 0 {
			var ex []string
			for _, v := range vals[len(s.Columns):] {
				if v == nil {
					ex = append(ex, "")
				} else {
					ex = append(ex, *v)
				}
			}
			extras = append(extras, ex)
		}
	}
	return out, extras, rows.Err()
}

// parseText turns PostgreSQL's text output of a column of unified type t into a value.
func parseText(s string, t types.Type) (event.Value, error) {
	switch t.Kind {
	case types.Boolean:
		return event.Bool(s == "t" || s == "true"), nil
	case types.Int8, types.Int16, types.Int32, types.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		return event.Int(n), err
	case types.Uint64:
		n, err := strconv.ParseUint(s, 10, 64)
		return event.Uint(n), err
	case types.Float32, types.Float64:
		switch s {
		case "NaN":
			return event.Float(math.NaN()), nil
		case "Infinity":
			return event.Float(math.Inf(1)), nil
		case "-Infinity":
			return event.Float(math.Inf(-1)), nil
		}
		bits := 64
		if t.Kind == types.Float32 {
			bits = 32
		}
		f, err := strconv.ParseFloat(s, bits)
		return event.Float(f), err
	case types.Decimal:
		return event.Decimal(s), nil
	case types.Bytes:
		b, err := hex.DecodeString(strings.TrimPrefix(s, `\x`))
		return event.Bytes(b), err
	case types.Date:
		d, err := pgtext.ParseDate(s)
		return event.Date(d), err
	case types.Time:
		us, err := pgtext.ParseTime(s)
		return event.Time(us), err
	case types.Timestamp, types.TimestampLTZ:
		us, err := pgtext.ParseTimestamp(s, t.Kind == types.TimestampLTZ)
		return event.Timestamp(us), err
	case types.JSON, types.Array:
		return event.JSON(s), nil
	}
	return event.String(s), nil
}
