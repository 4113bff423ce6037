package pegasussim

import (
	"bytes"
	"fmt"
	"sort"
)

// Record is one stored key-value pair as the simulator holds it.
type Record struct {
	Partition int    `json:"partition"`
	HashKey   []byte `json:"hash_key"`
	SortKey   []byte `json:"sort_key"`
	Value     []byte `json:"value"`
	// ExpireTs is the absolute expiry in seconds since 2016-01-01 (0: none).
	ExpireTs uint32 `json:"expire_ts"`
	// Timetag is the value's timetag (storage.md §4.4).
	Timetag uint64 `json:"timetag"`
	// Hash is the key hash, and Misplaced tells whether it names another
	// partition than the one holding the record.
	Hash      uint64 `json:"hash"`
	Misplaced bool   `json:"misplaced"`
}

// Dump returns a table's live records (expired ones are absent, as for
// readers) in raw-key order across all partitions.
func (c *Cluster) Dump(tableName string) ([]Record, error) {
	return c.dump(tableName, false)
}

// DumpAll is Dump including records that have expired.
func (c *Cluster) DumpAll(tableName string) ([]Record, error) {
	return c.dump(tableName, true)
}

func (c *Cluster) dump(tableName string, all bool) ([]Record, error) {
	t, err := c.table(tableName)
	if err != nil {
		return nil, err
	}
	en := epochNow(c.opts.Now())
	type keyed struct {
		raw string
		r   Record
	}
	var out []keyed
	for _, p := range t.parts {
		p.mu.Lock()
		for _, k := range p.st.sorted() {
			v := p.st.m[k]
			if !all && expired(v1Expire(v), en) {
				continue
			}
			hk, sk, _ := splitRawKey([]byte(k))
			h := keyHash([]byte(k))
			out = append(out, keyed{k, Record{
				Partition: int(p.pidx), HashKey: hk, SortKey: sk,
				Value: bytes.Clone(v1User(v)), ExpireTs: v1Expire(v), Timetag: v1Timetag(v),
				Hash: h, Misplaced: partitionOf(h, p.count) != int(p.pidx),
			}})
		}
		p.mu.Unlock()
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].raw < out[j].raw })
	recs := make([]Record, len(out))
	for i := range out {
		recs[i] = out[i].r
	}
	return recs, nil
}

// Get returns one live record.
func (c *Cluster) Get(tableName string, hashKey, sortKey []byte) (Record, bool, error) {
	t, err := c.table(tableName)
	if err != nil {
		return Record{}, false, err
	}
	raw := rawKey(hashKey, sortKey)
	h := keyHash(raw)
	// Look in the right partition first, then everywhere (misplaced keys).
	order := []int{partitionOf(h, len(t.parts))}
	for i := range t.parts {
		if i != order[0] {
			order = append(order, i)
		}
	}
	en := epochNow(c.opts.Now())
	for _, i := range order {
		p := t.parts[i]
		p.mu.Lock()
		v, ok := p.st.get(raw)
		if ok && !expired(v1Expire(v), en) {
			r := Record{
				Partition: i, HashKey: bytes.Clone(hashKey), SortKey: bytes.Clone(sortKey),
				Value: bytes.Clone(v1User(v)), ExpireTs: v1Expire(v), Timetag: v1Timetag(v),
				Hash: h, Misplaced: partitionOf(h, p.count) != i,
			}
			p.mu.Unlock()
			return r, true, nil
		}
		p.mu.Unlock()
	}
	return Record{}, false, nil
}

// CheckPlacement returns every stored record (expired included) whose key
// hash names another partition than the one holding it; empty means every
// key sits where its hash says.
func (c *Cluster) CheckPlacement(tableName string) ([]Record, error) {
	recs, err := c.dump(tableName, true)
	if err != nil {
		return nil, err
	}
	var bad []Record
	for _, r := range recs {
		if r.Misplaced {
			bad = append(bad, r)
		}
	}
	return bad, nil
}

// MisplacedKey is a key a write tried to put into the wrong partition.
type MisplacedKey struct {
	Partition int    `json:"partition"` // the partition that received it
	Want      int    `json:"want"`      // the partition its hash names
	HashKey   []byte `json:"hash_key"`
	SortKey   []byte `json:"sort_key"`
	Written   int64  `json:"written"`  // times applied (lenient mode)
	Rejected  int64  `json:"rejected"` // times rejected (strict mode)
}

// Misplaced lists the misplaced keys the table's partitions have seen, in
// (partition, raw key) order.
func (c *Cluster) Misplaced(tableName string) ([]MisplacedKey, error) {
	t, err := c.table(tableName)
	if err != nil {
		return nil, err
	}
	var out []MisplacedKey
	for _, p := range t.parts {
		p.mu.Lock()
		keys := make([]string, 0, len(p.misplaced))
		for k := range p.misplaced {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			m := p.misplaced[k]
			hk, sk, _ := splitRawKey([]byte(k))
			out = append(out, MisplacedKey{
				Partition: int(p.pidx), Want: partitionOf(keyHash([]byte(k)), p.count),
				HashKey: hk, SortKey: sk, Written: m.written, Rejected: m.rejected,
			})
		}
		p.mu.Unlock()
	}
	return out, nil
}

// TableInfo describes a table and where its partitions live.
type TableInfo struct {
	Name       string            `json:"name"`
	AppID      int32             `json:"app_id"`
	Partitions []PartitionInfo   `json:"partitions"`
	Envs       map[string]string `json:"envs"`
	Keys       int               `json:"keys"`
}

// PartitionInfo is one partition's configuration and size.
type PartitionInfo struct {
	Index       int      `json:"index"`
	Ballot      int64    `json:"ballot"`
	Primary     string   `json:"primary"`
	Secondaries []string `json:"secondaries"`
	Decree      int64    `json:"decree"`
	Keys        int      `json:"keys"`
}

// Tables describes every live table, by app_id.
func (c *Cluster) Tables() []TableInfo {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []TableInfo
	for _, t := range c.allTablesLocked() {
		if t.status != asAvailable {
			continue
		}
		ti := TableInfo{Name: t.name, AppID: t.appID, Envs: map[string]string{}}
		for k, v := range t.envs {
			ti.Envs[k] = v
		}
		for i, cfg := range t.configs {
			p := t.parts[i]
			p.mu.Lock()
			pi := PartitionInfo{Index: i, Ballot: cfg.ballot, Primary: c.replicas[cfg.primary].hostPort, Decree: p.decree, Keys: p.st.len()}
			p.mu.Unlock()
			for _, s := range cfg.secondaries {
				pi.Secondaries = append(pi.Secondaries, c.replicas[s].hostPort)
			}
			ti.Keys += pi.Keys
			ti.Partitions = append(ti.Partitions, pi)
		}
		out = append(out, ti)
	}
	return out
}

func (c *Cluster) table(name string) (*table, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t := c.tables[name]
	if t == nil {
		return nil, fmt.Errorf("pegasussim: table %q: %w", name, ErrUnknownTable)
	}
	return t, nil
}
