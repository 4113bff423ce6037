package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/server"
)

// reloader re-reads serve's configuration file on SIGHUP or POST /reload
// (ctl reload): a valid file is applied (server.Reload, then the follower
// side), an invalid one changes nothing and every problem is reported with
// its line, in the log and in the answer.
type reloader struct {
	path  string
	log   *zap.Logger
	apply func(*config.Config) ([]string, error)
	mu    sync.Mutex // one reload at a time
}

func (r *reloader) reload(ctx context.Context) (server.ReloadResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg, err := config.LoadContext(ctx, r.path)
	if err != nil {
		var res server.ReloadResult
		var ce *config.Error
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				res.Problems = append(res.Problems, fmt.Sprintf("%s:%s", r.path, p))
			}
		}
		r.log.Error("reload: configuration invalid, the running one is kept", zap.String("file", r.path),
			zap.Strings("problems", res.Problems), zap.Error(err))
		return res, fmt.Errorf("reload: %s: %d problem(s), nothing changed", r.path, max(len(res.Problems), 1))
	}
	changes, err := r.apply(cfg)
	if err != nil {
		r.log.Error("reload: not applied, the running configuration is kept", zap.String("file", r.path), zap.Error(err))
		return server.ReloadResult{Problems: []string{err.Error()}}, fmt.Errorf("reload: %w", err)
	}
	r.log.Info("reload: configuration applied", zap.String("file", r.path), zap.Strings("changes", changes))
	return server.ReloadResult{Applied: true, Changes: changes}, nil
}

// onSIGHUP reloads on every SIGHUP until ctx ends or the returned stop is
// called.
func (r *reloader) onSIGHUP(ctx context.Context) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				_, _ = r.reload(ctx) // logged by reload
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		cancel()
		<-done
	}
}
