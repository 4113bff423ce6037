package logging

import (
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/logsample"
)

// Logger is a built logger with its level and output.
type Logger struct {
	*zap.Logger
	Level zap.AtomicLevel
	out   io.Closer // the rotated file, or nil
}

// Options beside config.Log.
type Options struct {
	// Stderr receives the log when config.Log.File is empty (os.Stderr
	// when nil).
	Stderr io.Writer
	// Sample configures logsample.
	Sample logsample.Options
}

// New builds the logger c describes.
func New(c config.Log, opts Options) (*Logger, error) {
	lvl, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("logging: level %q: %w", c.Level, err)
	}
	var enc zapcore.Encoder
	switch c.Format {
	case "json", "":
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, fmt.Errorf("logging: format %q: want json or console", c.Format)
	}
	l := &Logger{Level: zap.NewAtomicLevelAt(lvl)}
	var ws zapcore.WriteSyncer
	if c.File != "" {
		lj := &lumberjack.Logger{Filename: c.File, MaxSize: max(c.MaxSizeMB, 1), MaxBackups: c.MaxBackups, MaxAge: c.MaxAgeDays}
		// Open now, so that an unusable path fails the start, not the
		// first line.
		if _, err := lj.Write(nil); err != nil {
			return nil, fmt.Errorf("logging: log file %s: %w", c.File, err)
		}
		l.out = lj
		ws = zapcore.AddSync(lj)
	} else {
		w := opts.Stderr
		if w == nil {
			w = os.Stderr
		}
		ws = zapcore.Lock(zapcore.AddSync(w))
	}
	core := zapcore.NewCore(enc, ws, l.Level)
	// A dead follower makes every partition warn on every retry: repeated
	// warnings are written once per interval with a count.
	l.Logger = zap.New(logsample.Wrap(core, opts.Sample))
	return l, nil
}

// Close flushes the log and closes its file.
func (l *Logger) Close() error {
	_ = l.Sync()
	if l.out != nil {
		return l.out.Close()
	}
	return nil
}
