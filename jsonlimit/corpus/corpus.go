// Package corpus is the fuzz corpus shared by the three readers of event
// JSON (collect, jsonpath and catalog; see package jsonlimit): every fuzz
// test of the three starts from Inputs, so each is held to encoding/json
// on the same text. Add a file to testdata to add an input to all three.
package corpus

import (
	"embed"
	"strings"

	"inlet/jsonlimit"
)

//go:embed testdata
var files embed.FS

// Inputs returns the files of testdata and, for each depth limit of
// package jsonlimit, objects and arrays nested exactly that deep and one
// deeper.
func Inputs() [][]byte {
	entries, err := files.ReadDir("testdata")
	if err != nil {
		panic(err) // embedded: cannot fail
	}
	var out [][]byte
	for _, e := range entries {
		b, err := files.ReadFile("testdata/" + e.Name())
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	for _, depth := range []int{jsonlimit.CatalogDepth, jsonlimit.BodyDepth, jsonlimit.DecodeDepth} {
		for _, d := range []int{depth, depth + 1} {
			out = append(out,
				[]byte(strings.Repeat(`{"a":`, d-1)+`{}`+strings.Repeat(`}`, d-1)),
				[]byte(strings.Repeat(`[`, d)+strings.Repeat(`]`, d)))
		}
	}
	return out
}
