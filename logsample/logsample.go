package logsample

import (
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// DefaultEvery is the sampling interval when Options.Every is 0.
const DefaultEvery = 10 * time.Second

// maxKeys bounds the table of streams; messages are constants in practice,
// so this only guards against messages built at run time.
const maxKeys = 4096

// Options configure Wrap.
type Options struct {
	// Every is the least time between two written warnings of one stream.
	Every time.Duration
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
}

// Wrap returns core with its warnings sampled.
func Wrap(core zapcore.Core, opts Options) zapcore.Core {
	if opts.Every <= 0 {
		opts.Every = DefaultEvery
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &sampler{Core: core, t: &table{opts: opts, streams: map[key]*stream{}}}
}

type key struct{ logger, msg string }

type stream struct {
	next    time.Time // a warning may be written from then on
	dropped int       // since the last one written
}

type table struct {
	opts    Options
	mu      sync.Mutex
	streams map[key]*stream
}

// admit decides for one warning: write it (with n dropped before it) or not.
func (t *table) admit(k key) (write bool, n int) {
	now := t.opts.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.streams[k]
	if s == nil {
		if len(t.streams) >= maxKeys {
			t.expireLocked(now)
			if len(t.streams) >= maxKeys {
				return true, 0 // unbounded message texts: do not sample
			}
		}
		s = &stream{}
		t.streams[k] = s
	}
	if now.Before(s.next) {
		s.dropped++
		return false, 0
	}
	n, s.dropped, s.next = s.dropped, 0, now.Add(t.opts.Every)
	return true, n
}

// expireLocked forgets streams with nothing pending.
func (t *table) expireLocked(now time.Time) {
	for k, s := range t.streams {
		if s.dropped == 0 && !now.Before(s.next) {
			delete(t.streams, k)
		}
	}
}

type sampler struct {
	zapcore.Core
	t *table
}

func (c *sampler) With(fields []zapcore.Field) zapcore.Core {
	return &sampler{Core: c.Core.With(fields), t: c.t}
}

func (c *sampler) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if ent.Level != zapcore.WarnLevel || !c.Core.Enabled(ent.Level) {
		return c.Core.Check(ent, ce)
	}
	write, n := c.t.admit(key{ent.LoggerName, ent.Message})
	switch {
	case !write:
		return ce
	case n == 0:
		return c.Core.Check(ent, ce)
	}
	return ce.AddCore(ent, counted{Core: c.Core, n: n})
}

// counted writes one entry with the count of those dropped before it.
type counted struct {
	zapcore.Core
	n int
}

func (c counted) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	return c.Core.Write(ent, append(fields[:len(fields):len(fields)], zap.Int("more_like_this", c.n)))
}
