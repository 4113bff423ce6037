package main

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// newVersionCmd is `dupbridge version`: the module version and the VCS
// revision the binary was built from (runtime/debug build info).
func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the module version and the VCS revision of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, ok := debug.ReadBuildInfo()
			if !ok {
				return fmt.Errorf("version: the binary carries no build information")
			}
			printVersion(cmd.OutOrStdout(), bi)
			return nil
		},
	}
}

// printVersion writes one line: module path and version (a tag for `go
// install module@version`, "(devel)" for a build in a checkout), Go
// version, then the revision, its time and "modified" for a dirty tree when
// the build recorded them (-buildvcs, on by default in a git checkout).
func printVersion(w io.Writer, bi *debug.BuildInfo) {
	vcs := map[string]string{}
	for _, s := range bi.Settings {
		vcs[s.Key] = s.Value
	}
	fmt.Fprintf(w, "dupbridge %s %s, %s", bi.Main.Path, bi.Main.Version, bi.GoVersion)
	if rev := vcs["vcs.revision"]; rev != "" {
		fmt.Fprintf(w, ", %s revision %s", vcs["vcs"], rev)
		if t := vcs["vcs.time"]; t != "" {
			fmt.Fprintf(w, " (%s)", t)
		}
		if vcs["vcs.modified"] == "true" {
			fmt.Fprint(w, ", modified")
		}
	} else {
		fmt.Fprint(w, ", no VCS revision recorded")
	}
	fmt.Fprintln(w)
}
