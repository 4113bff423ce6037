package mutation

import "testing"

// IsPut and IsDelete split the four duplicated codes by what the follower
// stores: PUT and MULTI_PUT write values with a timetag, REMOVE and
// MULTI_REMOVE delete (duplication.md §4.2, §4.4).
func TestCodeKinds(t *testing.T) {
	for _, c := range []struct {
		code          Code
		put, del, dup bool
	}{
		{CodePut, true, false, true},
		{CodeMultiPut, true, false, true},
		{CodeRemove, false, true, true},
		{CodeMultiRemove, false, true, true},
		{CodeIncr, false, false, false},
		{CodeCheckAndSet, false, false, false},
		{CodeCheckAndMutate, false, false, false},
		{CodeDuplicate, false, false, false},
		{CodeWriteEmpty, false, false, false},
		{CodeUnknown, false, false, false},
	} {
		if c.code.IsPut() != c.put || c.code.IsDelete() != c.del || c.code.Duplicated() != c.dup {
			t.Errorf("%s: IsPut %v IsDelete %v Duplicated %v, want %v %v %v", c.code,
				c.code.IsPut(), c.code.IsDelete(), c.code.Duplicated(), c.put, c.del, c.dup)
		}
	}
}
