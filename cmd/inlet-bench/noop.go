package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// noopAnswer is what the baseline answers: a JSON body the size of
// Inlet's answer to a profile-less collect.
const noopAnswer = `{"events":["019abcde-0000-7000-8000-000000000000"],"profile":null,"session":null}` + "\n"

// noopHandler is the baseline: it reads the body, as any collector must,
// and answers 200 with a small JSON body, doing nothing else.
func noopHandler(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, noopAnswer)
}

// runNoop is `inlet-bench noop`: the baseline server, run as its own
// process so that it is measured like Inlet, until SIGTERM or SIGINT.
func runNoop(args []string) error {
	fs := flag.NewFlagSet("inlet-bench noop", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8687", "address to listen on")
	if err := parseFlags(fs, args, "inlet-bench noop serves a no-op net/http handler: the baseline of the benchmark.\n\nUsage:\n  inlet-bench noop [--addr 127.0.0.1:8687]\n\nExample:\n  inlet-bench noop --addr 127.0.0.1:9000"); err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              *addr,
		Handler:           http.HandlerFunc(noopHandler),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
