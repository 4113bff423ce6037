package router

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// nullFollower answers every duplicate with success at once: it measures
// the router alone (queues, coalescing, callbacks), no network.
type nullFollower struct {
	cfg *rpcclient.TableConfig
	ok  []byte
}

func newNullFollower(count int) *nullFollower {
	n := &nullFollower{
		cfg: &rpcclient.TableConfig{AppID: 2, PartitionCount: int32(count)},
		ok:  mutation.AppendDupResponse(nil, 0, 0, ""),
	}
	for i := 0; i < count; i++ {
		n.cfg.Partitions = append(n.cfg.Partitions, rpcclient.PartitionConfig{Index: int32(i), Ballot: 1, Primary: "127.0.0.1:1"})
	}
	return n
}

func (n *nullFollower) QueryConfig(context.Context, string, []int32) (*rpcclient.TableConfig, error) {
	return n.cfg, nil
}

func (n *nullFollower) Call(context.Context, string, *rpcclient.Request) (*rpcclient.Response, error) {
	return &rpcclient.Response{Err: codec.ErrorOK, Body: n.ok}, nil
}

func (n *nullFollower) Reset(string) {}

// benchShipments prepares per-partition shipments of perShip entries.
func benchShipments(count, perShip int) [][]*Shipment {
	out := make([][]*Shipment, count)
	value := make([]byte, 64)
	for p := 0; p < count; p++ {
		keys := keysFor(p, count, 16)
		for s := 0; s < 4; s++ {
			var b Builder
			for i := 0; i < perShip; i++ {
				k := keys[(s*perShip+i)%len(keys)]
				key := mutation.AppendRawKey(nil, []byte(k), []byte("sort-"+strconv.Itoa(i)))
				raw := mutation.AppendPut(nil, 0, key, value, 0)
				var w mutation.DupRequestWriter
				w.Begin(nil, 0)
				w.AppendEntry(&mutation.DupEntry{Timestamp: 1700000000000000, TaskCode: []byte(mutation.NamePut),
					RawMessage: raw, ClusterID: 1, HasClusterID: true})
				body := w.Finish()
				ents, _, _ := CanonicalBody(body)
				b.Add(ents, mutation.HashKeyHash([]byte(k)), 1700000000000000)
			}
			out[p] = append(out[p], b.Shipment(count))
		}
	}
	return out
}

// runShip ships b.N shipments round-robin over the partitions with at most
// window outstanding (the server's in-flight cap), and reports entries/s.
func runShip(b *testing.B, tb *Table, ships [][]*Shipment, perShip, window int) {
	count := len(ships)
	sem := make(chan struct{}, window)
	var wg sync.WaitGroup
	var failed sync.Once
	done := func(r Result) {
		if r.Status != StatusOK {
			failed.Do(func() { b.Errorf("shipment: %v %v", r.Status, r.Err) })
		}
		<-sem
		wg.Done()
	}
	b.SetBytes(int64(len(ships[0][0].Body)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		p := i % count
		sem <- struct{}{}
		wg.Add(1)
		// A shipment is owned by the router until done; the same bodies
		// are read-only, so sharing them is safe here.
		tb.Ship(p, ships[p][(i/count)%len(ships[p])], done)
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*perShip)/el.Seconds(), "entries/s")
}

func BenchmarkShip(b *testing.B) {
	const count, perShip = 8, 10
	ships := benchShipments(count, perShip)
	b.Run("null-follower", func(b *testing.B) {
		f := newNullFollower(count)
		tb, err := New(context.Background(), Options{Table: "t", Meta: f, Transport: f})
		if err != nil {
			b.Fatal(err)
		}
		defer tb.Close()
		runShip(b, tb, ships, perShip, 4096)
	})
	b.Run("pegasussim", func(b *testing.B) {
		c, err := pegasussim.Start(context.Background(), pegasussim.Options{
			Tables:   []pegasussim.TableSpec{{Name: "t", Partitions: count}},
			DupGroup: map[string]uint8{"master": 1},
			Logger:   zap.NewNop(),
		})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		tb, err := New(context.Background(), Options{Table: "t", Metas: []string{c.MetaAddr()}})
		if err != nil {
			b.Fatal(err)
		}
		defer tb.Close()
		runShip(b, tb, ships, perShip, 4096)
	})
}

// BenchmarkCoalescing compares coalescing queued shipments into one RPC
// (ours, the default) with one RPC per shipment (baseline), against the
// simulated follower over loopback.
func BenchmarkCoalescing(b *testing.B) {
	const count, perShip = 8, 10
	ships := benchShipments(count, perShip)
	for _, v := range []struct {
		name string
		max  int
	}{{"ours", 0}, {"baseline", -1}} {
		b.Run(v.name, func(b *testing.B) {
			c, err := pegasussim.Start(context.Background(), pegasussim.Options{
				Tables:   []pegasussim.TableSpec{{Name: "t", Partitions: count}},
				DupGroup: map[string]uint8{"master": 1},
			})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			tb, err := New(context.Background(), Options{Table: "t", Metas: []string{c.MetaAddr()}, MaxBatchBytes: v.max})
			if err != nil {
				b.Fatal(err)
			}
			defer tb.Close()
			runShip(b, tb, ships, perShip, 4096)
		})
	}
}
