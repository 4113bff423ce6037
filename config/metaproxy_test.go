package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseMetaProxy(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		problems   []string // substrings, one per expected problem
		check      func(*testing.T, *Config)
	}{
		{name: "alone, defaults", text: "[meta-proxy]\nlisten = 127.0.0.1:34601\nzk = 10.0.0.1:2181, 10.0.0.2:2181\n",
			check: func(t *testing.T, c *Config) {
				m := c.MetaProxy
				if c.HasBridge() || m == nil || m.Listen != "127.0.0.1:34601" || len(m.ZK) != 2 || m.ZK[1] != "10.0.0.2:2181" ||
					m.Root != DefaultProxyRoot || m.SessionTimeout != DefaultProxySessionTimeout || m.CacheTables != 1024 ||
					m.AdvertisedAddr.String() != "127.0.0.1:34601" {
					t.Errorf("%+v", m)
				}
			}},
		{name: "alone, every key", text: "[meta-proxy]\nlisten = :34601\nhttp_listen = 127.0.0.1:8080\nzk = z:2181\nroot = /a/b\n" +
			"session_timeout = 3s\ncache_tables = 16\nevent_loops = 2\n",
			check: func(t *testing.T, c *Config) {
				m := c.MetaProxy
				if m.Root != "/a/b" || m.SessionTimeout != 3*time.Second || m.CacheTables != 16 || m.EventLoops != 2 ||
					m.HTTPListen != "127.0.0.1:8080" || m.AdvertisedAddr.IsValid() {
					t.Errorf("%+v", m)
				}
			}},
		{name: "beside a bridge", text: base + "[meta-proxy]\nlisten = 127.0.0.1:34601\nzk = z:2181\n",
			check: func(t *testing.T, c *Config) {
				if !c.HasBridge() || c.MetaProxy == nil || len(c.Tables) != 1 {
					t.Errorf("%+v", c)
				}
			}},
		{name: "bad values", text: "[meta-proxy]\nlisten = nope\nzk = a:b\nroot = rel/path\nsession_timeout = 1h\ncache_tables = 0\nfoo = 1\n",
			problems: []string{"line 7: [meta-proxy] foo: unknown key", "line 2: [meta-proxy] listen", "line 3: [meta-proxy] zk",
				"line 4: [meta-proxy] root", "line 5: [meta-proxy] session_timeout", "line 6: [meta-proxy] cache_tables"}},
		{name: "required keys", text: "[meta-proxy]\nroot = /x\n", problems: []string{"listen: required", "zk: required"}},
		{name: "bridge section without tables", text: "[meta-proxy]\nlisten = :1\nzk = z:1\n[dupbridge]\nlisten = 127.0.0.1:2\n",
			problems: []string{"[pegasus.clusters]", "[duplication-group]", "no [table.NAME] section"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.text), "p.ini")
			if len(tc.problems) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, c)
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			for _, p := range tc.problems {
				if !strings.Contains(msg, p) {
					t.Errorf("problems lack %q:\n%s", p, msg)
				}
			}
			if n := strings.Count(msg, "\n  p.ini:"); n != len(tc.problems) {
				t.Errorf("%d problems, want %d:\n%s", n, len(tc.problems), msg)
			}
		})
	}
}

func TestParseMetaProxyExample(t *testing.T) {
	c, err := Load("../examples/metaproxy.ini")
	if err != nil {
		t.Fatal(err)
	}
	if c.HasBridge() || c.MetaProxy == nil || len(c.MetaProxy.ZK) != 3 || c.MetaProxy.HTTPListen != "127.0.0.1:34680" {
		t.Fatalf("%+v", c.MetaProxy)
	}
}
