// Package preview runs a pipeline's source and transform stage on a sample and shows what
// each sink table would receive, writing nothing (`weir preview`).
package preview

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
	"github.com/weir-data/weir/internal/transform"
)

// Options say what to preview.
type Options struct {
	Limit   int            // rows per sink table
	Table   *regexp.Regexp // source tables ("db.table") to read; nil: all
	Explain bool           // say, per source table, which part of the work runs where
	// ColumnTypes, when set, is the sink's type of each column of a sink table (its
	// SinkDef's), shown beside weir's.
	ColumnTypes func(s *event.Schema) []string
}

// sinkTable is what one sink table would receive.
type sinkTable struct {
	schema  *event.Schema
	sources []string
	rows    []event.Row
}

// errEnough stops a table's read once its sink tables have their rows.
var errEnough = errors.New("enough rows")

// Run reads up to o.Limit rows of each selected source table that pass the transforms
// (with the filter pushed down, as `weir run` would) and prints, per sink table, its
// schema and the rows, as JSON objects. tf may be nil (no transform or route).
func Run(ctx context.Context, src connector.Source, tf *transform.Transformer, o Options, w io.Writer) error {
	reader, ok := src.(connector.ChunkReader)
	if !ok {
		return connector.Unsupported("source", "preview (it reads tables, and this source has none to read)")
	}
	tables, err := src.Tables(ctx)
	if err != nil {
		return fmt.Errorf("resolve the source's tables: %w", err)
	}
	var selected []*event.Schema
	for _, s := range tables {
		if o.Table == nil || o.Table.MatchString(s.ID.Schema+"."+s.ID.Table) || o.Table.MatchString(s.ID.String()) {
			selected = append(selected, s)
		}
	}
	if len(selected) == 0 {
		return fmt.Errorf("no source table matches --table %s; the source has %s", o.Table, names(tables))
	}
	if tf == nil {
		tf = transform.New(nil, nil, transform.Options{})
	}
	if err := tf.Prepare(tables); err != nil {
		return err
	}
	dialect := ""
	sf, pushes := src.(connector.SnapshotFilter)
	if pushes {
		dialect = sf.SQLDialect()
	}
	sinks := map[string]*sinkTable{}
	var order []string
	for _, s := range selected {
		ex, err := tf.Explain(s, dialect)
		if err != nil {
			return err
		}
		if o.Explain {
			explain(w, ex)
		}
		if ex.Pushed != "" {
			sf.FilterSnapshot(s.ID, ex.Pushed)
		}
		full := func() bool {
			for _, name := range ex.Sinks {
				if st := sinks[name]; st == nil || len(st.rows) < o.Limit {
					return false
				}
			}
			return true
		}
		var out []event.Change
		read := func(c snapshot.Chunk) error {
			return reader.ReadChunk(ctx, s, c, func(rows []event.Row) error {
				for _, row := range rows {
					if full() {
						return errEnough
					}
					out, _, err = tf.Apply(out[:0], []event.Change{{Op: event.OpRead, Schema: s, After: row}})
					if err != nil {
						return err
					}
					for _, c := range out {
						name := c.Schema.ID.String()
						st := sinks[name]
						if st == nil {
							st = &sinkTable{}
							sinks[name] = st
							order = append(order, name)
						}
						st.schema = c.Schema
						if !strings.Contains(strings.Join(st.sources, ","), s.ID.String()) {
							st.sources = append(st.sources, s.ID.String())
						}
						if len(st.rows) < o.Limit {
							st.rows = append(st.rows, c.After)
						}
					}
				}
				return nil
			})
		}
		for c, err := range reader.SplitChunks(ctx, s, snapshot.SplitHint{Rows: max(4*o.Limit, 1024)}) {
			if err == nil {
				err = read(c)
			}
			if errors.Is(err, errEnough) || full() {
				break
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", s.ID, err)
			}
		}
	}
	for i, name := range order {
		if i > 0 || o.Explain {
			fmt.Fprintln(w)
		}
		st := sinks[name]
		fmt.Fprintf(w, "%s  (from %s; %d rows shown)\n", name, strings.Join(st.sources, ", "), len(st.rows))
		for _, c := range describe(st.schema, o.ColumnTypes) {
			fmt.Fprintf(w, "  %s\n", c)
		}
		for _, r := range st.rows {
			fmt.Fprintf(w, "%s\n", event.AppendImage(nil, st.schema, r))
		}
	}
	if len(order) == 0 {
		fmt.Fprintln(w, "no row passes the transforms' filters")
	}
	return nil
}

