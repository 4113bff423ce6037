package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newDecodeCmd is a placeholder until its issue lands; it refuses to run
// rather than pretend.
func newDecodeCmd(_ *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:    "decode",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("decode: not built yet")
		},
	}
}
