package testenv

import (
	"github.com/twmb/franz-go/pkg/kfake"
)

// Kafka is an in-process cluster speaking Kafka's protocol (franz-go's kfake:
// transactions, read_committed and compaction included). No Kafka broker installs on
// these machines; the Kafka connectors' tests run against this.
type Kafka struct {
	c *kfake.Cluster
	// Brokers are the addresses it listens on, for properties.bootstrap.servers.
	Brokers []string
}

// StartKafka starts a one-broker cluster on a free port.
func StartKafka() (*Kafka, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return nil, err
	}
	return &Kafka{c: c, Brokers: c.ListenAddrs()}, nil
}

// Stop stops the cluster; what it held is gone.
func (k *Kafka) Stop() { k.c.Close() }
