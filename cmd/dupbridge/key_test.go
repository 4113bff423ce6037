package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// Vectors: storage.md §3.2 / §3.3 (CRC-64 of the hash key, or of the sort
// key when the hash key is empty) and wire.md Appendix A (hk1 mod 8 = 5).
func TestKeyCmd(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"a", "a"}, `{"hash":"0x8c2f8445b4cbfc3c"}`},
		{[]string{"--partitions", "8", "a", "a"}, `{"hash":"0x8c2f8445b4cbfc3c","partition":4}`},
		{[]string{"a"}, `{"hash":"0x8c2f8445b4cbfc3c"}`},
		{[]string{"--partitions", "8", "hk1", "s"}, `{"hash":"0xb136b82b96d0c625","partition":5}`},
		{[]string{"--partitions=64", "hash_key"}, `{"hash":"0x65641f36e9f6a96d","partition":45}`},
		{[]string{"", "sk"}, `{"hash":"0xed7359d9888df024"}`},
		{[]string{"--partitions", "4", ""}, `{"hash":"0x0000000000000000","partition":0}`},
		{[]string{"--hex", "--partitions", "16", "68656c6c6f", "776f726c64"}, `{"hash":"0x3377857006524257","partition":7}`},
		{[]string{"--hex", "", "736b"}, `{"hash":"0xed7359d9888df024"}`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := newKeyCmd(&globalFlags{})
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs(tc.args)
			if err := cmd.Execute(); err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if got := strings.TrimSpace(out.String()); got != tc.want {
				t.Fatalf("output %s, want %s", got, tc.want)
			}
			var v map[string]any
			if err := json.Unmarshal(out.Bytes(), &v); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
		})
	}
}

func TestKeyCmdErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"a", "b", "c"},
		{"--partitions", "0", "a"},
		{"--partitions", "-2", "a"},
		{"--hex", "zz"},
		{"--hex", "61", "6"},
		{strings.Repeat("x", 65535)},
	} {
		cmd := newKeyCmd(&globalFlags{})
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		if err := cmd.Execute(); err == nil {
			t.Errorf("args %.40q: no error, output %s", args, out.String())
		}
	}
}
