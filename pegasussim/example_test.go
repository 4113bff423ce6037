package pegasussim_test

import (
	"context"
	"fmt"

	"github.com/dupbridge/dupbridge/pegasussim"
)

// A follower simulator with one table, its own cluster id 2 and the master's
// id 1 in its [duplication-group].
func ExampleStart() {
	sim, err := pegasussim.Start(context.Background(), pegasussim.Options{
		Replicas:  3,
		Tables:    []pegasussim.TableSpec{{Name: "temp", Partitions: 8}},
		ClusterID: 2,
		DupGroup:  map[string]uint8{"master": 1, "follower": 2},
	})
	if err != nil {
		panic(err)
	}
	defer sim.Close()
	// sim.MetaAddr() goes into the master's [pegasus.clusters]; writes
	// arrive at sim.ReplicaAddrs().
	fmt.Println(len(sim.ReplicaAddrs()), sim.Tables()[0].Name, len(sim.Tables()[0].Partitions))
	recs, _ := sim.Dump("temp")
	bad, _ := sim.CheckPlacement("temp")
	fmt.Println(len(recs), len(bad), sim.Counters().DupEntriesApplied)
	// Output:
	// 3 temp 8
	// 0 0 0
}
