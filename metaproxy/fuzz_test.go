package metaproxy

import (
	"errors"
	"testing"
)

// FuzzParseRecord: any node value gives a Record or an error wrapping
// ErrMalformed, never a panic; an accepted Record passes Check and lists
// at least one meta address.
func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		`{"cluster_name":"A","meta_addrs":"127.0.0.1:34601,127.0.0.1:34602"}`,
		`{"cluster_name":"A","meta_addrs":"h:1"}`,
		`{"cluster_name":"","meta_addrs":"h:1"}`,
		`{"cluster_name":"A","meta_addrs":" , "}`,
		`{"cluster_name":"A","meta_addrs":"h:0"}`,
		`{"cluster_name": "A", "meta_addrs": `,
		`null`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRecord(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if r.Check() != nil || len(r.Metas()) == 0 {
			t.Fatalf("accepted %+v", r)
		}
	})
}
