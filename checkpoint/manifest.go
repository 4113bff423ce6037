package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/dupbridge/dupbridge/jsonfile"
)

// ManifestName is the staging directory's record of what is being fetched
// and what is complete; each partition's files go to the subdirectory named
// by its index.
const ManifestName = "manifest.json"

const manifestVersion = 1

// Manifest describes a staged checkpoint of a master table.
type Manifest struct {
	Version        int    `json:"version"`
	Table          string `json:"table"`
	AppID          int32  `json:"app_id"`
	PartitionCount int    `json:"partition_count"`
	// Partitions are indexed by partition index; an entry with Decree 0 has
	// not been asked for yet.
	Partitions []PartitionManifest `json:"partitions"`
}

// PartitionManifest is one master partition's checkpoint.
type PartitionManifest struct {
	Index    int            `json:"index"`
	Decree   int64          `json:"decree"`
	Dir      string         `json:"dir"`     // base_local_dir on the learnee
	Learnee  string         `json:"learnee"` // host:port it was copied from
	Files    []FileManifest `json:"files"`
	Complete bool           `json:"complete"`
}

// FileManifest is one file of a partition's checkpoint.
type FileManifest struct {
	Name string `json:"name"` // relative, slash-separated
	Size int64  `json:"size"`
	MD5  string `json:"md5,omitempty"` // lower-case hex, when the master offered it
	Done bool   `json:"done"`
}

// Complete reports whether every partition is fully copied.
func (m *Manifest) Complete() bool {
	for i := range m.Partitions {
		if !m.Partitions[i].Complete {
			return false
		}
	}
	return len(m.Partitions) > 0
}

// Bytes returns the total size of the checkpoint files and how many of
// them are copied (by whole files).
func (m *Manifest) Bytes() (total, done int64) {
	for _, p := range m.Partitions {
		for _, f := range p.Files {
			total += f.Size
			if f.Done {
				done += f.Size
			}
		}
	}
	return total, done
}

// PartitionDir is where partition index's files are staged under dir.
func PartitionDir(dir string, index int) string {
	return filepath.Join(dir, strconv.Itoa(index))
}

// ReadManifest reads dir's manifest; os.ErrNotExist (wrapped) when there is
// none.
func ReadManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, ManifestName)
	var m Manifest
	found, err := jsonfile.Read(p, &m)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("checkpoint: no %s in %s: %w", ManifestName, dir, os.ErrNotExist)
	}
	if m.Version != manifestVersion {
		return nil, fmt.Errorf("checkpoint: %s: version %d, want %d", p, m.Version, manifestVersion)
	}
	if m.PartitionCount < 1 || len(m.Partitions) != m.PartitionCount {
		return nil, fmt.Errorf("checkpoint: %s: %d partitions listed for a partition count of %d", p, len(m.Partitions), m.PartitionCount)
	}
	for i, pm := range m.Partitions {
		if pm.Index != i {
			return nil, fmt.Errorf("checkpoint: %s: partition %d listed at position %d", p, pm.Index, i)
		}
		for _, f := range pm.Files {
			if !filepath.IsLocal(filepath.FromSlash(f.Name)) {
				return nil, fmt.Errorf("checkpoint: %s: partition %d: file name %q leaves the staging directory", p, i, f.Name)
			}
		}
	}
	return &m, nil
}
