package router

import (
	"fmt"
	"testing"
)

// TestErrorNamesBounded: error names come off the wire, so a follower
// inventing a new one per reply must not grow the error label without
// bound; the total count stays exact.
func TestErrorNamesBounded(t *testing.T) {
	for _, tc := range []struct {
		distinct, each int
		wantNames      int
		wantOther      uint64
	}{
		{distinct: 3, each: 2, wantNames: 3},
		{distinct: maxErrorNames - 1, each: 1, wantNames: maxErrorNames - 1},
		{distinct: maxErrorNames, each: 1, wantNames: maxErrorNames, wantOther: 1},
		{distinct: 1000, each: 3, wantNames: maxErrorNames, wantOther: 3 * (1000 - (maxErrorNames - 1))},
	} {
		var c counters
		for i := range tc.distinct {
			for range tc.each {
				c.countError(fmt.Sprintf("ERR_INVENTED_%d", i))
			}
		}
		got := c.errorsSnapshot()
		var total uint64
		for _, v := range got {
			total += v
		}
		if len(got) != tc.wantNames || got[OtherErrors] != tc.wantOther || total != uint64(tc.distinct*tc.each) {
			t.Errorf("%d names × %d: %d names, other %d, total %d; want %d names, other %d, total %d",
				tc.distinct, tc.each, len(got), got[OtherErrors], total, tc.wantNames, tc.wantOther, tc.distinct*tc.each)
		}
	}
}
