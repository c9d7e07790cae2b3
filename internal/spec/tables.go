package spec

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/weir-data/weir/internal/connector"
)

// TablePattern is one item of a table list (see connector.ParseTables for the syntax,
// which is Flink CDC's).
type TablePattern = connector.TablePattern

// ParseTables parses a table list.
func ParseTables(s string) ([]TablePattern, error) { return connector.ParseTables(s) }

// wholeNameRegex returns one regexp, anchored ^…$, that matches a "db.table" name when
// one of ps selects it.
func wholeNameRegex(ps []TablePattern) (*regexp.Regexp, error) {
	alts := make([]string, len(ps))
	for i, p := range ps {
		alts[i] = "(?:" + p.DB + `)\.(?:` + p.Table + ")"
	}
	re, err := regexp.Compile("^(?:" + strings.Join(alts, "|") + ")$")
	if err != nil {
		return nil, fmt.Errorf("the list as a whole: %s", reErr(err))
	}
	return re, nil
}

func splitItems(s string) []string { return connector.SplitItems(s) }

func reErr(err error) string { return connector.RegexpError(err) }
