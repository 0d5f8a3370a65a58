package console

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"inlet"
)

// palette colours the series of a chart (SVG fill attributes, which the
// Content-Security-Policy allows, unlike style attributes).
var palette = []string{"#2f6fdf", "#e0782b", "#2a9d6a", "#c2417a", "#7a5cc7", "#b3921b", "#1c93a8", "#8a8a8a"}

// chart is a stacked bar chart drawn by the server as SVG.
type chart struct {
	Title         string
	Width, Height int
	PlotTop       float64
	PlotBottom    float64
	PlotLeft      float64
	PlotRight     float64
	Bars          []bar
	YTicks        []tick
	XTicks        []tick
	Legend        []legendItem
	Total         int64
	Empty         bool
}

type bar struct {
	X, Y, W, H float64
	Fill       string
	Label      string
}

type tick struct {
	Pos   float64
	Label string
}

type legendItem struct {
	Key   string
	Fill  string
	Total int64
}

// overviewWindows are the windows a person may pick, in hours, and the
// minutes each bar covers so that a chart has at most 180 bars.
var overviewWindows = []struct{ Hours, Step int }{{1, 1}, {3, 1}, {6, 2}, {24, 10}}

func (c *Console) handleOverview(w http.ResponseWriter, r *http.Request, v *viewer) {
	hours, step := 3, 1
	if h := r.URL.Query().Get("hours"); h != "" {
		n, _ := strconv.Atoi(h)
		found := false
		for _, win := range overviewWindows {
			if win.Hours == n {
				hours, step, found = win.Hours, win.Step, true
			}
		}
		if !found {
			c.renderError(w, r, v, http.StatusBadRequest, "hours must be 1, 3, 6 or 24.")
			return
		}
	}
	data := map[string]any{"Hours": hours, "Windows": overviewWindows}
	if !v.Bound() { // destinations and refusals span every source
		destinations, err := c.destinationRows(r.Context())
		if err != nil {
			c.fail(w, r, v, err)
			return
		}
		data["Destinations"] = destinations
	}
	if c.cfg.Overview == nil {
		data["Disabled"] = true
		c.render(w, r, v, http.StatusOK, "overview", "Overview", data)
		return
	}
	until := c.now().UTC().Truncate(time.Minute).Add(time.Minute)
	since := until.Add(-time.Duration(hours) * time.Hour)
	events, err := c.cfg.Overview.EventsPerMinute(r.Context(), since, until)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	per := "minute"
	if step > 1 {
		per = fmt.Sprintf("%d minutes", step)
	}
	if v.Bound() {
		data["Events"] = drawChart("Events per "+per+" by source", slices.DeleteFunc(events, func(m inlet.MinuteCount) bool { return !v.Sees(m.Key) }), since, until, step)
		c.render(w, r, v, http.StatusOK, "overview", "Overview", data)
		return
	}
	refusals, err := c.cfg.Overview.RejectionsPerMinute(r.Context(), since, until)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	data["Events"] = drawChart("Events per "+per+" by source", events, since, until, step)
	data["Refusals"] = drawChart("Refused requests per "+per+" by reason, from the kept samples", refusals, since, until, step)
	// The samples are capped per source and reason a minute; the counts
	// are not, but have no time axis: show them beside the chart.
	counts, err := c.cfg.Rejections.CountRejections(r.Context(), inlet.RejectionFilter{})
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	data["Counts"] = countsByReason(counts)
	c.render(w, r, v, http.StatusOK, "overview", "Overview", data)
}

// reasonCount is every refusal of one reason, over all sources.
type reasonCount struct {
	Reason string
	Count  int64
	LastAt time.Time
}

