package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newDemoCmd is a placeholder until its issue lands; it refuses to run
// rather than pretend.
func newDemoCmd(_ *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:    "demo",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("demo: not built yet")
		},
	}
}
