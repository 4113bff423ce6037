package router_test

import (
	"context"
	"fmt"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/router"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// oneFollower is a stand-in follower: one partition, every write succeeds.
type oneFollower struct{}

func (oneFollower) QueryConfig(context.Context, string, []int32) (*rpcclient.TableConfig, error) {
	return &rpcclient.TableConfig{AppID: 5, PartitionCount: 1, Partitions: []rpcclient.PartitionConfig{
		{Index: 0, Ballot: 1, Primary: "127.0.0.1:34801"},
	}}, nil
}

func (oneFollower) Call(_ context.Context, _ string, req *rpcclient.Request) (*rpcclient.Response, error) {
	return &rpcclient.Response{Err: codec.ErrorOK, Body: mutation.AppendDupResponse(nil, 0, 0, "")}, nil
}

func (oneFollower) Reset(string) {}

// A caller splits entries by PartitionCount, builds one shipment per
// partition and ships it; done reports the outcome.
func Example() {
	tb, err := router.New(context.Background(), router.Options{
		Table: "t", Meta: oneFollower{}, Transport: oneFollower{}, // normally: Metas: []string{"host:port"}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tb.Close()

	key := mutation.AppendRawKey(nil, []byte("user42"), []byte("name"))
	var w mutation.DupRequestWriter
	w.Begin(nil, 0)
	w.AppendEntry(&mutation.DupEntry{Timestamp: 1700000000000000, TaskCode: []byte(mutation.NamePut),
		RawMessage: mutation.AppendPut(nil, 0, key, []byte("Ada"), 0), ClusterID: 1, HasClusterID: true})
	body := w.Finish()

	count := tb.PartitionCount()
	hash := mutation.KeyHash(key)
	done := make(chan router.Result, 1)
	tb.Ship(mutation.PartitionIndex(hash, count), &router.Shipment{
		Body: body, PartitionHash: hash, Entries: 1, PartitionCount: count,
	}, func(r router.Result) { done <- r })
	r := <-done
	fmt.Println(r.Status, r.Attempts, tb.AppID(), count)
	// Output: ok 1 5 1
}
