package config

import (
	"maps"
	"slices"
)

// KnownKeys returns the keys Parse accepts, by section: SectionBridge,
// SectionTablePrefix+"NAME" for every [table.NAME] section, and
// SectionMetaProxy. The sections
// whose keys are names chosen by the operator ([pegasus.clusters],
// [duplication-group]) are listed with no keys. Each list is sorted; the
// result is the caller's. The configuration reference in
// docs/operations.md is checked against it.
func KnownKeys() map[string][]string {
	return map[string][]string{
		SectionClusters:             nil,
		SectionGroup:                nil,
		SectionBridge:               slices.Sorted(maps.Keys(bridgeAndRelayKeys)),
		SectionTablePrefix + "NAME": slices.Sorted(maps.Keys(tableAndAckKeys)),
		SectionMetaProxy:            slices.Sorted(maps.Keys(metaProxyKeys)),
	}
}

// joinKeys is the union of key sets.
func joinKeys(sets ...map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, s := range sets {
		maps.Copy(out, s)
	}
	return out
}
