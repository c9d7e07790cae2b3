package checkpoint

import (
	"fmt"
	"os"
	"testing"

	"github.com/weir-data/weir/internal/testenv"
)

var pg *testenv.Postgres

func TestMain(m *testing.M) {
	var err error
	pg, err = testenv.StartPostgres()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}
