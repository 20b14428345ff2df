// Package buildinfo holds what the binary knows about its own build: version
// and commit are stamped by the linker (see the Makefile), the Go version is
// read at run time.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Stamped by -ldflags "-X github.com/ringside/ringside/pkg/buildinfo.Version=…".
var (
	Version = "dev"
	Commit  = ""
)

// Info is the build description shown by `ringside version` and exported as
// the ringside_build_info metric.
type Info struct {
	Version   string
	Commit    string
	GoVersion string
}

// Get returns the build description; without a stamped commit it falls back
// to the VCS revision Go recorded, if any.
func Get() Info {
	i := Info{Version: Version, Commit: Commit, GoVersion: runtime.Version()}
	if i.Commit == "" {
		i.Commit = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					i.Commit = s.Value
				}
			}
		}
	}
	return i
}

func (i Info) String() string {
	return fmt.Sprintf("ringside %s (commit %s, %s)", i.Version, i.Commit, i.GoVersion)
}
