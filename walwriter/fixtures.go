package walwriter

import (
	"fmt"
	"path/filepath"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/walreader"
)

// FixtureMutation is one mutation of a captured fixture, as listed in
// storage.md §1.12. Value "" means an empty write (§1.8); any other value is
// a PUT of hash key "a", sort key "a" with that value, no TTL, written by
// the C++ side (wrapper field id 0, §2.2).
type FixtureMutation struct {
	Decree        int64
	LastCommitted int64
	Timestamp     int64 // µs since the Unix epoch
	Value         string
	// Facts to check, not inputs: file offset (= log_offset, the file
	// starts at global offset 0) and encoded size.
	Offset int64
	Size   int
}

// FixtureBlock is one block of a captured fixture (a fact to check).
type FixtureBlock struct {
	Offset int64
	Length int32
	CRC    uint32
}

// Fixture is one of the three plog files captured in Pegasus's test suite
// (src/replica/duplication/test/), described in storage.md §1.12.
type Fixture struct {
	Name                  string // file name, log.1.0.<test name>
	AppID, PartitionIndex int32
	Ballot                int64
	// Batches are the disk writes in order: each became one block.
	Batches [][]FixtureMutation
	// Facts to check the regenerated file against.
	Size   int64
	Blocks []FixtureBlock
}

// Mutations lists the fixture's mutations in log order.
func (f *Fixture) Mutations() []FixtureMutation {
	var out []FixtureMutation
	for _, b := range f.Batches {
		out = append(out, b...)
	}
	return out
}

// fixture key: hash key "a", sort key "a" (storage.md §1.12).
var fixtureHashKey, fixtureSortKey = []byte("a"), []byte("a")

// Fixtures returns the facts of the three captured plog files
// (storage.md §1.11, §1.12). Each call returns fresh values.
func Fixtures() []Fixture {
	return []Fixture{
		{
			Name: "log.1.0.handle_real_private_log", AppID: 1, PartitionIndex: 4, Ballot: 3, Size: 917,
			Batches: [][]FixtureMutation{
				{
					{Decree: 1, LastCommitted: 0, Timestamp: 1521010430135992, Value: "a", Offset: 76, Size: 120},
					{Decree: 2, LastCommitted: 1, Timestamp: 1521010432977391, Value: "b", Offset: 196, Size: 120},
					{Decree: 3, LastCommitted: 2, Timestamp: 1521010435209335, Value: "c", Offset: 316, Size: 120},
				},
				{{Decree: 4, LastCommitted: 3, Timestamp: 1521010629560751, Offset: 452, Size: 99}},
				{{Decree: 5, LastCommitted: 4, Timestamp: 1521010675941346, Value: "d", Offset: 567, Size: 120}},
				{{Decree: 6, LastCommitted: 5, Timestamp: 1521010829563428, Offset: 703, Size: 99}},
				{{Decree: 7, LastCommitted: 6, Timestamp: 1521010929565137, Offset: 818, Size: 99}},
			},
			Blocks: []FixtureBlock{
				{0, 44, 0x548F2ABC}, {60, 360, 0x4232DF4A}, {436, 99, 0x2D701F0B},
				{551, 120, 0xB76791C2}, {687, 99, 0x5C408113}, {802, 99, 0xD70241CC},
			},
		},
		{
			Name: "log.1.0.handle_real_private_log2", AppID: 1, PartitionIndex: 4, Ballot: 3, Size: 426,
			Batches: [][]FixtureMutation{
				{{Decree: 1, LastCommitted: 0, Timestamp: 1528799166332891, Offset: 76, Size: 99}},
				{{Decree: 2, LastCommitted: 1, Timestamp: 1528799206967074, Value: "a", Offset: 191, Size: 120}},
				{{Decree: 3, LastCommitted: 2, Timestamp: 1528799366334207, Offset: 327, Size: 99}},
			},
			Blocks: []FixtureBlock{{0, 44, 0x548F2ABC}, {60, 99, 0x4064E460}, {175, 120, 0xE0DBF085}, {311, 99, 0x3B5EA3DC}},
		},
		{
			Name: "log.1.0.all_loaded_are_write_empties", AppID: 1, PartitionIndex: 5, Ballot: 3, Size: 405,
			Batches: [][]FixtureMutation{
				{{Decree: 1, LastCommitted: 0, Timestamp: 1528864131457793, Offset: 76, Size: 99}},
				{{Decree: 2, LastCommitted: 1, Timestamp: 1528864231458328, Offset: 191, Size: 99}},
				{{Decree: 3, LastCommitted: 2, Timestamp: 1528864331458790, Offset: 306, Size: 99}},
			},
			Blocks: []FixtureBlock{{0, 44, 0x63CCDD01}, {60, 99, 0x0E1A7CE0}, {175, 99, 0x79F8ABFB}, {290, 99, 0x2BB72B5D}},
		},
	}
}

// FixtureByName returns the fixture called name.
func FixtureByName(name string) (Fixture, bool) {
	for _, f := range Fixtures() {
		if f.Name == name {
			return f, true
		}
	}
	return Fixture{}, false
}

// FixtureMutationOf builds the plog mutation of fm within fixture f.
func FixtureMutationOf(f *Fixture, fm FixtureMutation) walreader.Mutation {
	m := walreader.Mutation{AppID: f.AppID, PartitionIndex: f.PartitionIndex, Ballot: f.Ballot,
		Decree: fm.Decree, LastCommittedDecree: fm.LastCommitted, Timestamp: fm.Timestamp}
	if fm.Value == "" {
		m.Updates = []walreader.Update{EmptyWrite()}
	} else {
		key := mutation.AppendRawKey(nil, fixtureHashKey, fixtureSortKey)
		m.Updates = []walreader.Update{ThriftUpdate(mutation.CodePut, mutation.AppendPut(nil, 0, key, []byte(fm.Value), 0))}
	}
	return m
}

// WriteFixture re-creates the captured fixture called name in dir, byte for
// byte (storage.md §1.10, §1.12), and returns its path.
func WriteFixture(dir, name string) (string, error) { return writeFixture(dir, name, false) }

// WriteFixtureTree re-creates the fixture called name where a replica keeps
// its plog, root/<app>.<partition>.pegasus/plog/log.1.0 (storage.md §1.1),
// so that walreader.Discover (replay, wal stat, verify) finds it from root;
// the bytes are the fixture's. It returns the file's path.
func WriteFixtureTree(root, name string) (string, error) { return writeFixture(root, name, true) }

func writeFixture(dir, name string, tree bool) (string, error) {
	f, ok := FixtureByName(name)
	if !ok {
		return "", fmt.Errorf("walwriter: no fixture %q", name)
	}
	fileName := f.Name
	if tree {
		dir = PlogDir(dir, f.AppID, int(f.PartitionIndex))
		fileName = FileName(1, 0)
	}
	w, err := Create(dir, Options{AppID: f.AppID, PartitionIndex: f.PartitionIndex, FileName: fileName})
	if err != nil {
		return "", err
	}
	for _, b := range f.Batches {
		ms := make([]walreader.Mutation, len(b))
		for i, fm := range b {
			ms[i] = FixtureMutationOf(&f, fm)
		}
		if err := w.WriteBatch(ms); err != nil {
			w.Close()
			return "", err
		}
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	return filepath.Join(dir, fileName), nil
}
