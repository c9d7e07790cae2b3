package mysql

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/mysqlconn"
	"github.com/weir-data/weir/internal/types"
)

// ReadRows reads the rows of s's target table (database s.ID.Schema) back into the
// unified form of s (the columns of s, in its order; extra target columns are not read),
// ordered by key. extra names weir's own columns to read after them as text (e.g.
// _weir_op); order overrides the ORDER BY. It is how tests compare a target with its
// source.
func ReadRows(c *client.Conn, s *event.Schema, extra []string, order string) ([]event.Row, [][]string, error) {
	if order == "" {
		keys := s.KeyNames()
		for i := range keys {
			keys[i] = quote(keys[i])
		}
		order = strings.Join(keys, ", ")
	}
	q := fmt.Sprintf("SELECT %s FROM %s.%s AS t", selectList(s, extra), quote(s.ID.Schema), quote(s.ID.Table))
	if order != "" {
		q += " ORDER BY " + order
	}
	if _, err := c.Execute("SET time_zone = '+00:00'"); err != nil {
		return nil, nil, err
	}
	res, err := c.Execute(q)
	if err != nil {
		return nil, nil, err
	}
	defer res.Close()
	return scanRows(res, s, len(extra))
}

// selectList reads s's columns in a form parseText takes, then the extra columns. Text is
// read as the server converts it to utf8mb4, in hex (mysqlconn.ServerText), so that what
// verify reads back depends neither on the connection's charset nor on the table's.
func selectList(s *event.Schema, extra []string) string {
	var cols []string
	for _, col := range s.Columns {
		switch {
		case col.Type.Kind == types.Float32:
			cols = append(cols, "t."+quote(col.Name)+" + 0e0") // MySQL prints FLOAT with 6 digits
		case serverText(col.Type.Kind):
			cols = append(cols, mysqlconn.ServerText("t."+quote(col.Name)))
		default:
			cols = append(cols, "t."+quote(col.Name))
		}
	}
	for _, e := range extra {
		cols = append(cols, mysqlconn.ServerText("t."+quote(e)))
	}
	return strings.Join(cols, ", ")
}

// scanRows turns a result of selectList(s, extra) into unified rows and the extras as text.
func scanRows(res *gomysql.Result, s *event.Schema, extra int) ([]event.Row, [][]string, error) {
	var out []event.Row
	var extras [][]string
	for r := range res.Values {
		row := make(event.Row, len(s.Columns))
		for i, col := range s.Columns {
			if null, _ := res.IsNull(r, i); null {
				continue
			}
			text := str(res, r, i)
			if serverText(col.Type.Kind) {
				var err error
				if text, err = mysqlconn.FromServerText([]byte(text)); err != nil {
					return nil, nil, fmt.Errorf("column %s: %w", col.Name, err)
				}
			}
			v, err := parseText(text, col.Type)
			if err != nil {
				return nil, nil, fmt.Errorf("column %s: %w", col.Name, err)
			}
			row[i] = v
		}
		out = append(out, row)
		if extra > 0 {
			var ex []string
			for i := len(s.Columns); i < len(s.Columns)+extra; i++ {
				v, err := mysqlconn.FromServerText([]byte(str(res, r, i)))
				if err != nil {
					return nil, nil, err
				}
				ex = append(ex, v)
			}
			extras = append(extras, ex)
		}
	}
	return out, extras, nil
}

// serverText reports whether values of kind k are text that selectList reads as the server
// converts it.
func serverText(k types.Kind) bool {
	return k == types.String || k == types.Enum || k == types.Set || k == types.JSON || k == types.UUID
}

// parseText turns MySQL's text output of a column of unified type t into a value.
func parseText(s string, t types.Type) (event.Value, error) {
	switch t.Kind {
	case types.Boolean:
		return event.Bool(s != "0"), nil
	case types.Int8, types.Int16, types.Int32, types.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		return event.Int(n), err
	case types.Uint64:
		n, err := strconv.ParseUint(s, 10, 64)
		return event.Uint(n), err
	case types.Float32, types.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if t.Kind == types.Float32 {
			f = float64(float32(f))
		}
		return event.Float(f), err
	case types.Decimal:
		if t.Precision <= 0 && strings.Contains(s, ".") {
			// An unbounded decimal is held as decimal(65,30), which pads the scale: the
			// value is the same, and the source's text had no such zeros.
			s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
		}
		return event.Decimal(s), nil
	case types.Bytes:
		return event.Bytes([]byte(s)), nil
	case types.Date:
		d, err := time.Parse(time.DateOnly, s)
		return event.Date(d.Unix() / 86400), err
	case types.Time:
		neg := strings.HasPrefix(s, "-")
		hms, frac, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
		parts := strings.Split(hms, ":")
		if len(parts) != 3 {
			return event.Value{}, fmt.Errorf("time %q", s)
		}
		var us int64
		for _, p := range parts {
			n, err := strconv.ParseInt(p, 10, 64)
			if err != nil {
				return event.Value{}, fmt.Errorf("time %q", s)
			}
			us = us*60 + n
		}
		us *= 1_000_000
		if frac != "" {
			f, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
			us += f
		}
		if neg {
			us = -us
		}
		return event.Time(us), nil
	case types.Timestamp, types.TimestampLTZ:
		ts, err := time.Parse("2006-01-02 15:04:05.999999", s)
		return event.Timestamp(ts.UnixMicro()), err
	case types.JSON, types.Array:
		return event.JSON(s), nil
	}
	return event.String(s), nil
}
