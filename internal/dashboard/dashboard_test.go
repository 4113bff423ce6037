package dashboard

import (
	"os"
	"path/filepath"
	"testing"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"table": "demo", "table_x": "X", "__rate_interval": "1m"}
	for _, tc := range []struct {
		in, want string
		err      bool
	}{
		{`rate(a{table=~"$table"}[$__rate_interval])`, `rate(a{table=~"demo"}[1m])`, false},
		{`a{t="${table}",u="$table_x"}`, `a{t="demo",u="X"}`, false},
		{`a{t="$unknown"}`, "", true},
		{`a`, `a`, false},
	} {
		got, err := Expand(tc.in, vars)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Expand(%q) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestQueries(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, json string
		want       []Query
		err        bool
	}{
		{"nested rows", `{"panels":[{"id":1,"type":"row","panels":[{"id":2,"title":"p","targets":[{"refId":"A","expr":"up"}]}]},
			{"id":3,"title":"q","targets":[{"refId":"A","expr":"a"},{"refId":"B","expr":"b"}]}]}`,
			[]Query{{2, "p", "A", "up"}, {3, "q", "A", "a"}, {3, "q", "B", "b"}}, false},
		{"panel without target", `{"panels":[{"id":1,"title":"p"}]}`, nil, true},
		{"empty expression", `{"panels":[{"id":1,"title":"p","targets":[{"refId":"A","expr":" "}]}]}`, nil, true},
		{"not JSON", `{`, nil, true},
	} {
		path := filepath.Join(dir, tc.name+".json")
		if err := os.WriteFile(path, []byte(tc.json), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := Queries(path)
		if (err != nil) != tc.err || len(got) != len(tc.want) {
			t.Errorf("%s: %v, %v; want %v (error %v)", tc.name, got, err, tc.want, tc.err)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: query %d = %+v, want %+v", tc.name, i, got[i], tc.want[i])
			}
		}
	}
}
