package postgres

import "time"

// PoolStats are the connection pool's figures at one moment, for metrics.
type PoolStats struct {
	// Connections now: acquired by a query, idle, being opened, all, and
	// the most the pool opens.
	Acquired, Idle, Constructing, Total, Max int32
	// Since the pool opened: connections acquired, acquisitions that had to
	// wait for a connection, acquisitions cancelled while waiting, the
	// time spent acquiring, and connections opened.
	Acquires, EmptyAcquires, CanceledAcquires int64
	AcquireDuration                           time.Duration
	NewConns                                  int64
}

// PoolStats returns the connection pool's figures.
func (db *DB) PoolStats() PoolStats {
	s := db.pool.Stat()
	return PoolStats{
		Acquired:         s.AcquiredConns(),
		Idle:             s.IdleConns(),
		Constructing:     s.ConstructingConns(),
		Total:            s.TotalConns(),
		Max:              s.MaxConns(),
		Acquires:         s.AcquireCount(),
		EmptyAcquires:    s.EmptyAcquireCount(),
		CanceledAcquires: s.CanceledAcquireCount(),
		AcquireDuration:  s.AcquireDuration(),
		NewConns:         s.NewConnsCount(),
	}
}
