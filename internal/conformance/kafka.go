package conformance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadKafka reads every committed record of topics, as a read_committed consumer does,
// up to each partition's last stable offset, and decodes the values (weir-json
// envelopes) as change records; tombstones and transaction markers are left out. dir
// holds a scratch file.
func ReadKafka(ctx context.Context, brokers []string, dir string, topics ...string) ([]Record, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords())
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	next := map[string]map[int32]int64{}
	remaining := func() bool {
		left := false
		ends.Each(func(o kadm.ListedOffset) {
			if next[o.Topic][o.Partition] < o.Offset {
				left = true
			}
		})
		return left
	}
	var lines []byte
	for remaining() {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read %v: %w", topics, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if next[r.Topic] == nil {
				next[r.Topic] = map[int32]int64{}
			}
			next[r.Topic][r.Partition] = r.Offset + 1
			if r.Value != nil && !r.Attrs.IsControl() {
				lines = append(append(lines, r.Value...), '\n')
			}
		})
	}
	path := filepath.Join(dir, "kafka-records.jsonl")
	if err := os.WriteFile(path, lines, 0o644); err != nil {
		return nil, err
	}
	return ReadJSONLines(path)
}
