package kafka

import (
	"reflect"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-data/weir/internal/event"
)

// A decoder reads the changes one record holds (value.format). known is the tables
// learnt so far, by id, which decode adds to; announce is the schema change the engine
// must take before the changes: the record's table is new, or its shape changed.
// A tombstone (no value) never reaches a decoder.
type decoder interface {
	decode(r *kgo.Record, known map[event.TableID]*table) (changes []event.Change, announce *event.SchemaChange, err error)
}

// table is a table the stream knows: its schema, and the shape of the records it was
// learnt from (raw, to see it change; shape, what the decoder keeps of it).
type table struct {
	schema *event.Schema
	raw    string // "": known from the checkpoint's schemas, not yet from a record
	shape  any
}

// learn returns id's table for a record of shape raw, building it anew (build) when the
// table is new or raw differs from the shape it was learnt from. A new table is announced
// created; a changed one altered, unless it was known only from the checkpoint and its
// columns are the same.
func learn(known map[event.TableID]*table, id event.TableID, raw string, build func() (*event.Schema, any, error)) (*table, *event.SchemaChange, error) {
	t := known[id]
	if t != nil && t.raw == raw {
		return t, nil, nil
	}
	s, shape, err := build()
	if err != nil {
		return nil, nil, err
	}
	var announce *event.SchemaChange
	switch {
	case t == nil:
		announce = &event.SchemaChange{Kind: event.CreateTable, Table: id, After: s, DDL: "a table learnt from its first record"}
	case t.raw == "" && reflect.DeepEqual(t.schema.Columns, s.Columns):
	default:
		announce = &event.SchemaChange{Kind: event.AlterTable, Table: id, Before: t.schema, After: s, DDL: "the records' schema changed"}
	}
	t = &table{schema: s, raw: raw, shape: shape}
	known[id] = t
	return t, announce, nil
}
