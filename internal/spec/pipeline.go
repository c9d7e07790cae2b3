package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/weir-data/weir/internal/connector"
)

// PipelineSpec declares the pipeline block.
var PipelineSpec = connector.Spec{
	Type:    "pipeline",
	Summary: "Settings of the pipeline as a whole.",
	Fields: append([]connector.Field{
		{Name: "name", Type: connector.TypeString, Example: "shop-to-dw",
			Description: "The pipeline's name, any text (Sync MySQL Database to Doris). State, slots, server-ids and metrics go by an identifier made of it: the name itself where it is letters, digits, '.', '_' and '-', else the name in lower case with other characters made '-' (sync-mysql-database-to-doris; a digest is added when non-ASCII letters are dropped). Default: the file's name."},
		{Name: "parallelism", Type: connector.TypeInt, Default: "2", Min: connector.Int64(1), Max: connector.Int64(256),
			Description: "Snapshot chunks read at once, and sink writers (changes are partitioned over them by table and key)."},
		{Name: "checkpoint.interval", Type: connector.TypeDuration, Default: "5s",
			Description: "How often a checkpoint is taken."},
		{Name: "schema.change.behavior", Type: connector.TypeEnum, Default: "lenient",
			Enum:        []string{"ignore", "lenient", "try_evolve", "evolve", "exception"},
			Description: "What schema changes do to the sink."},
		{Name: "batch.max-rows", Type: connector.TypeInt, Default: "4096", Min: connector.Int64(1),
			Description: "A sink writer's batch is applied at this many changes…"},
		{Name: "batch.max-bytes", Type: connector.TypeBytes, Default: "4MiB", Min: connector.Int64(1),
			Description: "…or at this many bytes…"},
		{Name: "batch.max-delay", Type: connector.TypeDuration, Default: "100ms",
			Description: "…or after this long, whichever comes first."},
		{Name: "queue.max-bytes", Type: connector.TypeBytes, Default: "64MiB", Min: connector.Int64(1),
			Description: "Bytes of changes in flight between the source and the sink writers; the source waits beyond it."},
		{Name: "restart.backoff.initial", Type: connector.TypeDuration, Default: "1s",
			Description: "First wait before restarting after a retryable error; it doubles each time."},
		{Name: "restart.backoff.max", Type: connector.TypeDuration, Default: "1m",
			Description: "Longest wait between restarts."},
		{Name: "restart.max-attempts", Type: connector.TypeInt, Default: "0", Min: connector.Int64(0),
			Description: "Consecutive failed attempts before the pipeline fails. 0: never gives up once the pipeline has taken a checkpoint; before its first checkpoint (a pipeline that never connected) it fails after 5, with the reason."},
		{Name: "upgrade.rollback-within", Type: connector.TypeDuration,
			Description: "On a server (weir pipeline apply): if this version, applied to a running pipeline, fails within this long, the server puts the version before it back in force and resumes from the checkpoint. Unset: never."},
		{Name: "filter.pushdown", Type: connector.TypeBool, Default: "true",
			Description: "Has the source evaluate what it can of the transforms' filters in its snapshot queries, so that a filtered snapshot reads only the rows it keeps (docs/transform.md)."},
		{Name: "execution.runtime-mode", Type: connector.TypeEnum, Default: "streaming", Enum: []string{"streaming", "batch"},
			Description: "streaming: the snapshot (as the source's scan.startup.mode says), then every change, until stopped; batch: the snapshot only, then the pipeline finishes (Flink's idiom for a one-off copy, with scan.startup.mode: snapshot)."},
		{Name: "route-mode", Type: connector.TypeEnum, Default: "all_match", Enum: []string{"all_match", "first_match"},
			Description: "all_match: a table goes to the sink table of every route that matches it; first_match: only the first's (Flink CDC's route-mode), so that shards merge and the rest keep their names with a catch-all route after them."},
		{Name: "local-time-zone", Type: connector.TypeString, Default: "UTC",
			Description: "Time zone for temporal functions and for wall-clock types without a zone, e.g. Asia/Shanghai."},
	}, connector.FlinkPipelineOptions()...),
}

