// Package dashboard reads the queries of a Grafana dashboard JSON file
// (deploy/grafana), for the tests that check them: syntax with promtool,
// results against a real Prometheus scraping a bridge.
package dashboard

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Query is one target of one panel.
type Query struct {
	PanelID int
	Panel   string // the panel's title
	RefID   string
	Expr    string
}

type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

// Queries returns every target of every panel of the dashboard at path,
// rows' nested panels included, in file order. A non-row panel without a
// target, or a target without an expression, is an error.
func Queries(path string) ([]Query, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d struct {
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", path, err)
	}
	var out []Query
	var walk func([]panel) error
	walk = func(ps []panel) error {
		for _, p := range ps {
			if err := walk(p.Panels); err != nil {
				return err
			}
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				return fmt.Errorf("dashboard %s: panel %d %q has no target", path, p.ID, p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					return fmt.Errorf("dashboard %s: panel %d %q target %s has no expression", path, p.ID, p.Title, tg.RefID)
				}
				out = append(out, Query{PanelID: p.ID, Panel: p.Title, RefID: tg.RefID, Expr: tg.Expr})
			}
		}
		return nil
	}
	return out, walk(d.Panels)
}

// Expand replaces the dashboard variables in expr ($name and ${name}) by
// vars[name], longer names first so that $table never eats $table_x. A
// variable left over is an error: the test would otherwise query for a
// literal "$x".
func Expand(expr string, vars map[string]string) (string, error) {
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, n := range names {
		expr = strings.ReplaceAll(expr, "${"+n+"}", vars[n])
		expr = strings.ReplaceAll(expr, "$"+n, vars[n])
	}
	if i := strings.IndexByte(expr, '$'); i >= 0 {
		return "", fmt.Errorf("unexpanded variable at %q", expr[i:])
	}
	return expr, nil
}
