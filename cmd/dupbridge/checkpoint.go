package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/dupbridge/dupbridge/checkpoint"
)

// newCheckpointCmd is the `dupbridge checkpoint` group.
func newCheckpointCmd(g *globalFlags) *cobra.Command {
	c := &cobra.Command{
		Use:   "checkpoint",
		Short: "Copy, inspect and load Pegasus table checkpoints (full duplication by hand)",
	}
	c.AddCommand(checkpointCopyCmds(g, openStagedPartition)...)
	return c
}

// openStagedPartition reads a fetched partition's RocksDB files.
func openStagedPartition(string, int, int, []byte) (checkpoint.Source, error) {
	return nil, errors.New("checkpoint: this build has no SST reader (package checkpoint/sst)")
}
