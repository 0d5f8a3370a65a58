package console

import (
	"strings"
	"testing"
	"time"

	"inlet"
)

func TestDrawChart(t *testing.T) {
	since := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	until := since.Add(time.Hour)
	at := func(m int) time.Time { return since.Add(time.Duration(m) * time.Minute) }

	t.Run("counts stack per minute with one colour per key and a legend by total", func(t *testing.T) {
		ch := drawChart("Events", []inlet.MinuteCount{
			{Minute: at(0), Key: "shop", Count: 3}, {Minute: at(0), Key: "gh", Count: 1},
			{Minute: at(59), Key: "shop", Count: 4},
			{Minute: at(60), Key: "shop", Count: 100}, // outside the window
		}, since, until, 1)
		if ch.Total != 108 || ch.Empty {
			t.Fatalf("total %d empty %v", ch.Total, ch.Empty)
		}
		if len(ch.Bars) != 3 {
			t.Fatalf("%d bars, want 3 (two stacked at 10:00, one at 10:59)", len(ch.Bars))
		}
		if ch.Legend[0].Key != "shop" || ch.Legend[0].Total != 107 || ch.Legend[1].Key != "gh" {
			t.Fatalf("legend %+v", ch.Legend)
		}
		if ch.YTicks[2].Label != "5" { // the tallest stack is 4: the axis ends at 5
			t.Fatalf("y ticks %+v", ch.YTicks)
		}
		shop0, gh0 := ch.Bars[0], ch.Bars[1]
		if shop0.Y+shop0.H != ch.PlotBottom || gh0.Y+gh0.H != shop0.Y || !strings.HasPrefix(gh0.Label, "10:00 gh: 1") {
			t.Fatalf("the 10:00 stack: %+v %+v", shop0, gh0)
		}
	})

	t.Run("beyond seven keys the rest are one other series", func(t *testing.T) {
		var counts []inlet.MinuteCount
		for i := range 10 {
			counts = append(counts, inlet.MinuteCount{Minute: at(i), Key: string(rune('a' + i)), Count: int64(20 - i)})
		}
		ch := drawChart("Events", counts, since, until, 10)
		if len(ch.Legend) != len(palette) || ch.Legend[len(palette)-1].Key != "other" || ch.Legend[len(palette)-1].Total != 13+12+11 {
			t.Fatalf("legend %+v", ch.Legend)
		}
		if len(ch.Bars) != len(palette) { // one 10-minute bar holding every series
			t.Fatalf("%d bars", len(ch.Bars))
		}
	})

	t.Run("an empty window says so", func(t *testing.T) {
		if ch := drawChart("Events", nil, since, until, 1); !ch.Empty || len(ch.Bars) != 0 || len(ch.XTicks) == 0 {
			t.Fatalf("%+v", ch)
		}
	})
}

func TestCurlSampleQuotesForTheShell(t *testing.T) {
	src := &inlet.Source{ID: "shop", Config: inlet.SourceConfig{Verify: &inlet.VerifyConfig{Type: "hmac", Header: "X-Sig", Prefix: "it's="}}}
	got := CurlSample("http://a'b", src)
	if !strings.Contains(got, `'http://a'\''b/collect/test-event/shop'`) || !strings.Contains(got, `-H 'X-Sig: it'\''s='"$SIG"`) {
		t.Fatalf("sample:\n%s", got)
	}
}
