package console

import (
	"net/http"
	"sort"

	"inlet"
)

// handleSession shows a visitor's session and its events.
func (c *Console) handleSession(w http.ResponseWriter, r *http.Request, v *viewer) {
	s, err := c.cfg.Store.FindSession(r.Context(), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	page, err := c.cfg.Store.ListEvents(r.Context(), inlet.EventFilter{SessionID: s.ID, Limit: 200})
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.render(w, r, v, http.StatusOK, "session", "Session "+s.ID, map[string]any{"Session": s, "Events": page.Items, "More": page.Next != nil})
}

// handleProfile shows a profile: its traits, identifiers and latest events.
func (c *Console) handleProfile(w http.ResponseWriter, r *http.Request, v *viewer) {
	p, err := c.cfg.Store.FindProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	page, err := c.cfg.Store.ListEvents(r.Context(), inlet.EventFilter{ProfileID: p.ID, Limit: 200})
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	type trait struct {
		Name  string
		Value string
	}
	traits := make([]trait, 0, len(p.Traits))
	for k, v := range p.Traits {
		traits = append(traits, trait{k, prettyJSON(v)})
	}
	sort.Slice(traits, func(i, j int) bool { return traits[i].Name < traits[j].Name })
	c.render(w, r, v, http.StatusOK, "profile", "Profile "+p.ID, map[string]any{
		"Profile": p, "Asked": r.PathValue("id"), "Traits": traits, "Events": page.Items, "More": page.Next != nil,
	})
}
