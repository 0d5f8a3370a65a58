package deliver_test

import "testing"

// addPostgres adds the PostgreSQL store once it delivers.
func addPostgres(b map[string]func(t *testing.T) store) {}
