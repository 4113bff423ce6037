package metaproxy

import (
	"sync"
	"time"
)

// Reused answers (answer_ttl): a meta's OK answer to a query is kept with
// the binding it was forwarded for and given to identical queries (same
// table, same partition indices) for answer_ttl after the query was sent.
// The answer is the meta's bytes; what a client may miss is a change of the
// table's partitions (a primary that moved) during that window, as if its
// query had been slower. A binding is replaced whenever the table's node
// is re-read (a watch event), so a new mapping never sees an old answer;
// an error answer, or no answer, removes the kept one.

// Bounds of what one binding keeps: clients ask for every partition (no
// indices) or a few, so a handful of keys covers them; longer or rarer
// index lists are forwarded every time.
const (
	maxAnswerKeys  = 32
	maxKeyIndices  = 16
	indicesKeySize = 4 * maxKeyIndices
)

// answers are one binding's reusable answers, by indices key. Any
// goroutine.
type answers struct {
	mu sync.Mutex
	m  map[string]answer
}

type answer struct {
	body []byte        // never modified once stored
	sent time.Duration // when its query was sent, on the proxy's clock
}

// appendIndicesKey appends indices' key to dst: little-endian int32s.
func appendIndicesKey(dst []byte, indices []int32) []byte {
	for _, i := range indices {
		dst = append(dst, byte(i), byte(i>>8), byte(i>>16), byte(i>>24))
	}
	return dst
}

// indicesKey is indices' key as a string (the flights' and answers' key).
func indicesKey(indices []int32) string {
	return string(appendIndicesKey(make([]byte, 0, 4*len(indices)), indices))
}

// reusable reports whether answers to indices are kept.
func reusable(indices []int32) bool { return len(indices) <= maxKeyIndices }

// fresh returns the answer kept for key if its query was sent less than
// ttl before now.
func (a *answers) fresh(key []byte, now, ttl time.Duration) ([]byte, bool) {
	a.mu.Lock()
	an, ok := a.m[string(key)] // no allocation: the conversion only indexes
	a.mu.Unlock()
	if !ok || now-an.sent >= ttl {
		return nil, false
	}
	return an.body, true
}

// keep stores a copy of an OK answer whose query was sent at sent, unless
// a newer one is kept already or the binding holds maxAnswerKeys others.
func (a *answers) keep(key string, body []byte, sent time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	old, had := a.m[key]
	switch {
	case had && old.sent > sent:
		return
	case !had && len(a.m) >= maxAnswerKeys:
		return
	case a.m == nil:
		a.m = make(map[string]answer)
	}
	a.m[key] = answer{body: append([]byte(nil), body...), sent: sent}
}

// forget removes key's answer (the meta answered an error, or nothing).
func (a *answers) forget(key string) {
	a.mu.Lock()
	delete(a.m, key)
	a.mu.Unlock()
}