// RouteSpec declares an item of the route list.
var RouteSpec = connector.Spec{
	Type:    "route",
	Summary: "Each item sends the tables it matches to one sink table.",
	Fields: []connector.Field{
		{Name: "source-table", Type: connector.TypeTables, Required: true, Example: `shop.orders_\d+`,
			Description: "Tables to route: db.table regexes, comma-separated."},
		{Name: "sink-table", Type: connector.TypeString, Required: true, Example: "dw.orders",
			Description: "The sink table they go to."},
		{Name: "replace-symbol", Type: connector.TypeString,
			Description: "A symbol in sink-table replaced by each source table's name, e.g. <>. ($1, $2, … in sink-table are the groups of the source-table regexes.)"},
		{Name: "source-table-column", Type: connector.TypeString, Example: "src_table",
			Description: "Adds a column of this name, holding each row's source table (db.table), to the sink table and to its key: rows of merged tables whose keys collide stay apart."},
		{Name: "description", Type: connector.TypeString, Description: "Free text."},
	},
}

// TransformSpec declares an item of the transform list.
var TransformSpec = connector.Spec{
	Type:    "transform",
	Summary: "Each item projects and filters the tables it matches (the first matching item wins).",
	Fields: []connector.Field{
		{Name: "source-table", Type: connector.TypeTables, Required: true, Example: `shop.orders_\d+`,
			Description: "Tables to transform: db.table regexes, comma-separated."},
		{Name: "projection", Type: connector.TypeString, Description: "SELECT-list expressions, e.g. *, UPPER(status) AS status_code."},
		{Name: "filter", Type: connector.TypeString, Description: "A WHERE condition, e.g. amount > 0."},
		{Name: "primary-keys", Type: connector.TypeString, Description: "Columns of the sink table's key, comma-separated."},
		{Name: "partition-keys", Type: connector.TypeString, Description: "Columns to partition by, comma-separated."},
		{Name: "mask", Type: connector.TypeList, Example: "phone = partial(4), /.*e?mail.*/ = hash",
			Description: "Hides output columns: items SELECTOR = METHOD, where SELECTOR is column names or a /regex/ of them, and METHOD hash, partial(N), partial(F, N), null or encrypt (docs/transform.md)."},
		{Name: "mask.key", Type: connector.TypeString, Secret: true,
			Description: "The secret that the hash and encrypt masks use, e.g. ${WEIR_MASK_KEY}."},
		{Name: "mask.key-id", Type: connector.TypeString, Default: "default",
			Description: "The name of mask.key, written into encrypted values so readers know which key opens them."},
		{Name: "converter-after-transform", Type: connector.TypeEnum, Enum: []string{"soft_delete"},
			Description: "Flink CDC's converter: SOFT_DELETE turns each delete, once projected (__data_event_type__ is -D), into an insert of the deleted row, which the sink keeps."},
		{Name: "table-options", Type: connector.TypeString,
			Ignored:     "table options (bucket=10, replication_num=1) are for lake and OLAP sinks; weir's SQL sinks make tables with the source's columns and key",
			Description: "Flink CDC's options of the sink table; weir's SQL sinks make tables with the source's columns and key."},
		{Name: "description", Type: connector.TypeString, Description: "Free text."},
	},
}

var (
	validName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	nameBreaks = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)
)

// sanitizeName turns s into a valid pipeline name ("" if nothing is left of it).
func sanitizeName(s string) string {
	return strings.Trim(nameBreaks.ReplaceAllString(s, "-"), "-._")
}

// PipelineID is the identifier of a pipeline named title (pipeline.name is free text, as in
// Flink CDC): title itself when it is one already — letters, digits, '.', '_' and '-',
// starting with a letter or digit — so that existing pipelines keep
// their state; else title in lower case with each run of other characters made one '-',
// and, when letters or digits outside ASCII were dropped (or nothing is left), '-' and
// the first 8 hex digits of title's SHA-256, so that two such names stay apart:
//
//	"Sync MySQL Database to Doris" → sync-mysql-database-to-doris
//	"同步订单 orders"               → orders-e32ad1fd (the digest of the title)
func PipelineID(title string) string {
	if validName.MatchString(title) {
		return title
	}
	id := sanitizeName(strings.ToLower(title))
	dropped := strings.ContainsFunc(title, func(r rune) bool {
		return r > unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))
	})
	if len(id) > maxIDLen-9 {
		id, dropped = strings.TrimRight(id[:maxIDLen-9], "-._"), true
	}
	if dropped || id == "" {
		sum := sha256.Sum256([]byte(title))
		id = strings.TrimPrefix(id+"-"+hex.EncodeToString(sum[:4]), "-")
	}
	return id
}

