package postgres

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/jackc/pglogrepl"
)

// Large transactions streamed while in progress (pgoutput protocol 2, streaming on:
// PostgreSQL 14+). The server sends a transaction's changes in segments as it decodes
// them, before it commits, interleaved with other transactions: StreamStart(xid) …
// changes of xid and its subtransactions … StreamStop, again and again, and at the end
// StreamCommit or StreamAbort. weir keeps each such transaction's messages in a
// temporary file, as they came, and at StreamCommit (which arrives in commit order)
// replays them through the same decoding as a transaction sent whole: memory stays
// bounded however large the transaction, and the server spills nothing of it to its own
// disk. StreamAbort of a subtransaction marks its messages to be skipped; of the
// transaction, drops the file.

// inProgress is the spill of one streamed transaction.
type inProgress struct {
	f       *os.File
	w       *bufio.Writer
	aborted map[uint32]bool // subtransactions rolled back
	n       int
}

// streamSpill holds the streamed transactions being received.
type streamSpill struct {
	dir  string
	txns map[uint32]*inProgress
	in   uint32 // the transaction of the open segment (0: none)
}

func newStreamSpill(dir string) *streamSpill {
	return &streamSpill{dir: dir, txns: map[uint32]*inProgress{}}
}

// close removes every spill file (the stream ends: the server sends them again).
func (sp *streamSpill) close() {
	for xid, t := range sp.txns {
		t.f.Close()
		os.Remove(t.f.Name())
		delete(sp.txns, xid)
	}
}

// streamMessage handles a protocol-2 message; handled is false for the messages of
// transactions sent whole, which the caller decodes as protocol 1.
func (r *reader) streamMessage(ctx context.Context, data []byte) (handled bool, err error) {
	sp := r.spill
	switch pglogrepl.MessageType(data[0]) {
	case pglogrepl.MessageTypeStreamStart:
		if len(data) < 6 {
			return true, fmt.Errorf("short stream start message")
		}
		xid := binary.BigEndian.Uint32(data[1:5])
		if sp.txns[xid] == nil {
			f, err := os.CreateTemp(sp.dir, "weir-pg-txn-*")
			if err != nil {
				return true, fmt.Errorf("spill a streamed transaction: %w", err)
			}
			sp.txns[xid] = &inProgress{f: f, w: bufio.NewWriterSize(f, 256<<10), aborted: map[uint32]bool{}}
			r.s.streamed.Add(1)
		}
		sp.in = xid
		return true, nil
	case pglogrepl.MessageTypeStreamStop:
		sp.in = 0
		return true, nil
	case pglogrepl.MessageTypeStreamAbort:
		m, err := pglogrepl.ParseV2(data, false)
		if err != nil {
			return true, err
		}
		a := m.(*pglogrepl.StreamAbortMessageV2)
		t := sp.txns[a.Xid]
		switch {
		case t == nil:
		case a.SubXid == a.Xid || a.SubXid == 0:
			t.f.Close()
			os.Remove(t.f.Name())
			delete(sp.txns, a.Xid)
		default:
			t.aborted[a.SubXid] = true
		}
		return true, nil
	case pglogrepl.MessageTypeStreamCommit:
		m, err := pglogrepl.ParseV2(data, false)
		if err != nil {
			return true, err
		}
		return true, r.replay(ctx, m.(*pglogrepl.StreamCommitMessageV2))
	}
	if sp.in == 0 {
		return false, nil // a transaction sent whole: protocol 1's messages
	}
	// A change (or relation, type, message) of the open segment: type, (sub)xid, body.
	if len(data) < 5 {
		return true, fmt.Errorf("short in-stream message")
	}
	t := sp.txns[sp.in]
	var head [8]byte
	copy(head[:4], data[1:5])
	binary.BigEndian.PutUint32(head[4:], uint32(len(data)-4))
	t.w.Write(head[:])
	t.w.WriteByte(data[0])
	if _, err := t.w.Write(data[5:]); err != nil {
		return true, fmt.Errorf("spill a streamed transaction: %w", err)
	}
	t.n++
	return true, nil
}

// replay decodes a committed streamed transaction from its spill file, as if it had been
// sent whole at its commit.
func (r *reader) replay(ctx context.Context, c *pglogrepl.StreamCommitMessageV2) error {
	sp := r.spill
	t := sp.txns[c.Xid]
	if t == nil {
		return fmt.Errorf("the commit of streamed transaction %d came without its changes", c.Xid)
	}
	delete(sp.txns, c.Xid)
	defer func() {
		t.f.Close()
		os.Remove(t.f.Name())
	}()
	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("spill a streamed transaction: %w", err)
	}
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := r.message(ctx, c.CommitLSN, &pglogrepl.BeginMessage{FinalLSN: c.CommitLSN, CommitTime: c.CommitTime, Xid: c.Xid}); err != nil {
		return err
	}
	in := bufio.NewReaderSize(t.f, 256<<10)
	var head [8]byte
	var buf []byte
	for range t.n {
		if _, err := io.ReadFull(in, head[:]); err != nil {
			return fmt.Errorf("read back a streamed transaction: %w", err)
		}
		sub, n := binary.BigEndian.Uint32(head[:4]), binary.BigEndian.Uint32(head[4:])
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(in, buf); err != nil {
			return fmt.Errorf("read back a streamed transaction: %w", err)
		}
		if t.aborted[sub] {
			continue
		}
		m, err := pglogrepl.Parse(buf)
		if err != nil {
			return fmt.Errorf("parse a streamed message of transaction %d: %w", c.Xid, err)
		}
		if err := r.message(ctx, c.CommitLSN, m); err != nil {
			return err
		}
	}
	return r.message(ctx, c.CommitLSN, &pglogrepl.CommitMessage{CommitLSN: c.CommitLSN, TransactionEndLSN: c.TransactionEndLSN, CommitTime: c.CommitTime})
}
