package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newWalCmd is a placeholder until its issue lands; it refuses to run
// rather than pretend.
func newWalCmd(_ *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:    "wal",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("wal: not built yet")
		},
	}
}
