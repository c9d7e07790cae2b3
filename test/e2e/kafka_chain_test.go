package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-data/weir/internal/avro"
	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/testenv"
)

// TestMariaDBKafkaPostgres is the platforms' busiest link end to end: MariaDB → weir →
// Kafka → weir → PostgreSQL, in debezium-json and in Avro with a schema registry. While
// transactions change the table, each weir process is SIGKILLed at random moments and
// started again, and the table gains a column (ADD COLUMN) mid-stream. Then:
//   - `weir verify` of MariaDB against PostgreSQL finds them equal (the whole chain);
//   - the PostgreSQL table has the new column (the Kafka → PostgreSQL pipeline evolved it);
//   - a read_committed consumer of the topic sees each change exactly once (the changelog
//     is clean per key);
//   - in Avro, the value subject has a second version, registered before the first record
//     of the new shape (every record's schema id is registered and decodes it).
func TestMariaDBKafkaPostgres(t *testing.T) {
	for _, f := range []string{"debezium-json", "debezium-avro-confluent"} {
		t.Run(f, func(t *testing.T) { kafkaChain(t, f) })
	}
}

func kafkaChain(t *testing.T, valueFormat string) {
	const rows = 20000
	db, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	pg, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	if err := pg.Exec(context.Background(), "postgres", "CREATE DATABASE dw"); err != nil {
		t.Fatal(err)
	}
	k, err := testenv.StartKafka()
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	formatYAML := "  value.format: " + valueFormat + "\n"
	var reg *testenv.SchemaRegistry
	if valueFormat == "debezium-avro-confluent" {
		if reg, err = testenv.StartSchemaRegistry(); err != nil {
			t.Fatal(err)
		}
		defer reg.Stop()
		formatYAML += "  debezium-avro-confluent.url: " + reg.URL + "\n"
	}
	if err := db.Exec("", fmt.Sprintf(`CREATE DATABASE shop; USE shop;
		CREATE TABLE orders (id BIGINT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40), amount DECIMAL(12,2), at DATETIME(3));
		INSERT INTO orders SELECT seq, seq %% 100, CONCAT('order ', seq), seq / 7, '2024-05-06 07:08:09.123' FROM seq_1_to_%d`, rows)); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	toKafka, toPG := filepath.Join(root, "a"), filepath.Join(root, "b")
	for _, d := range []string{toKafka, toPG} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(toKafka, "p.yaml"), fmt.Sprintf(`source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: root
  tables: shop.orders
sink:
  type: kafka
  properties.bootstrap.servers: %s
  topic.partitions: 3
%s  key.format: %s
pipeline:
  name: to-kafka
  parallelism: 2
  checkpoint.interval: 200ms
`, db.Port, k.Brokers[0], formatYAML, map[bool]string{true: "avro-confluent", false: "json"}[reg != nil]))
	writeFile(t, filepath.Join(toPG, "p.yaml"), fmt.Sprintf(`source:
  type: kafka
  properties.bootstrap.servers: %s
  topic: shop.orders
  scan.topic-partition-discovery.interval: 500ms
%ssink:
  type: postgres
  url: %s
pipeline:
  name: to-pg
  parallelism: 2
  checkpoint.interval: 200ms
`, k.Brokers[0], formatYAML, pg.URL("dw")))
	// What verify compares: MariaDB's table and the one PostgreSQL holds for it.
	writeFile(t, filepath.Join(root, "v.yaml"), fmt.Sprintf(`source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: root
  tables: shop.orders
sink:
  type: postgres
  url: %s
pipeline:
  name: to-pg
`, db.Port, pg.URL("dw")))

	conn, err := client.Connect(fmt.Sprintf("127.0.0.1:%d", db.Port), "root", "", "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex // the workload's connection, shared with the ALTER below
	wg.Add(1)
	txns := 0
	go func() {
		defer wg.Done()
		w := testenv.Workload{Exec: func(q string) error {
			mu.Lock()
			defer mu.Unlock()
			// Its columns named: the table gains one meanwhile.
			_, err := conn.Execute(strings.Replace(q, "INSERT INTO orders VALUES", "INSERT INTO orders (id, v, note, amount, at) VALUES", 1))
			return err
		}, Table: "orders", Existing: rows, Seed: 11, Pause: time.Millisecond,
			Insert: func(n int) string { return fmt.Sprintf("(%d, 1, 'new', 2.5, NOW(3))", n) },
			Where:  func(n int) string { return fmt.Sprintf("id = %d", n) },
			MoveTo: func(n int) string { return fmt.Sprintf("id = %d", n) },
			Update: "v = v + 1, note = 'upd'"}
		var err error
		if txns, err = w.Run(stop); err != nil {
			t.Error(err)
		}
	}()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	var all []*proc // every process, for a failure's report
	run := func(dir string) *proc {
		p := start(t, dir, "run", "--progress-interval", "2s", "p.yaml")
		all = append(all, p)
		return p
	}
	a, b := run(toKafka), run(toPG)
	for kill := range 6 {
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		for _, p := range []*proc{a, b} {
			if p.exited() {
				t.Fatalf("weir exited before it was killed:\n%s", p.stderr)
			}
		}
		if kill == 2 { // the table's shape changes mid-stream, beside the kills
			mu.Lock()
			_, err := conn.Execute("ALTER TABLE orders ADD COLUMN extra VARCHAR(20) NULL")
			if err == nil {
				_, err = conn.Execute("UPDATE orders SET extra = 'x' WHERE id % 50 = 0")
			}
			mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
		}
		switch kill % 3 { // the Kafka writer, the Kafka reader, or both
		case 0:
			a.signal(syscall.SIGKILL)
			a.wait(t, 30*time.Second)
			a = run(toKafka)
		case 1:
			b.signal(syscall.SIGKILL)
			b.wait(t, 30*time.Second)
			b = run(toPG)
		default:
			a.signal(syscall.SIGKILL)
			b.signal(syscall.SIGKILL)
			a.wait(t, 30*time.Second)
			b.wait(t, 30*time.Second)
			a, b = run(toKafka), run(toPG)
		}
	}
	close(stop)
	wg.Wait()

	// Once both have caught up, PostgreSQL equals MariaDB across the chain.
	var code int
	var out string
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(time.Second) { // paced polls of verify until both have caught up; the bound only ends a hung run
		if a.exited() || b.exited() {
			t.Fatalf("a pipeline stopped:\n%s\n%s", a.stderr, b.stderr)
		}
		if code, out = runWeir(t, root, "verify", "v.yaml"); code == 0 {
			break
		}
		if time.Now().After(deadline) {
			// What each side holds, and where each process is (Go prints its goroutines on SIGQUIT).
			cl, _ := kgo.NewClient(kgo.SeedBrokers(k.Brokers...))
			adm := kadm.NewClient(cl)
			ends, _ := adm.ListEndOffsets(context.Background(), "shop.orders")
			stable, _ := adm.ListCommittedOffsets(context.Background(), "shop.orders")
			cl.Close()
			for _, p := range []*proc{a, b} {
				p.signal(syscall.SIGQUIT)
				p.wait(t, 30*time.Second)
			}
			t.Fatalf("PostgreSQL does not equal MariaDB across the chain (weir verify):\n%s\ntopic ends %v, stable offsets %v\nthe topic's changes of those keys:\n%s\nevery record of those keys, read uncommitted:\n%s\nthe processes:\n%s",
				out, ends, stable, keyHistory(t, k.Brokers, reg, out), rawHistory(t, k.Brokers, out), logsOf(all))
		}
	}
	for _, p := range []*proc{a, b} {
		p.signal(syscall.SIGTERM)
		if c := p.wait(t, 30*time.Second); c != 0 {
			t.Fatalf("exit %d:\n%s", c, p.stderr)
		}
	}
	pc, err := pgx.Connect(context.Background(), pg.URL("dw"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(context.Background())
	var extras int
	if err := pc.QueryRow(context.Background(), `SELECT count(*) FROM shop.orders WHERE extra = 'x'`).Scan(&extras); err != nil || extras == 0 {
		t.Fatalf("the column added at the source, in PostgreSQL: %d rows with it set, %v", extras, err)
	}

	// A read_committed consumer sees each change once.
	recs := readChain(t, k.Brokers, reg)
	if err := conformance.CheckChangelog(recs, map[string][]string{"shop.orders": {"id"}}); err != nil {
		t.Fatal(err)
	}
	if reg != nil {
		if v := reg.Versions("shop.orders-value"); len(v) < 2 {
			t.Fatalf("value subject versions %v: ADD COLUMN registered no new version", v)
		}
	}
	t.Logf("%s: 6 kills, %d concurrent transactions, %d records in the topic; verify: %s", valueFormat, txns, len(recs), strings.TrimSpace(out))
}

// keyHistory lists, for each id verify's report names, the changes of it the topic holds
// (read_committed, in partition order): what a failure needs to tell a lost change from
// one applied out of order.
func keyHistory(t *testing.T, brokers []string, reg *testenv.SchemaRegistry, report string) string {
	var b strings.Builder
	recs := readChain(t, brokers, reg)
	for _, m := range regexp.MustCompile(`"id":(\d+)`).FindAllStringSubmatch(report, 20) {
		fmt.Fprintf(&b, "id %s:", m[1])
		for i, r := range recs {
			for _, img := range []map[string]any{r.Before, r.After} {
				if img != nil && fmt.Sprint(img["id"]) == m[1] {
					fmt.Fprintf(&b, " #%d %s(before %v, after %v)", i, r.Op, r.Before["id"], r.After["id"])
					break
				}
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// rawHistory lists every record of the topic, read uncommitted, whose key names an id
// verify's report names: its partition, offset, producer and whether a read_committed
// consumer sees it — what tells records of an aborted transaction from committed ones.
func rawHistory(t *testing.T, brokers []string, report string) string {
	read := func(level kgo.IsolationLevel) []*kgo.Record {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("shop.orders"), kgo.FetchIsolationLevel(level),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var out []*kgo.Record
		for idle := 0; idle < 3 && ctx.Err() == nil; {
			fctx, fcancel := context.WithTimeout(ctx, 2*time.Second)
			fs := cl.PollFetches(fctx)
			fcancel()
			n := 0
			fs.EachRecord(func(r *kgo.Record) { n++; out = append(out, r) })
			if n == 0 {
				idle++
			} else {
				idle = 0
			}
		}
		return out
	}
	type at struct {
		p int32
		o int64
	}
	committed := map[at]bool{}
	for _, r := range read(kgo.ReadCommitted()) {
		committed[at{r.Partition, r.Offset}] = true
	}
	all := read(kgo.ReadUncommitted())
	var b strings.Builder
	for _, m := range regexp.MustCompile(`"id":(\d+)`).FindAllStringSubmatch(report, 20) {
		key := regexp.MustCompile(`\b` + m[1] + `\b`)
		fmt.Fprintf(&b, "id %s:", m[1])
		for _, r := range all {
			if key.Match(r.Key) {
				op := regexp.MustCompile(`"op":"(\w)"`).FindSubmatch(r.Value)
				o := "tombstone"
				if op != nil {
					o = string(op[1])
				}
				fmt.Fprintf(&b, " [p%d@%d %s pid %d/%d committed=%v]", r.Partition, r.Offset, o, r.ProducerID, r.ProducerEpoch, committed[at{r.Partition, r.Offset}])
			}
		}
		b.WriteString("\n")
	}
	// The control records around, per partition: where transactions ended.
	for _, r := range all {
		if r.Attrs.IsControl() {
			fmt.Fprintf(&b, "control p%d@%d pid %d/%d; ", r.Partition, r.Offset, r.ProducerID, r.ProducerEpoch)
		}
	}
	return b.String()
}

// readChain reads the topic shop.orders read_committed, to its end, as conformance
// records: debezium-json payloads, or Avro ones turned into them with the registry's
// schemas (each record's schema id must be registered).
func readChain(t *testing.T, brokers []string, reg *testenv.SchemaRegistry) []conformance.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("shop.orders"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var registry *avro.Registry
	if reg != nil {
		if registry, err = avro.NewRegistry(reg.URL); err != nil {
			t.Fatal(err)
		}
	}
	byPart := map[int32][]conformance.Record{}
	idle := 0
	for idle < 3 && ctx.Err() == nil {
		fctx, fcancel := context.WithTimeout(ctx, 2*time.Second)
		fs := cl.PollFetches(fctx)
		fcancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if r.Value == nil {
				return // a tombstone
			}
			value := r.Value
			if registry != nil {
				id, rest, err := avro.SplitHeader(value)
				if err != nil {
					t.Fatal(err)
				}
				s, err := registry.Schema(ctx, id)
				if err != nil {
					t.Fatalf("record %s[%d]@%d names schema %d: %v", r.Topic, r.Partition, r.Offset, id, err)
				}
				if value, _, err = avro.Decode(nil, s, rest); err != nil {
					t.Fatal(err)
				}
			} else {
				var env struct{ Payload json.RawMessage }
				if err := json.Unmarshal(value, &env); err != nil {
					t.Fatal(err)
				}
				value = env.Payload
			}
			var payload map[string]any // of Debezium's source block, what names the table
			if err := json.Unmarshal(value, &payload); err != nil {
				t.Fatal(err)
			}
			src := payload["source"].(map[string]any)
			payload["source"] = map[string]any{"db": src["db"], "table": src["table"]}
			value, _ = json.Marshal(payload)
			var rec conformance.Record
			if err := json.Unmarshal(value, &rec); err != nil {
				t.Fatalf("record %s: %v", value, err)
			}
			byPart[r.Partition] = append(byPart[r.Partition], rec)
		})
		if n == 0 {
			idle++
		} else {
			idle = 0
		}
	}
	var out []conformance.Record
	for _, p := range slices.Sorted(maps.Keys(byPart)) { // per key, in order: a key's changes are in one partition
		out = append(out, byPart[p]...)
	}
	return out
}
