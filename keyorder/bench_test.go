package keyorder

import (
	"fmt"
	"testing"
)

// BenchmarkAdmit measures one admission on the bridge's hot path, over a
// working set larger than the CPU caches (the guard's real regime): new
// keys (remembered), and known keys (updated).
func BenchmarkAdmit(b *testing.B) {
	const keys = 1 << 18
	ks := make([][]byte, keys)
	for i := range ks {
		ks[i] = rk(fmt.Sprintf("user%08d", i*7919%keys), fmt.Sprintf("sort%02d", i%8))
	}
	for _, known := range []bool{false, true} {
		b.Run(fmt.Sprintf("known=%v", known), func(b *testing.B) {
			g := New(Options{})
			if known {
				for i, k := range ks {
					g.Admit(1, k, Timetag(int64(i), 1))
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%keys == 0 && i > 0 && !known {
					b.StopTimer()
					g = New(Options{})
					b.StartTimer()
				}
				g.Admit(1, ks[i%keys], Timetag(int64(keys+i), 1))
			}
		})
	}
}
