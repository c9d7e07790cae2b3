package kafkaconn

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/testenv"
)

// TestCheck: brokers that answer pass; an address nothing listens on is named, with the
// setting and what to check; no address at all is said so.
func TestCheck(t *testing.T) {
	k, err := testenv.StartKafka()
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	if errs := Check(context.Background(), Brokers(" "+strings.Join(k.Brokers, " , ")+" ")); len(errs) != 0 {
		t.Fatalf("a cluster that answers: %v", errs)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	errs := Check(context.Background(), Brokers(addr))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "properties.bootstrap.servers: the brokers "+addr+" do not answer") {
		t.Fatalf("nothing listening: %v", errs)
	}
	if errs := Check(context.Background(), Brokers(" , ")); len(errs) != 1 || !strings.Contains(errs[0].Error(), "names no broker") {
		t.Fatalf("no address: %v", errs)
	}
}
