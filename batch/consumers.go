package batch

import "inlet"

// Consumer reads the events of each commit: the live stream, the schema
// catalog and delivery are consumers. It is called on the writer's
// goroutine, after the commit and before the requests are woken, so it
// must not block: the next commit waits for it. The events are shared by
// every consumer of the commit: a consumer may keep them but must not
// change them.
type Consumer func(events []*inlet.Event)

// Tell returns the Options.OnCommit that hands the events each commit
// stored to every consumer, in the order given. The events are made once
// per commit, as stored: with the id, session and profile the store gave
// them, and without the duplicates, which were not stored again.
func Tell(consumers ...Consumer) func(intakes []inlet.Intake, out []inlet.Appended) {
	return func(intakes []inlet.Intake, out []inlet.Appended) {
		events := make([]*inlet.Event, 0, len(intakes))
		for i := range intakes {
			if out[i].Duplicate {
				continue
			}
			e := intakes[i].Event // a copy: the writer reuses the intakes
			e.ID, e.SessionID, e.ProfileID = out[i].EventID, out[i].SessionID, out[i].ProfileID
			events = append(events, &e)
		}
		for _, c := range consumers {
			c(events)
		}
	}
}
