package file

import (
	"context"
	"errors"

	"github.com/weir-data/weir/internal/connector"
)

// Open opens the file sink.
func Open(ctx context.Context, cfg *connector.Config, env connector.Env) (connector.Sink, error) {
	return nil, errors.New("file: being written")
}
