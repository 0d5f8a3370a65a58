package batch_test

import (
	"encoding/json"
	"testing"

	"inlet"
	"inlet/batch"
)

func TestTell(t *testing.T) {
	t.Run("every consumer gets the stored events, as stored, without the duplicates", func(t *testing.T) {
		intakes := []inlet.Intake{
			{Event: inlet.Event{ID: "a", SourceID: "shop", Type: "order", Properties: json.RawMessage(`{"n":1}`)}},
			{Event: inlet.Event{ID: "b", SourceID: "shop", Type: "order"}},
			{Event: inlet.Event{ID: "c", SourceID: "shop", Type: "view"}},
		}
		out := []inlet.Appended{
			{EventID: "a", SessionID: "s1", ProfileID: "p1"},
			{EventID: "earlier", Duplicate: true},
			{EventID: "c", SessionID: "s2"},
		}
		var first, second []*inlet.Event
		batch.Tell(
			func(events []*inlet.Event) { first = events },
			func(events []*inlet.Event) { second = events },
		)(intakes, out)
		if len(first) != 2 || len(second) != 2 || first[0] != second[0] {
			t.Fatalf("consumers got %d and %d events, want the same 2", len(first), len(second))
		}
		if e := first[0]; e.ID != "a" || e.SessionID != "s1" || e.ProfileID != "p1" || string(e.Properties) != `{"n":1}` {
			t.Errorf("first event = %+v, want a with session s1 and profile p1", e)
		}
		if e := first[1]; e.ID != "c" || e.SessionID != "s2" || e.Type != "view" {
			t.Errorf("second event = %+v, want c with session s2", e)
		}
		intakes[0].Event.ID = "reused"
		if first[0].ID != "a" {
			t.Error("a consumer's event changed when the writer reused its intakes")
		}
	})
}
