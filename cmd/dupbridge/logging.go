package main

import (
	"fmt"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dupbridge/dupbridge/logsample"
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
	lvl, err := zapcore.ParseLevel(g.logLevel)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	var enc zapcore.Encoder
	switch g.logFormat {
	case "json":
		c := zap.NewProductionEncoderConfig()
		c.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(c)
	case "console", "":
		c := zap.NewDevelopmentEncoderConfig()
		c.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewConsoleEncoder(c)
	default:
		return nil, fmt.Errorf("--log-format: want console or json, got %q", g.logFormat)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(os.Stderr), lvl)
	// A dead follower makes every partition warn on every retry: repeated
	// warnings are written once per interval with a count.
	return zap.New(logsample.Wrap(core, logsample.Options{})), nil
}
