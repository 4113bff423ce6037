package metaproxy_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// rawQuery is one query-config, its body and the err field's name.
func rawQuery(t *testing.T, m *rpcclient.Meta, table string) ([]byte, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	body, name, err := m.QueryConfigRaw(ctx, table, nil)
	if err != nil {
		t.Fatalf("query %s: %v", table, err)
	}
	return body, name
}

// TestAnswersReused: with answer_ttl, an OK meta answer is given to
// identical queries for answer_ttl after its query was sent, byte for byte;
// a change of the real meta's answer is seen once that has passed; error
// answers are never reused; a new mapping never gets the old cluster's
// answer.
func TestAnswersReused(t *testing.T) {
	const ttl = time.Second
	r := root(t)
	st := newStore(t, r)
	a, b := startSim(t, map[string]int{"t1": 4}), startSim(t, map[string]int{"t1": 8})
	put(t, st, "t1", "A", a)
	put(t, st, "absent_in_cluster", "A", a)
	p := startProxy(t, r, proxyOpts{answerTTL: ttl})
	via, direct := client(t, p.Addr().String(), rpcclient.Options{}), client(t, a.MetaAddr(), rpcclient.Options{})
	reused := func(table string) float64 {
		return counter(t, p, "dupbridge_metaproxy_answers_reused_total", `table="`+table+`"`)
	}
	forwards := func(table string) float64 {
		return counter(t, p, "dupbridge_metaproxy_forwards_total", `table="`+table+`"`)
	}

	first, _ := rawQuery(t, via, "t1")
	if want, _ := rawQuery(t, direct, "t1"); !bytes.Equal(first, want) {
		t.Fatal("first answer is not the meta's")
	}
	if _, err := a.MovePrimary("t1", 1, 1); err != nil { // the real answer changes now
		t.Fatal(err)
	}
	moved, _ := rawQuery(t, direct, "t1")
	start := time.Now()
	for i := 0; i < 5; i++ {
		got, _ := rawQuery(t, via, "t1")
		if time.Since(start) > ttl/2 {
			t.Skipf("5 queries took %v, too long to test reuse within answer_ttl %v", time.Since(start), ttl)
		}
		if !bytes.Equal(got, first) {
			t.Fatalf("query %d within answer_ttl: not the kept answer", i)
		}
	}
	if got, f := reused("t1"), forwards("t1"); got != 5 || f != 1 {
		t.Errorf("reused %v, forwarded %v; want 5 and 1", got, f)
	}
	time.Sleep(ttl)
	if got, _ := rawQuery(t, via, "t1"); !bytes.Equal(got, moved) || forwards("t1") != 2 {
		t.Errorf("after answer_ttl: answer is the meta's current one %v, forwards %v", bytes.Equal(got, moved), forwards("t1"))
	}

	for i := 0; i < 3; i++ {
		if _, name := rawQuery(t, via, "absent_in_cluster"); name != codec.ErrorObjectNotFound {
			t.Fatalf("absent table: %s", name)
		}
	}
	if got, f := reused("absent_in_cluster"), forwards("absent_in_cluster"); got != 0 || f != 3 {
		t.Errorf("error answers: reused %v, forwarded %v; want 0 and 3", got, f)
	}

	// The kept answer is A's and fresh; the node moves to B: from the first
	// answer of B on, never A's again.
	rawQuery(t, via, "t1")
	put(t, st, "t1", "B", b)
	sawB := false
	deadline := time.Now().Add(ttl / 2)
	for time.Now().Before(deadline) {
		n, name := query(via, "t1")
		switch {
		case name != codec.ErrorOK:
			t.Fatalf("after the move: %s", name)
		case n == 8:
			sawB = true
		case sawB:
			t.Fatal("A's answer after B's")
		}
	}
	if !sawB {
		t.Errorf("B not seen within %v of the write (answer_ttl %v): the move did not end the kept answer", ttl/2, ttl)
	}
}
