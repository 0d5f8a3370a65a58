package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"inlet"
)

// TestDurableConfigKeepsTheSyncModeOfEvents checks that a configuration
// change, synced whatever --sync says, leaves the write connection in the
// configured mode for the events' commits that follow. That it survives a
// power cut is TestPowerLoss's to check (cmd/inlet), on a file system that
// drops unsynced writes.
func TestDurableConfigKeepsTheSyncModeOfEvents(t *testing.T) {
	for mode, want := range map[string]int{SyncFull: 2, SyncNormal: 1, SyncOff: 0} {
		t.Run("--sync "+mode, func(t *testing.T) {
			ctx := context.Background()
			db, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "inlet.db"), Sync: mode})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.CreateSource(ctx, &inlet.Source{ID: "s", Name: "s", Type: "webhook", Enabled: true}); err != nil {
				t.Fatal(err)
			}
			name := "n"
			if _, err := db.UpdateSource(ctx, "s", inlet.SourceUpdate{Name: &name}); err != nil {
				t.Fatal(err)
			}
			var got int
			if err := db.write.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("after a configuration change, synchronous is %d on the write connection; want %d (%s)", got, want, mode)
			}
		})
	}
}
