package metaproxy

import (
	"errors"
	"testing"

	"github.com/dupbridge/dupbridge/codec"
)

func TestParseRecord(t *testing.T) {
	for _, tc := range []struct {
		in    string
		metas []string
		bad   bool
	}{
		{`{"cluster_name":"A","meta_addrs":"a:1,b:2,c:3"}`, []string{"a:1", "b:2", "c:3"}, false},
		{`{"cluster_name":"A","meta_addrs":" a:1 "}`, []string{"a:1"}, false}, // one meta is enough here
		{`{"cluster_name":"A","meta_addrs":"a:1,,b:2,"}`, []string{"a:1", "b:2"}, false},
		{`{"cluster_name":"","meta_addrs":"a:1"}`, nil, true},
		{`{"cluster_name":"A","meta_addrs":""}`, nil, true},
		{`{"cluster_name":"A","meta_addrs":"a"}`, nil, true},
		{`{"cluster_name":"A","meta_addrs":"a:70000"}`, nil, true},
		{`{"cluster_name":"A"`, nil, true},
		{`"A"`, nil, true},
	} {
		r, err := ParseRecord([]byte(tc.in))
		if tc.bad {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: err %v, want ErrMalformed", tc.in, err)
			}
			continue
		}
		if err != nil || len(r.Metas()) != len(tc.metas) {
			t.Errorf("%s: %+v %v", tc.in, r, err)
			continue
		}
		for i, m := range r.Metas() {
			if m != tc.metas[i] {
				t.Errorf("%s: metas %v, want %v", tc.in, r.Metas(), tc.metas)
			}
		}
	}
}

// The error names are pegasus-kv/meta-proxy's (meta/client.go, meta/init.go).
func TestErrorName(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, codec.ErrorOK},
		{ErrNoTable, codec.ErrorObjectNotFound},
		{ErrTableName, codec.ErrorObjectNotFound},
		{ErrMalformed, codec.ErrorInvalidData},
		{ErrZooKeeper, codec.ErrorZookeeperOperation},
		{errors.New("other"), codec.ErrorUnknown},
	} {
		if got := ErrorName(tc.err); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.err, got, tc.want)
		}
	}
}
