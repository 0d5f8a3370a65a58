// Package jsonlimit states, in one place, how deep each reader of event
// JSON follows nesting.
//
// Event JSON is read by three hand-written scanners rather than one
// tokenizer, because each does a different job in a single pass over the
// bytes and a shared token stream would cost every one of them the others'
// work (and, on the collect path, an allocation per token):
//
//   - collect (checkJSON) validates a request body: it reads every byte,
//     refuses what is not JSON with the offset of the first bad byte, and
//     refuses nesting deeper than [BodyDepth]. It builds nothing.
//   - jsonpath (Decode) builds values (maps, slices, json.Number) for
//     mappings, transforms and schemas, from properties that collect has
//     already checked. Its bound, [DecodeDepth], only guards its recursion.
//   - catalog (Paths) lists the paths and types of an event's properties,
//     allocating nothing of its own, and stops following nesting at
//     [CatalogDepth]: deeper values are counted as the container that
//     holds them, never refused.
//
// All three are held to encoding/json by fuzz tests that share one corpus,
// package inlet/jsonlimit/corpus.
package jsonlimit

const (
	// BodyDepth is the deepest nesting of objects and arrays a request
	// body may have; deeper is refused (400, reason too_deep). Every
	// stored event is within it.
	BodyDepth = 64
	// CatalogDepth is how deep the catalog learns paths: a path has at
	// most this many members, which keeps an entry readable and bounded.
	CatalogDepth = 8
	// DecodeDepth is the deepest nesting Decode reads before refusing the
	// text. It is far beyond BodyDepth, so it never refuses a stored
	// event; it is encoding/json's own limit, so both refuse the same text.
	DecodeDepth = 10000
)
