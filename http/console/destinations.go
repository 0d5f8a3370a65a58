package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"inlet"
)

// destinationRow is a destination with its delivery state.
type destinationRow struct {
	*inlet.Destination
	State *inlet.DeliveryState
}

func (c *Console) handleDestinations(w http.ResponseWriter, r *http.Request, v *viewer) {
	rows, err := c.destinationRows(r.Context())
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.render(w, r, v, http.StatusOK, "destinations", "Destinations", map[string]any{"Destinations": rows, "Notice": doneNotices[r.URL.Query().Get("done")]})
}

// destinationRows returns every destination with its delivery state.
func (c *Console) destinationRows(ctx context.Context) ([]destinationRow, error) {
	var rows []destinationRow
	f := inlet.ListFilter{Limit: inlet.MaxEventLimit}
	for {
		page, err := c.cfg.Store.ListDestinations(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, d := range page.Items {
			st, err := c.cfg.Store.DeliveryState(ctx, d.ID, c.now())
			if err != nil {
				return nil, err
			}
			rows = append(rows, destinationRow{d, st})
		}
		if page.Next == nil {
			return rows, nil
		}
		f.Cursor = *page.Next
	}
}

// deliveryStatuses are the tabs of a destination's deliveries.
var deliveryStatuses = []string{inlet.DeliveryDead, inlet.DeliveryFailed, inlet.DeliveryPending, inlet.DeliveryDelivered}

func (c *Console) handleDestination(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.renderDestination(w, r, v, http.StatusOK, "", nil)
}

// renderDestination shows a destination's page with an action's error,
// or with the edit form as sent and its error when form is not nil.
func (c *Console) renderDestination(w http.ResponseWriter, r *http.Request, v *viewer, status int, formError string, form *destinationForm) {
	id := r.PathValue("id")
	d, err := c.cfg.Store.FindDestination(r.Context(), id)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	st, err := c.cfg.Store.DeliveryState(r.Context(), id, c.now())
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	q := r.URL.Query()
	show := q.Get("status")
	if show == "" {
		show = inlet.DeliveryDead
	}
	if _, err := inlet.ParseDeliveryStatus(show); err != nil {
		c.fail(w, r, v, err)
		return
	}
	page, err := c.cfg.Store.ListDeliveries(r.Context(), id, inlet.DeliveryFilter{Status: show, Limit: 50, Cursor: q.Get("cursor")})
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	if form == nil {
		form = newDestinationForm(d)
	}
	data := map[string]any{
		"Destination": d, "State": st, "Form": form, "Status": show, "Statuses": deliveryStatuses,
		"Deliveries": page.Items, "Notice": doneNotices[q.Get("done")], "Error": formError,
	}
	if page.Next != nil {
		data["More"] = "/console/destinations/" + url.PathEscape(id) + "?status=" + show + "&cursor=" + url.QueryEscape(*page.Next)
	}
	c.render(w, r, v, status, "destination", "Destination "+d.Name, data)
}

// handleDestinationAction enables, disables, retries, discards or replays
// with the store methods the destinations API calls.
func (c *Console) handleDestinationAction(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	var done string
	var err error
	switch r.PathValue("action") {
	case "enabled":
		enabled := r.PostFormValue("enabled") == "true"
		_, err = c.cfg.Store.UpdateDestination(r.Context(), id, inlet.DestinationUpdate{Enabled: &enabled})
		done = "disabled"
		if enabled {
			done = "enabled"
		}
	case "retry":
		ids, status := deliverySelection(r)
		if err = inlet.CheckRetry(ids, status); err == nil {
			_, err = c.cfg.Store.RetryDeliveries(r.Context(), id, ids, status, c.now())
		}
		done = "retried"
	case "discard":
		ids, status := deliverySelection(r)
		if err = inlet.CheckDiscard(ids, status); err == nil {
			_, err = c.cfg.Store.DiscardDeliveries(r.Context(), id, ids, status)
		}
		done = "discard"
	case "replay":
		var rp inlet.Replay
		if rp.Since, err = parseFormTime("Since", strings.TrimSpace(r.PostFormValue("since"))); err == nil && rp.Since.IsZero() {
			err = inlet.Errorf(inlet.EINVALID, "Since: a replay needs the start of its range.")
		}
		if err == nil {
			rp.Until, err = parseFormTime("Until", strings.TrimSpace(r.PostFormValue("until")))
		}
		if err == nil {
			_, err = c.cfg.Store.ReplayDeliveries(r.Context(), id, rp, c.now())
		}
		done = "replayed"
	default:
		c.renderError(w, r, v, http.StatusNotFound, "There is no console page at "+r.URL.Path+".")
		return
	}
	if err != nil {
		if inlet.ErrorCode(err) == inlet.EINVALID {
			c.renderDestination(w, r, v, http.StatusBadRequest, inlet.ErrorMessage(err), nil)
			return
		}
		c.fail(w, r, v, err)
		return
	}
	c.destinationsChanged()
	back := "/console/destinations/" + url.PathEscape(id)
	if r.PostFormValue("back") == "list" {
		back = "/console/destinations"
	}
	http.Redirect(w, r, back+"?done="+done, http.StatusSeeOther)
}

// deliverySelection reads a retry or discard form: one event id, or a
// status.
func deliverySelection(r *http.Request) ([]string, string) {
	if id := r.PostFormValue("event"); id != "" {
		return []string{id}, ""
	}
	return nil, r.PostFormValue("status")
}

// destinationForm is what the edit form of a destination holds: lists as
// comma-separated text, the config as JSON with its secrets masked.
type destinationForm struct {
	Name, Sources, Types, Backoff, MaxAge, Config string
	Enabled                                       bool
	Error                                         string
}

func newDestinationForm(d *inlet.Destination) *destinationForm {
	// The default JSON of a destination masks its secrets.
	var shown struct {
		Config json.RawMessage `json:"config"`
	}
	b, _ := json.Marshal(d)
	json.Unmarshal(b, &shown)
	return &destinationForm{
		Name: d.Name, Enabled: d.Enabled, Config: prettyJSON(shown.Config),
		Sources: strings.Join(d.Filter.Sources, ", "), Types: strings.Join(d.Filter.Types, ", "),
		Backoff: strings.Join(d.Retry.Backoff, ", "), MaxAge: d.Retry.MaxAge,
	}
}

// readDestinationForm reads an edit form as it was sent.
func readDestinationForm(r *http.Request) *destinationForm {
	return &destinationForm{
		Name: strings.TrimSpace(r.PostFormValue("name")), Enabled: r.PostFormValue("enabled") != "",
		Sources: r.PostFormValue("sources"), Types: r.PostFormValue("types"),
		Backoff: r.PostFormValue("backoff"), MaxAge: strings.TrimSpace(r.PostFormValue("max_age")),
		Config: r.PostFormValue("config"),
	}
}

// update is the change the form asks of old, with the secrets that come
// back masked kept from old, as the API's PATCH keeps them.
func (f *destinationForm) update(old *inlet.Destination) (inlet.DestinationUpdate, error) {
	text := strings.TrimSpace(f.Config)
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return inlet.DestinationUpdate{}, inlet.Errorf(inlet.EINVALID, "the configuration is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	} else if _, ok := v.(map[string]any); !ok {
		return inlet.DestinationUpdate{}, inlet.Errorf(inlet.EINVALID, "the configuration must be a JSON object, such as {\"url\": \"https://…\"}")
	}
	return inlet.DestinationUpdate{
		Name: &f.Name, Enabled: &f.Enabled,
		Filter: &inlet.DestinationFilter{Sources: commaList(f.Sources), Types: commaList(f.Types)},
		Retry:  &inlet.RetryPolicy{Backoff: commaList(f.Backoff), MaxAge: f.MaxAge},
		Config: inlet.KeepSecrets(json.RawMessage(text), old.Config),
	}, nil
}

// commaList splits a comma-separated field, dropping empty items.
func commaList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// handleUpdateDestination saves the edit form with the checks of the
// destinations API: a refused change shows the form again as sent, with
// the API's message.
func (c *Console) handleUpdateDestination(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	old, err := c.cfg.Store.FindDestination(r.Context(), id)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	form := readDestinationForm(r)
	u, err := form.update(old)
	if err == nil {
		next := *old
		u.Apply(&next)
		if err = c.validateDestination(&next); err == nil {
			_, err = c.cfg.Store.UpdateDestination(r.Context(), id, u)
		}
	}
	if err != nil {
		if inlet.ErrorCode(err) != inlet.EINVALID {
			c.fail(w, r, v, err)
			return
		}
		form.Error = inlet.ErrorMessage(err)
		c.renderDestination(w, r, v, http.StatusBadRequest, "", form)
		return
	}
	c.destinationsChanged()
	http.Redirect(w, r, "/console/destinations/"+url.PathEscape(id)+"?done=saved", http.StatusSeeOther)
}

// validateDestination checks a destination with its type's config, as
// the destinations API does.
func (c *Console) validateDestination(d *inlet.Destination) error {
	if c.cfg.ValidateDestination != nil {
		return c.cfg.ValidateDestination(d)
	}
	return d.Validate()
}

// failureRate shows a destination's failure rate over the last hour: "-"
// without attempts, a whole percent otherwise, and "<1%" for a few
// failures among many attempts, which 0% would hide.
func failureRate(st *inlet.DeliveryState) string {
	if st == nil || st.FailureRate1h == nil {
		return "-"
	}
	switch r := *st.FailureRate1h * 100; {
	case r > 0 && r < 1:
		return "<1%"
	case r > 99 && r < 100:
		return ">99%"
	default:
		return fmt.Sprintf("%.0f%%", r)
	}
}
