package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newReplayCmd is a placeholder until its issue lands; it refuses to run
// rather than pretend.
func newReplayCmd(_ *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:    "replay",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("replay: not built yet")
		},
	}
}
