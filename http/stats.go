package http

import "net/http"

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	collected := s.cfg.Collector.Stats()
	stats := map[string]any{"in_flight": s.inFlight.Load(), "dropped_by_transform": collected.DroppedByTransform, "suppressed": collected.Suppressed}
	if s.cfg.Catalog != nil {
		stats["catalog"] = map[string]int64{"dropped": s.cfg.Catalog.Dropped()}
	}
	if s.cfg.Stats != nil {
		stats["writer"] = s.cfg.Stats()
	}
	if s.cfg.Rejections != nil {
		stats["rejections"] = s.cfg.Rejections.Stats()
	}
	if s.cfg.Broker != nil {
		stats["stream"] = s.cfg.Broker.Stats()
	}
	writeJSON(w, http.StatusOK, stats)
}
