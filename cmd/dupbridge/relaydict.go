package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/relay"
	"github.com/dupbridge/dupbridge/walreader"
)

// newRelayDictCmd is `dupbridge relay-dict --out FILE PLOG...`: trains the
// zstd dictionary an edge and its sink name in relay_zstd_dict
// (docs/relay.md §2.4) from the write payloads of captured plogs.
func newRelayDictCmd(_ *globalFlags) *cobra.Command {
	var out, size string
	var samples, level int
	cmd := &cobra.Command{
		Use:   "relay-dict --out FILE PLOG...",
		Short: "Train a zstd dictionary for the WAN link (relay_zstd_dict) from the writes of plogs",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("relay-dict: --out FILE is required")
			}
			n, err := config.ParseSize(size)
			if err != nil || n < 1<<10 || n > 1<<20 {
				return fmt.Errorf("relay-dict: --size %q: want 1KiB to 1MiB", size)
			}
			set, err := collectSamples(args, samples)
			if err != nil {
				return err
			}
			d, err := relay.TrainDict(set, int(n), level)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, d.Data, 0o644); err != nil {
				return fmt.Errorf("relay-dict: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: zstd dictionary id %d, %d bytes, trained from %d writes\n", out, d.ID, len(d.Data), len(set))
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "dictionary file to write")
	cmd.Flags().StringVar(&size, "size", "16KiB", "largest dictionary size")
	cmd.Flags().IntVar(&samples, "samples", 20000, "write payloads to train from (spread over the partitions)")
	cmd.Flags().IntVar(&level, "level", config.DefaultRelayZstdLevel, "relay_zstd_level the dictionary is tuned for (1..4)")
	return cmd
}

// collectSamples reads up to max write payloads, spread evenly over the
// partitions found under paths.
func collectSamples(paths []string, max int) ([][]byte, error) {
	srcs, err := walreader.Discover(paths)
	if err != nil {
		return nil, err
	}
	per := max/len(srcs) + 1
	var set [][]byte
	for _, src := range srcs {
		r, err := walreader.Open(src.Paths, walreader.Options{})
		if err != nil {
			return nil, err
		}
		got := 0
		for got < per {
			m, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				_ = r.Close()
				return nil, fmt.Errorf("relay-dict: %s: %w", src.Key, err)
			}
			for _, u := range m.Updates {
				set = append(set, append([]byte(nil), u.Data...))
				got++
			}
		}
		_ = r.Close()
	}
	if len(set) == 0 {
		return nil, errors.New("relay-dict: no writes in the plogs")
	}
	return set, nil
}
