package console

import (
	"encoding/json"
	"net/http"
	"strings"

	"inlet"
)

// sourceForm is what the create and edit forms hold.
type sourceForm struct {
	ID, Name, Config string
	Enabled          bool
	Error            string
}

func (c *Console) handleSources(w http.ResponseWriter, r *http.Request, v *viewer) {
	sources, err := c.cfg.Store.ListSources(r.Context())
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.render(w, r, v, http.StatusOK, "sources", "Sources", map[string]any{"Sources": v.visible(sources)})
}

func (c *Console) handleNewSource(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.render(w, r, v, http.StatusOK, "source_new", "New source", sourceForm{Config: "{}", Enabled: true})
}

// parseConfig reads the config field of a form, refusing unknown fields as
// the admin API does.
func parseConfig(text string) (inlet.SourceConfig, error) {
	var cfg inlet.SourceConfig
	text = strings.TrimSpace(text)
	if text == "" {
		return cfg, nil
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, inlet.Errorf(inlet.EINVALID, "the configuration is not a valid source configuration: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return cfg, nil
}

func (c *Console) handleCreateSource(w http.ResponseWriter, r *http.Request, v *viewer) {
	form := sourceForm{ID: strings.TrimSpace(r.PostFormValue("id")), Name: strings.TrimSpace(r.PostFormValue("name")), Config: r.PostFormValue("config"), Enabled: r.PostFormValue("enabled") != ""}
	src := &inlet.Source{ID: form.ID, Name: form.Name, Type: inlet.SourceTypeWebhook, Enabled: form.Enabled}
	if src.ID == "" {
		src.ID = inlet.NewID()
	}
	cfg, err := parseConfig(form.Config)
	if err == nil {
		src.Config = cfg
		err = c.cfg.Store.CreateSource(r.Context(), src)
	}
	if err != nil {
		if code := inlet.ErrorCode(err); code != inlet.EINVALID && code != inlet.ECONFLICT {
			c.fail(w, r, v, err)
			return
		}
		form.Error = inlet.ErrorMessage(err)
		c.render(w, r, v, http.StatusBadRequest, "source_new", "New source", form)
		return
	}
	c.cfg.Sources.Forget(src.ID)
	http.Redirect(w, r, "/console/sources/"+src.ID, http.StatusSeeOther)
}

func (c *Console) handleSource(w http.ResponseWriter, r *http.Request, v *viewer) {
	src, err := c.findSource(r, v, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.renderSource(w, r, v, http.StatusOK, src, "", "")
}

func (c *Console) renderSource(w http.ResponseWriter, r *http.Request, v *viewer, status int, src *inlet.Source, configText, formError string) {
	masked := src.Masked()
	if configText == "" {
		b, _ := json.MarshalIndent(masked.Config, "", "  ")
		configText = string(b)
	}
	base := c.baseURL(r)
	c.render(w, r, v, status, "source", "Source "+src.Name, map[string]any{
		"Source": masked,
		"Form":   sourceForm{ID: src.ID, Name: src.Name, Config: configText, Enabled: src.Enabled, Error: formError},
		"URLs":   collectURLs(base, src.ID),
		"Curl":   CurlSample(base, src),
	})
}

func (c *Console) handleUpdateSource(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	old, err := c.findSource(r, v, id)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	text := r.PostFormValue("config")
	cfg, err := parseConfig(text)
	if err == nil {
		cfg.KeepSecrets(&old.Config) // secrets shown masked stay as they were
		var src *inlet.Source
		src, err = c.cfg.Store.UpdateSource(r.Context(), id, inlet.SourceUpdate{Name: &name, Config: &cfg})
		c.cfg.Sources.Forget(id)
		if err == nil {
			http.Redirect(w, r, "/console/sources/"+src.ID, http.StatusSeeOther)
			return
		}
	}
	if inlet.ErrorCode(err) != inlet.EINVALID {
		c.fail(w, r, v, err)
		return
	}
	old.Name = name
	c.renderSource(w, r, v, http.StatusBadRequest, old, text, inlet.ErrorMessage(err))
}

func (c *Console) handleSetEnabled(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	enabled := r.PostFormValue("enabled") == "true"
	_, err := c.findSource(r, v, id)
	if err == nil {
		_, err = c.cfg.Store.UpdateSource(r.Context(), id, inlet.SourceUpdate{Enabled: &enabled})
		c.cfg.Sources.Forget(id)
	}
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	back := "/console/sources"
	if r.PostFormValue("back") == "source" {
		back += "/" + id
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// findSource returns the source of id when the viewer's token sees it; one
// it does not see is not found, as a missing one is.
func (c *Console) findSource(r *http.Request, v *viewer, id string) (*inlet.Source, error) {
	if !v.Sees(id) {
		return nil, notFound("source", id)
	}
	return c.cfg.Store.FindSource(r.Context(), id)
}

// baseURL is the collector's address as senders call it: the public URL
// when one is set, otherwise as the browser reached it.
func (c *Console) baseURL(r *http.Request) string {
	if c.cfg.PublicURL != "" {
		return strings.TrimRight(c.cfg.PublicURL, "/")
	}
	scheme := "http"
	if c.https(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// collectURL is one of the four ways to send a source an event.
type collectURL struct {
	Method, URL, What string
}

func collectURLs(base, id string) []collectURL {
	u := base + "/collect/{event_type}/" + id
	return []collectURL{
		{"POST", u, "properties from the body (and URL parameters); no session"},
		{"GET", u, "properties from the URL parameters; no session"},
		{"POST", u + "/{session_id}", "linked to a session and its profile"},
		{"GET", u + "/{session_id}", "linked to a session; properties from the URL parameters"},
	}
}
