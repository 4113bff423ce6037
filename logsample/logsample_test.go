package logsample

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// TestSampling drives one logger through a burst, a quiet interval and a
// second burst; each step lists the lines written and their counts.
func TestSampling(t *testing.T) {
	type line struct {
		msg  string
		more int64 // more_like_this; -1: the field is absent
	}
	tests := []struct {
		name  string
		steps func(l *zap.Logger, c *clock)
		want  []line
	}{
		{"burst then one after the interval", func(l *zap.Logger, c *clock) {
			for i := range 136 {
				l.Warn("duplicate batch failed", zap.Int("partition", i%32))
			}
			c.t = c.t.Add(10 * time.Second)
			l.Warn("duplicate batch failed", zap.Int("partition", 1))
		}, []line{{"duplicate batch failed", -1}, {"duplicate batch failed", 135}}},
		{"interval not yet over", func(l *zap.Logger, c *clock) {
			l.Warn("w")
			c.t = c.t.Add(9 * time.Second)
			l.Warn("w")
			c.t = c.t.Add(time.Second)
			l.Warn("w")
			l.Warn("w")
			c.t = c.t.Add(30 * time.Second)
			l.Warn("w")
		}, []line{{"w", -1}, {"w", 1}, {"w", 1}}},
		{"messages are separate streams", func(l *zap.Logger, c *clock) {
			l.Warn("a")
			l.Warn("b")
			l.Warn("a")
			l.With(zap.String("table", "t")).Warn("b") // With shares the table
			c.t = c.t.Add(time.Minute)
			l.Warn("b")
			l.Named("other").Warn("b") // another logger name is another stream
		}, []line{{"a", -1}, {"b", -1}, {"b", 1}, {"b", -1}}},
		{"errors and infos are never sampled", func(l *zap.Logger, c *clock) {
			for range 3 {
				l.Error("e")
				l.Info("i")
			}
		}, []line{{"e", -1}, {"i", -1}, {"e", -1}, {"i", -1}, {"e", -1}, {"i", -1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs, logs := observer.New(zapcore.DebugLevel)
			c := &clock{t: time.Unix(1000, 0)}
			l := zap.New(Wrap(obs, Options{Every: 10 * time.Second, Now: c.now}))
			tc.steps(l, c)
			got := logs.AllUntimed()
			if len(got) != len(tc.want) {
				t.Fatalf("%d lines, want %d: %v", len(got), len(tc.want), got)
			}
			for i, e := range got {
				more, ok := e.ContextMap()["more_like_this"]
				if !ok {
					more = int64(-1)
				}
				if e.Message != tc.want[i].msg || more != tc.want[i].more {
					t.Errorf("line %d: %q more_like_this=%v, want %+v", i, e.Message, more, tc.want[i])
				}
			}
		})
	}
}

// TestDisabledLevel: a warning the inner core does not want is neither
// written nor counted.
func TestDisabledLevel(t *testing.T) {
	obs, logs := observer.New(zapcore.ErrorLevel)
	l := zap.New(Wrap(obs, Options{}))
	for range 5 {
		l.Warn("w")
	}
	if logs.Len() != 0 {
		t.Fatalf("%d lines", logs.Len())
	}
}

// TestManyMessages: more distinct messages than the table holds are all
// written, never dropped for want of room.
func TestManyMessages(t *testing.T) {
	obs, logs := observer.New(zapcore.WarnLevel)
	l := zap.New(Wrap(obs, Options{}))
	for i := range maxKeys + 10 {
		l.Warn(string(rune('A'+i%26)) + time.Duration(i).String())
	}
	if logs.Len() != maxKeys+10 {
		t.Fatalf("%d lines, want %d", logs.Len(), maxKeys+10)
	}
}
