//go:build inlet_brokensync

package main

import "inlet/sqlite"

// Built with -tags inlet_brokensync, the program is broken on purpose: it
// answers 2xx for events that are not synced to disk (SQLite runs with
// synchronous=OFF whatever --sync says). Only the power-loss test's
// self-check builds it, to show that the test catches such a build.
func init() {
	brokenSync = sqlite.SyncOff
}