// maxIDLen bounds a pipeline identifier (slot names hold 63 bytes with their prefix; a
// longer id is cut there, and named so).
const maxIDLen = 100

// settings parses the pipeline block into pl.Settings and its typed shortcuts, and checks
// what the field types cannot.
func (p *parser) settings(pl *Pipeline, top mapping) {
	at, n := top.entry("pipeline")
	m := mapping{node: top.node} // no pipeline block: all defaults
	if n != nil {
		var ok bool
		if m, ok = p.mapping(n, "pipeline", "a mapping of settings (keys indented under pipeline:)"); !ok {
			return
		}
	}
	s := p.fields(m, at, "pipeline", &PipelineSpec, "user-defined-function") // userFunctions reports it
	pl.Settings = s
	problemAt := func(name, format string, args ...any) {
		v := s.Values[name]
		p.addAt(v.Line, v.Col, "pipeline."+name, format, args...)
	}

	pl.Title = strings.TrimSpace(s.String("name"))
	switch {
	case !s.IsSet("name"):
		pl.Name = sanitizeName(strings.TrimSuffix(filepath.Base(pl.File), filepath.Ext(pl.File)))
		if pl.Name == "" {
			pl.Name = "pipeline"
		}
		pl.Title = pl.Name
	case pl.Title == "":
		problemAt("name", "the name is empty: name the pipeline, e.g. name: shop-to-dw (any text: Sync MySQL Database to Doris)")
	case strings.ContainsFunc(pl.Title, unicode.IsControl):
		problemAt("name", "the name holds a control character (a tab, a line break…): write it on one line")
	default:
		pl.Name = PipelineID(pl.Title)
	}
	pl.Parallelism = int(s.Int("parallelism"))
	pl.CheckpointInterval = s.Duration("checkpoint.interval")
	pl.FilterPushdown = s.Bool("filter.pushdown")
	pl.SchemaChangeBehavior = s.String("schema.change.behavior")
	pl.BatchMaxRows = int(s.Int("batch.max-rows"))
	pl.BatchMaxBytes = s.Int("batch.max-bytes")
	pl.BatchMaxDelay = s.Duration("batch.max-delay")
	pl.QueueMaxBytes = s.Int("queue.max-bytes")
	pl.RestartBackoffInitial = s.Duration("restart.backoff.initial")
	pl.RestartBackoffMax = s.Duration("restart.backoff.max")
	pl.RestartMaxAttempts = int(s.Int("restart.max-attempts"))
	pl.RollbackWithin = s.Duration("upgrade.rollback-within")
	pl.Batch = s.String("execution.runtime-mode") == "batch"
	pl.RouteFirstMatch = s.String("route-mode") == "first_match"

	if tz := s.String("local-time-zone"); s.Values["local-time-zone"] != nil {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			problemAt("local-time-zone", "unknown time zone %s: write an IANA name such as UTC or Asia/Shanghai", quote(tz))
		}
		pl.LocalTimeZone = loc
	}
	// Cross-checks, only between values that are themselves fine.
	if s.Values["queue.max-bytes"] != nil && s.Values["batch.max-bytes"] != nil && pl.QueueMaxBytes < pl.BatchMaxBytes {
		name := "queue.max-bytes"
		if !s.IsSet(name) {
			name = "batch.max-bytes"
		}
		problemAt(name, "queue.max-bytes (%s) is less than batch.max-bytes (%s): the queue must hold at least one batch",
			s.Values["queue.max-bytes"].Raw, s.Values["batch.max-bytes"].Raw)
	}
	if s.Values["restart.backoff.initial"] != nil && s.Values["restart.backoff.max"] != nil && pl.RestartBackoffMax < pl.RestartBackoffInitial {
		name := "restart.backoff.max"
		if !s.IsSet(name) {
			name = "restart.backoff.initial"
		}
		problemAt(name, "restart.backoff.max (%s) is less than restart.backoff.initial (%s)",
			s.Values["restart.backoff.max"].Raw, s.Values["restart.backoff.initial"].Raw)
	}
}