// countsByReason sums the refusal counts of each reason, most first.
func countsByReason(counts []inlet.RejectionCount) []reasonCount {
	by := map[string]*reasonCount{}
	var out []reasonCount
	for _, c := range counts {
		rc := by[c.Reason]
		if rc == nil {
			rc = &reasonCount{Reason: c.Reason}
			by[c.Reason] = rc
		}
		rc.Count += c.Count
		if c.LastAt.After(rc.LastAt) {
			rc.LastAt = c.LastAt
		}
	}
	for _, rc := range by {
		out = append(out, *rc)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}

// drawChart lays out counts as stacked bars of step minutes from since to
// until. The seven keys with the most counts get their own colour; the
// rest are summed as "other".
func drawChart(title string, counts []inlet.MinuteCount, since, until time.Time, step int) *chart {
	ch := &chart{Title: title, Width: 900, Height: 260, PlotLeft: 48, PlotRight: 890, PlotTop: 12, PlotBottom: 228}
	totals := map[string]int64{}
	for _, c := range counts {
		totals[c.Key] += c.Count
		ch.Total += c.Count
	}
	keys := make([]string, 0, len(totals))
	for k := range totals {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if totals[keys[i]] != totals[keys[j]] {
			return totals[keys[i]] > totals[keys[j]]
		}
		return keys[i] < keys[j]
	})
	series := map[string]int{} // key -> colour index
	for i, k := range keys {
		idx := min(i, len(palette)-1)
		series[k] = idx
		if i < len(palette)-1 {
			ch.Legend = append(ch.Legend, legendItem{Key: orNone(k), Fill: palette[idx], Total: totals[k]})
		} else if i == len(palette)-1 {
			ch.Legend = append(ch.Legend, legendItem{Key: "other", Fill: palette[idx]})
		}
		if i >= len(palette)-1 {
			ch.Legend[len(ch.Legend)-1].Total += totals[k]
		}
	}
	nBars := int(until.Sub(since)/time.Minute) / step
	stacks := make([][]int64, nBars) // per bar, per colour
	for i := range stacks {
		stacks[i] = make([]int64, len(palette))
	}
	var most int64
	for _, c := range counts {
		i := int(c.Minute.Sub(since)/time.Minute) / step
		if i < 0 || i >= nBars {
			continue
		}
		stacks[i][series[c.Key]] += c.Count
	}
	for _, s := range stacks {
		var sum int64
		for _, n := range s {
			sum += n
		}
		most = max(most, sum)
	}
	if ch.Total == 0 {
		ch.Empty = true
	}
	top := niceCeil(most)
	plotH := ch.PlotBottom - ch.PlotTop
	slot := (ch.PlotRight - ch.PlotLeft) / float64(nBars)
	for i, s := range stacks {
		y := ch.PlotBottom
		at := since.Add(time.Duration(i*step) * time.Minute)
		for ci, n := range s {
			if n == 0 {
				continue
			}
			h := float64(n) / float64(top) * plotH
			y -= h
			key := "other"
			for _, l := range ch.Legend {
				if l.Fill == palette[ci] {
					key = l.Key
				}
			}
			ch.Bars = append(ch.Bars, bar{
				X: round1(ch.PlotLeft + float64(i)*slot + slot*0.1), Y: round1(y), W: round1(slot * 0.8), H: round1(h), Fill: palette[ci],
				Label: fmt.Sprintf("%s %s: %d", at.Format("15:04"), key, n),
			})
		}
	}
	for _, f := range []int64{0, top / 2, top} {
		ch.YTicks = append(ch.YTicks, tick{Pos: round1(ch.PlotBottom - float64(f)/float64(top)*plotH), Label: strconv.FormatInt(f, 10)})
	}
	every := max(1, nBars/6)
	for i := 0; i < nBars; i += every {
		at := since.Add(time.Duration(i*step) * time.Minute)
		ch.XTicks = append(ch.XTicks, tick{Pos: round1(ch.PlotLeft + float64(i)*slot), Label: at.Format("15:04")})
	}
	return ch
}

// niceCeil rounds n up to 1, 2 or 5 times a power of ten (at least 2, so
// that the middle tick is a whole number).
func niceCeil(n int64) int64 {
	if n <= 2 {
		return 2
	}
	p := int64(math.Pow(10, math.Floor(math.Log10(float64(n)))))
	for _, m := range []int64{1, 2, 5, 10} {
		if m*p >= n {
			return m * p
		}
	}
	return 10 * p
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

func orNone(k string) string {
	if k == "" {
		return "(no source)"
	}
	return k
}
