// Command weir is the one binary: pipelines, control plane and CLI.
package main

import "github.com/weir-data/weir/internal/cli"

func main() { cli.Run() }
