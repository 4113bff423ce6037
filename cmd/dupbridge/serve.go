package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newServeCmd is a placeholder until its issue lands; it refuses to run
// rather than pretend.
func newServeCmd(_ *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:    "serve",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("serve: not built yet")
		},
	}
}
