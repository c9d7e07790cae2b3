// Package connectors lists every connector weir is built with. Adding a connector means
// adding it here: there is no registration by init side effect.
package connectors

import (
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/sink/console"
	"github.com/weir-data/weir/internal/sink/discard"
	"github.com/weir-data/weir/internal/sink/file"
	"github.com/weir-data/weir/internal/sink/kafka"
	mysqlsink "github.com/weir-data/weir/internal/sink/mysql"
	"github.com/weir-data/weir/internal/sink/postgres"
	"github.com/weir-data/weir/internal/source/datagen"
	kafkasource "github.com/weir-data/weir/internal/source/kafka"
	"github.com/weir-data/weir/internal/source/mysql"
	pgsource "github.com/weir-data/weir/internal/source/postgres"
)

// Registry returns the registry of all built-in connectors.
func Registry() *connector.Registry {
	return connector.NewRegistry(
		[]*connector.SourceDef{
			{Spec: datagen.Spec, Open: datagen.Open},
			{Spec: kafkasource.Spec, Open: kafkasource.Open, Check: kafkasource.Check},
			{Spec: mysql.Spec("mariadb"), Open: mysql.Open, Check: mysql.Check},
			{Spec: mysql.Spec("mysql"), Open: mysql.Open, Check: mysql.Check},
			{Spec: pgsource.Spec(), Open: pgsource.Open, Check: pgsource.Check},
		},
		[]*connector.SinkDef{
			{Spec: console.Spec, Open: console.Open},
			{Spec: discard.Spec, Open: discard.Open},
			{Spec: file.Spec, Open: file.Open, Check: file.Check},
			{Spec: kafka.Spec, Open: kafka.Open, Check: kafka.Check},
			{Spec: postgres.Spec, Open: postgres.Open, Check: postgres.Check, Advise: postgres.Advise, CheckTables: postgres.CheckTables, Reader: postgres.OpenReader,
				ColumnTypes: postgres.ColumnTypes},
			{Spec: mysqlsink.Spec("mysql"), Open: mysqlsink.Open, Check: mysqlsink.Check, Advise: mysqlsink.Advise, CheckTables: mysqlsink.CheckTables, Reader: mysqlsink.OpenReader,
				ColumnTypes: mysqlsink.ColumnTypes},
			{Spec: mysqlsink.Spec("mariadb"), Open: mysqlsink.Open, Check: mysqlsink.Check, Advise: mysqlsink.Advise, CheckTables: mysqlsink.CheckTables, Reader: mysqlsink.OpenReader,
				ColumnTypes: mysqlsink.ColumnTypes},
		},
	)
}
