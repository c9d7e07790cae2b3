package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaBoundedFetch: a read_committed consumer whose fetch bound cuts a partition's
// answer short gets none of the records of an aborted transaction (kfake left the
// aborted transactions out of such an answer; StartKafka mends it).
func TestKafkaBoundedFetch(t *testing.T) {
	k, err := StartKafka()
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	ctx := context.Background()
	admin, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := kadm.NewClient(admin).CreateTopic(ctx, 1, -1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	produce := func(prefix string, n int, commit bool) {
		var recs []*kgo.Record
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: "t", Key: fmt.Appendf(nil, "%s%d", prefix, i), Value: []byte("v")})
		}
		if err := k.ProduceInTransaction(ctx, "dies", recs, commit); err != nil {
			t.Fatal(err)
		}
	}
	produce("a", 300, false)
	produce("b", 50, true)
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"t": {0: kgo.NewOffset().At(0)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxBytes(1<<10), kgo.FetchMaxPartitionBytes(1<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[byte]int{}
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for seen['b'] < 50 && pctx.Err() == nil {
		cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { seen[r.Key[0]]++ })
	}
	if seen['a'] != 0 || seen['b'] != 50 {
		t.Fatalf("read %d records of the aborted transaction and %d of the 50 committed", seen['a'], seen['b'])
	}
}
