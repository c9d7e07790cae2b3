package datagen

import (
	"context"
	"errors"

	"github.com/weir-data/weir/internal/connector"
)

// Open opens the datagen source.
func Open(ctx context.Context, cfg *connector.Config, env connector.Env) (connector.Source, error) {
	return nil, errors.New("datagen: being written")
}
