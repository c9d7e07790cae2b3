// Package kafkaconn is what the Kafka source and sink share of reaching the brokers.
package kafkaconn

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Brokers splits properties.bootstrap.servers into its host:port addresses.
func Brokers(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Check reports, for `weir validate`, whether the brokers answer a metadata request
// within 10 s, as an error that names the setting and what to check.
func Check(ctx context.Context, brokers []string) []error {
	if len(brokers) == 0 {
		return []error{fmt.Errorf("properties.bootstrap.servers names no broker: write host:port, comma-separated")}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return []error{fmt.Errorf("properties.bootstrap.servers: %w", err)}
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).ListBrokers(ctx); err != nil {
		return []error{fmt.Errorf("properties.bootstrap.servers: the brokers %s do not answer: %w; check the addresses and that this machine reaches them",
			strings.Join(brokers, ","), err)}
	}
	return nil
}
