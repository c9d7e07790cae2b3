package avro

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// Registry is a Confluent-compatible schema registry: it registers the schemas a writer
// uses and fetches, by id, the schemas of the records a reader gets, caching both.
type Registry struct {
	cl *sr.Client
	mu sync.Mutex
	// byID: schemas fetched or registered; ids: subject + "\x00" + schema → id.
	byID map[int]avro.Schema
	ids  map[string]int
}

// NewRegistry connects to the registry at url (user:password@ in it for basic auth).
func NewRegistry(rawURL string) (*Registry, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("the schema registry's url %q is not http(s)://host:port", Redact(rawURL))
	}
	opts := []sr.ClientOpt{}
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, sr.BasicAuth(u.User.Username(), pass))
		u.User = nil
	}
	opts = append(opts, sr.URLs(u.String()))
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("the schema registry at %s: %w", u.String(), err)
	}
	return &Registry{cl: cl, byID: map[int]avro.Schema{}, ids: map[string]int{}}, nil
}

// Redact hides the password of a URL.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return rawURL
	}
	return u.Redacted()
}

// Register registers s under subject (once: later calls are answered from the cache) and
// returns its id. A registry that refuses it (an incompatible change) says why.
func (r *Registry) Register(ctx context.Context, subject string, s avro.Schema) (int, error) {
	text := s.String()
	key := subject + "\x00" + text
	r.mu.Lock()
	id, ok := r.ids[key]
	r.mu.Unlock()
	if ok {
		return id, nil
	}
	id, err := r.cl.RegisterSchema(ctx, subject, sr.Schema{Schema: fullJSON(s), Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		return 0, fmt.Errorf("register the Avro schema %s under subject %s: %w", name(s), subject, err)
	}
	r.mu.Lock()
	r.ids[key], r.byID[id] = id, s
	r.mu.Unlock()
	return id, nil
}

// fullJSON is s as JSON with its properties (connect.name…), which the canonical form drops.
func fullJSON(s avro.Schema) string {
	if m, ok := s.(json.Marshaler); ok {
		if b, err := m.MarshalJSON(); err == nil {
			return string(b)
		}
	}
	return s.String()
}

func name(s avro.Schema) string {
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}

// Schema returns the schema of id.
func (r *Registry) Schema(ctx context.Context, id int) (avro.Schema, error) {
	r.mu.Lock()
	s, ok := r.byID[id]
	r.mu.Unlock()
	if ok {
		return s, nil
	}
	got, err := r.cl.SchemaByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("fetch schema %d from the registry: %w", id, err)
	}
	if got.Type != sr.TypeAvro {
		return nil, fmt.Errorf("schema %d is %s, not Avro", id, got.Type)
	}
	if s, err = avro.Parse(got.Schema); err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	r.mu.Lock()
	r.byID[id] = s
	r.mu.Unlock()
	return s, nil
}

// Subject names the subject of a topic's keys or values under a strategy, as the
// Confluent serializers do: topic-name (topic-key, topic-value), record-name (the
// record's full name) or topic-record-name (topic-fullname).
func Subject(strategy, topic string, s avro.Schema, key bool) string {
	switch strategy {
	case "record-name":
		return name(s)
	case "topic-record-name":
		return topic + "-" + name(s)
	}
	if key {
		return topic + "-key"
	}
	return topic + "-value"
}

// Strategies are the subject naming strategies Subject knows.
var Strategies = []string{"topic-name", "record-name", "topic-record-name"}

// AppendHeader appends Confluent's wire header: the magic byte 0 and the schema id.
func AppendHeader(b []byte, id int) []byte {
	return binary.BigEndian.AppendUint32(append(b, 0), uint32(id))
}

// SplitHeader reads Confluent's wire header off a record.
func SplitHeader(b []byte) (id int, rest []byte, err error) {
	if len(b) < 5 || b[0] != 0 {
		return 0, nil, errors.New("not Confluent's Avro framing (magic byte 0 and a schema id)")
	}
	return int(binary.BigEndian.Uint32(b[1:5])), b[5:], nil
}

// IsAvroFormat reports whether a format name is one of the Avro ones.
func IsAvroFormat(f string) bool { return strings.HasSuffix(f, "avro-confluent") }
