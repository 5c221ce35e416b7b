package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/keycard/keycard/metrics"
)

// version and commit are set at build time:
//
//	go build -ldflags "-X main.version=1.2.0 -X main.commit=$(git rev-parse HEAD)"
//
// Unset, the module version and the VCS stamp are used (go build in a
// clone stamps them unless -buildvcs=false).
var (
	version = ""
	commit  = ""
)

func versionCommand() *command {
	return &command{
		name:    "version",
		summary: "print the version, commit and Go version",
		setup: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, inv *invocation, args []string) error {
				printVersion(inv.stdout)
				return nil
			}
		},
	}
}

func printVersion(w io.Writer) {
	b := buildInfo()
	fmt.Fprintf(w, "keycard %s (commit %s, %s %s/%s)\n", b.Version, b.Commit, b.GoVersion, runtime.GOOS, runtime.GOARCH)
}

// buildInfo is what this binary knows about its build.
func buildInfo() metrics.BuildInfo {
	b := metrics.BuildInfo{Version: version, Commit: commit, GoVersion: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if b.Version == "" {
		b.Version = "devel"
		if ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
	}
	if b.Commit == "" {
		b.Commit = "unknown"
		if ok {
			modified := false
			for _, s := range info.Settings {
				switch s.Key {
				case "vcs.revision":
					b.Commit = s.Value
				case "vcs.modified":
					modified = s.Value == "true"
				}
			}
			if modified && b.Commit != "unknown" {
				b.Commit += "-dirty"
			}
		}
	}
	return b
}
