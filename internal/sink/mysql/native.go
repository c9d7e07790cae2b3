package mysql

import (
	"strings"

	"github.com/weir-data/weir/internal/event"
)

// Same engine, same types. From a MySQL or MariaDB source, a MySQL / MariaDB sink makes a
// column of these types with the source's own type instead of the unified mapping
// (types.go), so that nothing changes type between two MariaDB servers: ENUM and SET
// with their members, BIT(n), YEAR, the spatial types, INET6, INET4 and UUID. Values of
// these arrive in forms the type takes (member names, the bits as bytes, the year, the
// server's geometry bytes, the address or UUID text).
var nativeNames = map[string]bool{
	"enum": true, "set": true, "bit": true, "year": true, "inet6": true, "inet4": true, "uuid": true,
	"geometry": true, "point": true, "linestring": true, "polygon": true, "multipoint": true,
	"multilinestring": true, "multipolygon": true, "geometrycollection": true,
}

// nativeType is the type column c of a MySQL / MariaDB source keeps in the sink, "" where
// the unified mapping applies. c.SourceType is the source's COLUMN_TYPE, perhaps followed
// by " charset X" and " collate Y" (the source's own notes).
func nativeType(c event.Column) string {
	ct := c.SourceType
	if i := strings.Index(ct, " charset "); i >= 0 {
		ct = ct[:i]
	}
	if i := strings.Index(ct, " collate "); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	name := strings.ToLower(ct)
	if i := strings.IndexAny(name, "( "); i >= 0 {
		name = name[:i]
	}
	if !nativeNames[name] {
		return ""
	}
	return ct
}

// sameNative reports whether a sink column's COLUMN_TYPE is the native type want.
func sameNative(have, want string) bool {
	norm := func(s string) string {
		s = strings.ToLower(strings.ReplaceAll(s, " ", ""))
		if s == "year(4)" {
			s = "year"
		}
		return s
	}
	return norm(have) == norm(want)
}
