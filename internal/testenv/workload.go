package testenv

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
)

// Workload writes random transactions into one MySQL/MariaDB table while a test runs:
// inserts of new keys, deletes, value updates, and updates that move a row to a new key
// (past the end of the table, so across snapshot chunks). Keys are numbered; rows
// 1…Existing exist when it starts.
type Workload struct {
	Conn *client.Conn
	// Exec, when set, runs each statement instead of Conn (another engine's client);
	// Postgres says the statements are PostgreSQL's (no UPDATE IGNORE).
	Exec     func(q string) error
	Postgres bool
	Table    string             // as written in SQL, e.g. "t" or "shop.orders"
	Existing int                // rows 1…Existing exist at the start
	Insert   func(n int) string // the VALUES tuple of a new row with key n
	Where    func(n int) string // the condition that selects key n
	MoveTo   func(n int) string // the SET clause that gives a row key n
	Update   string             // the SET clause of a value update, e.g. "v = v + 1"
	Seed     uint64
	Pause    time.Duration // between transactions
}

// Run writes transactions of one to five statements until stop is closed, and returns
// how many it committed.
func (w *Workload) Run(stop <-chan struct{}) (int, error) {
	rng := rand.New(rand.NewPCG(w.Seed, 1))
	next, txns := w.Existing+1, 0
	for {
		select {
		case <-stop:
			return txns, nil
		default:
		}
		stmts := []string{"BEGIN"}
		for range 1 + rng.IntN(5) {
			n := 1 + rng.IntN(next-1)
			switch rng.IntN(5) {
			case 0:
				stmts = append(stmts, fmt.Sprintf("INSERT INTO %s VALUES %s", w.Table, w.Insert(next)))
				next++
			case 1:
				stmts = append(stmts, fmt.Sprintf("DELETE FROM %s WHERE %s", w.Table, w.Where(n)))
			case 2:
				ignore := " IGNORE"
				if w.Postgres {
					ignore = ""
				}
				stmts = append(stmts, fmt.Sprintf("UPDATE%s %s SET %s WHERE %s", ignore, w.Table, w.MoveTo(next), w.Where(n)))
				next++
			default:
				stmts = append(stmts, fmt.Sprintf("UPDATE %s SET %s WHERE %s", w.Table, w.Update, w.Where(n)))
			}
		}
		stmts = append(stmts, "COMMIT")
		for _, q := range stmts {
			var err error
			if w.Exec != nil {
				err = w.Exec(q)
			} else {
				_, err = w.Conn.Execute(q)
			}
			if err != nil {
				return txns, fmt.Errorf("workload: %s: %w", q, err)
			}
		}
		txns++
		if w.Pause > 0 {
			time.Sleep(w.Pause)
		}
	}
}
