package main

import "testing"

func TestClientBackendDB(t *testing.T) {
	for _, c := range []struct {
		title, db string
		ok        bool
	}{
		{"postgres: 15/main: postgres bench 127.0.0.1(40112) idle", "bench", true},
		{"postgres: 15/main: postgres test [local] SELECT", "test", true},
		{"postgres: postgres bench 127.0.0.1(40112) INSERT", "bench", true},
		{"postgres: 15/main: walwriter ", "", false},
		{"postgres: 15/main: autovacuum launcher ", "", false},
		{"postgres: 15/main: logical replication launcher ", "", false},
		{"/usr/lib/postgresql/15/bin/postgres\x00-D\x00/var/lib/postgresql/15/main", "", false},
	} {
		db, ok := clientBackendDB(c.title)
		if db != c.db || ok != c.ok {
			t.Errorf("clientBackendDB(%q) = %q, %v; want %q, %v", c.title, db, ok, c.db, c.ok)
		}
	}
}

func TestMergeWrk(t *testing.T) {
	m := mergeWrk([]*wrkResult{
		{Requests: 1000, DurationUS: 1e6, P50US: 10, P99US: 100, P999US: 200, MaxUS: 300, MeanUS: 20, Status: 1, Read: 2},
		{Requests: 3000, DurationUS: 2e6, P50US: 5, P99US: 150, P999US: 180, MaxUS: 400, MeanUS: 40, Timeout: 3},
	})
	if got, want := m.RPS(), 1000.0+1500.0; got < want-1 || got > want+1 {
		t.Errorf("RPS = %.1f, want the sum %.0f", got, want)
	}
	if m.Requests != 4000 || m.Status != 1 || m.SocketErrors() != 5 {
		t.Errorf("requests %d, status %d, socket errors %d; want 4000, 1, 5", m.Requests, m.Status, m.SocketErrors())
	}
	if m.P50US != 10 || m.P99US != 150 || m.P999US != 200 || m.MaxUS != 400 {
		t.Errorf("percentiles %d %d %d %d; want the worst of each: 10 150 200 400", m.P50US, m.P99US, m.P999US, m.MaxUS)
	}
	if m.MeanUS != 35 {
		t.Errorf("mean %.1f, want 35 (weighted by requests)", m.MeanUS)
	}
}
