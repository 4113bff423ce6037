package checkpoint

import (
	"time"

	"github.com/dupbridge/dupbridge/checkpoint/sst"
)

// OpenSST is the Opener of staged RocksDB checkpoints: the SST reader's
// merge of the partition's tables (package checkpoint/sst), keeping the
// newest live version of each key of this partition (a split partition's
// files also hold its sibling's keys, storage.md §3.4), expiry judged now.
func OpenSST(dir string, partition, count int, after []byte) (Source, error) {
	c, err := sst.OpenCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	o := sst.LiveOptions{Now: time.Now(), PartitionIndex: partition, PartitionCount: count}
	if after != nil {
		o.Start = append(append([]byte{}, after...), 0) // the first raw key after it
	}
	l := c.Live(o)
	return &sstSource{c: c, l: l}, nil
}

type sstSource struct {
	c *sst.Checkpoint
	l *sst.Live
}

func (s *sstSource) Next(r *Record) bool {
	if !s.l.Next() {
		return false
	}
	*r = Record{Key: s.l.Key(), Value: s.l.UserData(), ExpireTs: s.l.ExpireTs(), Timetag: s.l.Timetag()}
	return true
}

func (s *sstSource) Err() error { return s.l.Err() }

func (s *sstSource) Close() error {
	s.l.Close()
	return s.c.Close()
}
