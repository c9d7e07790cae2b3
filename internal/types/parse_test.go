package types

import (
	"reflect"
	"testing"
)

// TestParseRoundTrips: every type Type.String writes parses back to itself.
func TestParseRoundTrips(t *testing.T) {
	int32T := Type{Kind: Int32}
	for _, ty := range []Type{{Kind: Boolean}, {Kind: Int8}, {Kind: Int64}, {Kind: Uint64}, {Kind: Float32},
		{Kind: Decimal}, {Kind: Decimal, Precision: 12, Scale: 2}, {Kind: String}, {Kind: String, Length: 64},
		{Kind: String, Length: 3, Fixed: true}, {Kind: Bytes, Length: 16}, {Kind: Date}, {Kind: Time, Precision: 3},
		{Kind: Timestamp, Precision: 6}, {Kind: TimestampLTZ, Precision: 0}, {Kind: JSON}, {Kind: UUID},
		{Kind: Enum, Values: []string{"a", "b"}}, {Kind: Set, Values: []string{"x", "y"}}, {Kind: Array, Elem: &int32T}} {
		got, err := Parse(ty.String())
		if err != nil || !reflect.DeepEqual(got, ty) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", ty.String(), got, err, ty)
		}
	}
}

// TestParseSQLNames: MySQL's and PostgreSQL's column types, as canal-json's mysqlType and
// PostgreSQL's catalogs write them.
func TestParseSQLNames(t *testing.T) {
	for in, want := range map[string]Type{
		"int(11)":                     {Kind: Int32},
		"bigint(20) unsigned":         {Kind: Uint64},
		"int unsigned":                {Kind: Int64},
		"tinyint(1)":                  {Kind: Boolean},
		"tinyint(4)":                  {Kind: Int8},
		"decimal(10,2)":               {Kind: Decimal, Precision: 10, Scale: 2},
		"numeric":                     {Kind: Decimal},
		"varchar(255)":                {Kind: String, Length: 255},
		"character varying(20)":       {Kind: String, Length: 20},
		"char(3)":                     {Kind: String, Length: 3, Fixed: true},
		"longtext":                    {Kind: String},
		"varbinary(16)":               {Kind: Bytes, Length: 16},
		"bytea":                       {Kind: Bytes},
		"datetime(3)":                 {Kind: Timestamp, Precision: 3},
		"timestamp":                   {Kind: TimestampLTZ},
		"timestamp without time zone": {Kind: Timestamp},
		"timestamp with time zone":    {Kind: TimestampLTZ},
		"time(6)":                     {Kind: Time, Precision: 6},
		"double precision":            {Kind: Float64},
		"jsonb":                       {Kind: JSON},
		"enum('a','b c')":             {Kind: Enum, Values: []string{"a", "b c"}},
		"integer[]":                   {Kind: Array, Elem: &Type{Kind: Int32}},
	} {
		got, err := ParseSQL(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if _, err := ParseSQL("geometry"); err == nil {
		t.Error("Parse(geometry): no error")
	}
}
