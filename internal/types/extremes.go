package types

// Extremes are the values a source engine's columns can hold beyond what every engine
// shares, which some sinks cannot take. `weir validate` warns of them per column, before
// a row that has one stops a pipeline.
type Extremes struct {
	TimeBeyondDay  bool // a Time below 00:00 or above 24:00 (MySQL TIME: ±838:59:59)
	NULInText      bool // U+0000 inside String, JSON, Enum or Set text
	NaN            bool // NaN and ±Infinity in Float32/Float64
	TimeBeyondYear bool // ±infinity and years before 1 or after 9999 in Date and Timestamp kinds
}

// SourceExtremes says which extremes the columns of a source of the given connector type
// can hold. weir's own test sources (datagen, file, …) hold none.
func SourceExtremes(sourceType string) Extremes {
	switch sourceType {
	case "mysql", "mariadb":
		return Extremes{TimeBeyondDay: true, NULInText: true}
	case "postgres":
		return Extremes{NaN: true, TimeBeyondYear: true}
	}
	return Extremes{}
}
