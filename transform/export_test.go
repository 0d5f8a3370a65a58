package transform

import "time"

// SetTimeout changes a program's time bound, so that a test of the cost
// limit does not depend on the machine's speed.
func SetTimeout(p *Program, d time.Duration) { p.timeout = d }
