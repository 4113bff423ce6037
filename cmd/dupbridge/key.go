package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dupbridge/dupbridge/mutation"
)

// newKeyCmd prints the Pegasus key hash of (hash key, sort key) and,
// with --partitions, the partition it routes to (storage.md §3.3, §3.4).
func newKeyCmd(_ *globalFlags) *cobra.Command {
	var (
		partitions int
		hexKeys    bool
	)
	cmd := &cobra.Command{
		Use:   "key [--partitions N] [--hex] HASH_KEY [SORT_KEY]",
		Short: "Print the key hash (and partition) of a hash key and sort key",
		Long: `Prints {"hash": "0x<16 hex digits>", "partition": n} as JSON.

The hash is pegasus_key_hash of the raw key built from HASH_KEY and SORT_KEY:
the CRC-64 of the hash key, or of the sort key when the hash key is empty.
The partition (only with --partitions) is hash mod N, unsigned.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("partitions") && partitions <= 0 {
				return fmt.Errorf("key: --partitions must be positive, got %d", partitions)
			}
			keys := make([][]byte, 2)
			for i, a := range args {
				if !hexKeys {
					keys[i] = []byte(a)
					continue
				}
				b, err := hex.DecodeString(a)
				if err != nil {
					return fmt.Errorf("key: argument %d is not hex: %w", i+1, err)
				}
				keys[i] = b
			}
			if err := mutation.CheckHashKey(keys[0]); err != nil {
				return fmt.Errorf("key: %w", err)
			}
			h := mutation.KeyHash(mutation.AppendRawKey(nil, keys[0], keys[1]))
			out := struct {
				Hash      string `json:"hash"`
				Partition *int   `json:"partition,omitempty"`
			}{Hash: fmt.Sprintf("0x%016x", h)}
			if cmd.Flags().Changed("partitions") {
				p := mutation.PartitionIndex(h, partitions)
				out.Partition = &p
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
		},
	}
	cmd.Flags().IntVar(&partitions, "partitions", 0, "partition count of the table: also print the partition index")
	cmd.Flags().BoolVar(&hexKeys, "hex", false, "HASH_KEY and SORT_KEY are given in hex")
	return cmd
}
