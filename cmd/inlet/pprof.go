package main

import (
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// startPprof serves Go profiles (net/http/pprof's handlers on the default
// mux) on addr with every timeout set; Close stops it. The write timeout
// leaves room for a 60-second CPU profile, the longest pprof serves under it.
func startPprof(addr string, logger *slog.Logger) *http.Server {
	srv := &http.Server{
		Addr:              addr,
		Handler:           http.DefaultServeMux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      70 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go func() {
		logger.Info("serving profiles", "addr", addr)
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("pprof listener", "err", err)
		}
	}()
	return srv
}
