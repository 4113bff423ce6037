package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newSimCmd is a placeholder until its issue lands; it refuses to run
// rather than pretend.
func newSimCmd(_ *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:    "sim",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("sim: not built yet")
		},
	}
}
