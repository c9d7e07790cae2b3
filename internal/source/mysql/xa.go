package mysql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
)

// XA transactions. A prepared XA transaction is in the binlog at XA PREPARE, with its
// rows, and takes effect — or not — at its XA COMMIT or XA ROLLBACK, a later event group
// of its own. So the stream holds a prepared transaction's changes until its commit
// (emitted there, in the commit's place in the log) or its rollback (dropped):
//
//	MariaDB  GTID (flag PREPARED_XA), rows, XA END xid, XA_PREPARE event … GTID, XA COMMIT xid
//	MySQL    GTID, XA START xid, rows, XA END xid, XA_PREPARE event … GTID, XA COMMIT xid
//
// XA COMMIT … ONE PHASE has no prepare: its group ends with the commit and is an ordinary
// transaction. A checkpoint taken while a transaction is prepared records where its group
// begins (position.XA); a stream resumed from it reads that group again, first, to hold
// its changes once more. A commit whose prepare the stream never read (prepared before a
// fresh start) cannot be copied: the stream says so and names the command that copies
// the tables again.

// mariaPreparedXA is the flag of MariaDB's GTID event that begins an XA PREPARE's group.
const mariaPreparedXA = 0x40

// xaPending is a prepared XA transaction a checkpoint's position is past: its xid and
// where its event group begins.
type xaPending struct {
	XID  string `json:"xid"`
	File string `json:"file"`
	Pos  uint32 `json:"pos"`
}

// xaStatement recognizes the XA statements of the binlog and returns the verb (START,
// END, COMMIT, ROLLBACK) and the xid as the server writes it, in hex with its format id.
func xaStatement(q string) (verb, xid string, ok bool) {
	if len(q) < 3 || !strings.EqualFold(q[:3], "XA ") {
		return "", "", false
	}
	verb, xid, _ = strings.Cut(strings.TrimSpace(q[3:]), " ")
	xid = strings.TrimSpace(xid)
	if u := strings.ToUpper(xid); strings.HasSuffix(u, " ONE PHASE") {
		xid = strings.TrimSpace(xid[:len(xid)-len(" ONE PHASE")])
	}
	return strings.ToUpper(verb), xid, true
}

// xa handles an XA statement of the binlog.
func (r *reader) xa(ctx context.Context, h *replication.EventHeader, verb, xid string) error {
	switch verb {
	case "START": // MySQL: the transaction's first statement
		if r.txnGTID == "" && len(r.changes) == 0 {
			if err := r.begin(ctx, "", h); err != nil {
				return err
			}
		}
		r.txnXA = true
	case "END":
		r.txnXID = xid
	case "COMMIT":
		held, ok := r.prepared[xid]
		delete(r.prepared, xid)
		r.dropPending(xid)
		switch {
		case ok:
			r.changes = append(held, r.changes...)
		case len(r.changes) == 0: // not ONE PHASE, and its prepare came before the stream
			r.s.log.Warn("an XA transaction committed whose prepare came before this stream began: its changes are not copied; "+
				"copy the tables it changed again (weir resnapshot FILE --table …)", "xid", xid, "at", r.txnLog)
		}
		return r.commit(ctx, h)
	case "ROLLBACK":
		delete(r.prepared, xid)
		r.dropPending(xid)
		r.changes = nil
		return r.commit(ctx, h)
	}
	return nil
}

// prepare ends an XA transaction's PREPARE group: its changes are held until its commit,
// and the position says where its group begins until then.
func (r *reader) prepare(ctx context.Context, h *replication.EventHeader) error {
	if r.txnXID == "" {
		return fault.AsFatal(fmt.Errorf("an XA PREPARE at %s:%d without its XA END: this binlog is not one weir understands", r.file, h.LogPos))
	}
	r.prepared[r.txnXID] = r.changes
	r.pos.XA = append(slices.Clone(r.pos.XA), xaPending{XID: r.txnXID, File: r.txnStart.file, Pos: r.txnStart.pos})
	r.changes = nil
	return r.commit(ctx, h)
}

func (r *reader) dropPending(xid string) {
	if i := slices.IndexFunc(r.pos.XA, func(p xaPending) bool { return p.XID == xid }); i >= 0 {
		r.pos.XA = slices.Delete(slices.Clone(r.pos.XA), i, i+1)
	}
}

// recoverXA reads again the groups of the prepared XA transactions a checkpoint's
// position is past, and returns their changes by xid.
func (s *Source) recoverXA(ctx context.Context, pending []xaPending, tables map[event.TableID]*table) (map[string][]event.Change, error) {
	out := map[string][]event.Change{}
	for _, p := range pending {
		changes, err := s.readPrepared(ctx, p, tables)
		if err != nil {
			return nil, err
		}
		out[p.XID] = changes
	}
	return out, nil
}

func (s *Source) readPrepared(ctx context.Context, p xaPending, tables map[event.TableID]*table) ([]event.Change, error) {
	syncer := replication.NewBinlogSyncer(s.syncerConfig())
	defer syncer.Close()
	streamer, err := syncer.StartSync(gomysql.Position{Name: p.File, Pos: p.Pos})
	if err != nil {
		return nil, fmt.Errorf("read again the prepared XA transaction %s at %s:%d: %w", p.XID, p.File, p.Pos, err)
	}
	r := &reader{s: s, tables: tables, history: newSchemaHistory(s.patterns, s.tinyBool), resynced: map[event.TableID]bool{}, refilled: map[event.TableID]int{},
		emit: func(context.Context, event.Batch) error {
			return errors.New("a prepared XA transaction's group holds more than its rows")
		}}
	if r.rowEnd, err = s.rowEnds(ctx, nil); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	began := false
	for {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			return nil, fault.AsFatal(fmt.Errorf("read again the prepared XA transaction %s at %s:%d, which a checkpoint holds open: %w; "+
				"if the binlog is gone, start the pipeline over or copy the tables it changed again (weir resnapshot FILE --table …)", p.XID, p.File, p.Pos, err))
		}
		switch e := ev.Event.(type) {
		case *replication.RotateEvent:
			r.file = string(e.NextLogName)
		case *replication.MariadbGTIDEvent, *replication.GTIDEvent:
			if began {
				return nil, fault.AsFatal(fmt.Errorf("the binlog at %s:%d does not hold the prepared XA transaction %s a checkpoint names", p.File, p.Pos, p.XID))
			}
			began = true
			r.txnLog = fmt.Sprintf("%s@%d", p.File, p.Pos)
		case *replication.RowsEvent:
			if err := r.rows(ctx, ev.Header, e); err != nil {
				return nil, err
			}
		case *replication.QueryEvent:
			if verb, xid, ok := xaStatement(string(e.Query)); ok && verb == "END" && xid != p.XID {
				return nil, fault.AsFatal(fmt.Errorf("the binlog at %s:%d holds XA transaction %s, not %s which a checkpoint names", p.File, p.Pos, xid, p.XID))
			}
		case *replication.XIDEvent:
			return nil, fault.AsFatal(fmt.Errorf("the binlog at %s:%d holds a committed transaction, not the prepared XA transaction %s a checkpoint names", p.File, p.Pos, p.XID))
		default:
			if ev.Header.EventType == replication.XA_PREPARE_LOG_EVENT {
				return r.changes, nil
			}
		}
	}
}
