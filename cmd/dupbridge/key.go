package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newKeyCmd is a placeholder until its issue lands; it refuses to run
// rather than pretend.
func newKeyCmd(_ *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:    "key",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("key: not built yet")
		},
	}
}
