package main

import (
	"context"
	"fmt"

	"inlet"
	inlethttp "inlet/http"
)

// listRejections prints what `inlet rejections list` shows: the counts of
// refused requests by source and reason (all of them, also those of which
// no sample was kept), then the newest samples matching f. As JSON it
// prints {"counts": [...], "items": [...]}.
func listRejections(ctx context.Context, client *inlethttp.Client, f inlet.RejectionFilter, p printer) error {
	counts, err := client.CountRejections(ctx, f)
	if err != nil {
		return err
	}
	items, err := client.ListRejections(ctx, f)
	if err != nil {
		return err
	}
	if p.json {
		return p.json1(map[string]any{"counts": counts, "items": items})
	}
	rows := make([][]string, 0, len(counts))
	for _, c := range counts {
		rows = append(rows, []string{c.SourceID, c.Reason, fmt.Sprint(c.Count), inlet.FormatTime(c.FirstAt), inlet.FormatTime(c.LastAt)})
	}
	if err := p.table([]string{"SOURCE", "REASON", "COUNT", "FIRST", "LAST"}, rows...); err != nil {
		return err
	}
	fmt.Fprintf(p.w, "\nnewest samples (a few per source and reason a minute):\n")
	return p.rejections(items)
}
