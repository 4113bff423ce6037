package main

import (
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/logging"
)

// globalFlags are the flags every subcommand shares.
type globalFlags struct {
	logLevel  string
	logFormat string
}

// logger builds the structured logger the subcommands use; logs go to
// stderr so that stdout stays machine-readable (decode, wal dump, key).
// Repeated warnings are sampled (logsample).
func (g *globalFlags) logger() (*zap.Logger, error) {
	l, err := logging.New(config.Log{Level: g.logLevel, Format: g.logFormat}, logging.Options{})
	if err != nil {
		return nil, err
	}
	return l.Logger, nil
}

// serveLogger builds serve's logger from the configuration's log keys;
// --log-level and --log-format, when given, win over them.
func (g *globalFlags) serveLogger(cmd *cobra.Command, c config.Log) (*logging.Logger, error) {
	if f := cmd.Flags().Lookup("log-level"); f != nil && f.Changed {
		c.Level = g.logLevel
	}
	if f := cmd.Flags().Lookup("log-format"); f != nil && f.Changed {
		c.Format = g.logFormat
	}
	return logging.New(c, logging.Options{})
}
