package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A slow HTTP drain must not eat the writer's time: with a request that
// never finishes its body holding the drain past ShutdownTimeout, an event
// the writer holds at shutdown is still committed and confirmed, the writer
// reports no deadline, and the store is closed after the commit.
func TestCloseGivesTheWriterItsOwnDeadline(t *testing.T) {
	cfg := liveConfig(t)
	cfg.ShutdownTimeout = 600 * time.Millisecond
	cfg.BatchWait = time.Second // the writer holds the event past the HTTP deadline
	s := startLive(t, cfg)
	s.createSource(map[string]any{"id": "open", "name": "open"})

	// A collect request whose body never comes.
	hung, err := net.Dial("tcp", s.main.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	fmt.Fprintf(hung, "POST /collect/x/open HTTP/1.1\r\nHost: inlet\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	s.waitInFlight(1)

	// An event that reaches the writer and waits for its batch.
	answered := make(chan string, 1)
	go func() {
		resp, err := http.Post(s.url+"/collect/x/open", "application/json", strings.NewReader(`{"last":true}`))
		if err != nil {
			answered <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answered <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	s.waitInFlight(2)

	s.closed = true
	err = s.main.Close()
	if err == nil || !strings.Contains(err.Error(), "http shutdown") {
		t.Errorf("Close = %v, want the HTTP drain to report its deadline", err)
	}
	if err != nil && strings.Contains(err.Error(), "writer") {
		t.Errorf("Close = %v: the writer lost its time to the HTTP drain", err)
	}
	if got := <-answered; !strings.HasPrefix(got, "200 ") {
		t.Errorf("the event the writer held at shutdown was answered %s, want 200", got)
	}

	// The event is in the store.
	again := startLive(t, cfg)
	if n := len(again.listEvents("source=open").Items); n != 1 {
		t.Errorf("%d events stored after the restart, want the one confirmed", n)
	}
}

func TestCloseStopsThePprofListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := liveConfig(t)
	cfg.PprofAddr = addr
	s := startLive(t, cfg)
	var resp *http.Response
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err = http.Get("http://" + addr + "/debug/pprof/")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("GET /debug/pprof/: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /debug/pprof/ = %d", resp.StatusCode)
	}
	s.stop()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	if resp, err := client.Get("http://" + addr + "/debug/pprof/"); err == nil {
		resp.Body.Close()
		t.Errorf("the pprof listener still answers %d after Close", resp.StatusCode)
	}
}