func explain(w io.Writer, ex transform.Explanation) {
	fmt.Fprintf(w, "source table %s → %s\n", ex.Table, strings.Join(ex.Sinks, ", "))
	if ex.Rule < 0 {
		fmt.Fprintln(w, "  no transform rule: every column, every row")
		return
	}
	fmt.Fprintf(w, "  transform rule %d\n", ex.Rule+1)
	for _, p := range ex.Projection {
		fmt.Fprintf(w, "    %s\n", p)
	}
	switch {
	case ex.Filter == "":
		fmt.Fprintln(w, "  filter: none")
	case ex.Pushed != "":
		fmt.Fprintf(w, "  filter, in the source's snapshot queries: %s\n", ex.Pushed)
		fmt.Fprintf(w, "  filter, in weir (every row, the pushed part again): %s\n", ex.Filter)
		if len(ex.Kept) > 0 {
			fmt.Fprintf(w, "    of which only weir can evaluate: %s\n", strings.Join(ex.Kept, " AND "))
		}
	default:
		fmt.Fprintf(w, "  filter, in weir only: %s\n", ex.Filter)
	}
}

// describe lists a schema's columns: name, type (and the sink's, where sinkTypes says),
// key and nullability.
func describe(s *event.Schema, sinkTypes func(*event.Schema) []string) []string {
	var native []string
	if sinkTypes != nil {
		native = sinkTypes(s)
	}
	out := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		line := c.Name + " " + c.Type.String()
		if i < len(native) {
			line += " (sink: " + native[i] + ")"
		}
		for _, k := range s.Key {
			if k == i {
				line += " key"
			}
		}
		if !c.Nullable {
			line += " not null"
		}
		out[i] = line
	}
	return out
}

func names(tables []*event.Schema) string {
	if len(tables) == 0 {
		return "none"
	}
	out := make([]string, len(tables))
	for i, s := range tables {
		out[i] = s.ID.Schema + "." + s.ID.Table
	}
	return strings.Join(out, ", ")
}

// Sample reads the first n rows of table s (fewer when it has fewer), in key order.
func Sample(ctx context.Context, reader connector.ChunkReader, s *event.Schema, n int) ([]event.Row, error) {
	var rows []event.Row
	for c, err := range reader.SplitChunks(ctx, s, snapshot.SplitHint{Rows: max(n, 1024)}) {
		if err == nil {
			err = reader.ReadChunk(ctx, s, c, func(rs []event.Row) error {
				rows = append(rows, rs[:min(len(rs), n-len(rows))]...)
				if len(rows) >= n {
					return errEnough
				}
				return nil
			})
		}
		if errors.Is(err, errEnough) || len(rows) >= n {
			break
		}
		if err != nil {
			return rows, fmt.Errorf("sample %s: %w", s.ID, err)
		}
	}
	return rows, nil
}

// errFollowed ends Follow once it has shown its changes.
var errFollowed = errors.New("enough changes")

// Follow shows the changes the source logs from now on as each sink table would receive
// them, one Debezium-style JSON line each (schema changes as comments), until ctx ends or
// limit changes have been shown (0: no limit). It refuses sources that would have to keep
// something on their server to stream (a PostgreSQL replication slot).
func Follow(ctx context.Context, src connector.Source, sourceType string, tf *transform.Transformer, o Options, limit int, w io.Writer) error {
	if _, ok := src.(connector.Dropper); ok {
		return fmt.Errorf("preview --follow would have to create a replication slot on the %s server, which outlives the preview; "+
			"preview without --follow, or run the pipeline into a console sink", sourceType)
	}
	tables, err := src.Tables(ctx)
	if err != nil {
		return fmt.Errorf("resolve the source's tables: %w", err)
	}
	if tf == nil {
		tf = transform.New(nil, nil, transform.Options{})
	}
	if err := tf.Prepare(tables); err != nil {
		return err
	}
	pos, err := src.Position(ctx)
	if err != nil {
		return fmt.Errorf("read the source's position: %w", err)
	}
	fmt.Fprintf(w, "# following the changes after %s; each line is what its sink table would receive\n", pos)
	shown := 0
	selected := func(id event.TableID) bool {
		return o.Table == nil || o.Table.MatchString(id.Schema+"."+id.Table) || o.Table.MatchString(id.String())
	}
	var out []event.Change
	err = src.Stream(ctx, pos, tables, func(ctx context.Context, b event.Batch) error {
		if b.Schema != nil {
			if !selected(b.Schema.Table) {
				return nil
			}
			changes, err := tf.SchemaChange(b.Schema)
			if err != nil {
				return err
			}
			for _, c := range changes {
				fmt.Fprintf(w, "# schema change: %s\n", c)
			}
			return nil
		}
		var in []event.Change
		for _, c := range b.Changes {
			if selected(c.Schema.ID) {
				in = append(in, c)
			}
		}
		var ddl []*event.SchemaChange
		if out, ddl, err = tf.Apply(out[:0], in); err != nil {
			return err
		}
		for _, c := range ddl {
			fmt.Fprintf(w, "# schema change: %s\n", c)
		}
		for i := range out {
			w.Write(append(event.AppendEnvelope(nil, &out[i], sourceType, time.Now().UnixMilli()), '\n'))
			if shown++; limit > 0 && shown >= limit {
				return errFollowed
			}
		}
		return nil
	})
	if errors.Is(err, errFollowed) || ctx.Err() != nil {
		return nil
	}
	return err
}
