package console

import (
	"context"
	"encoding/json"
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

func (c *Console) handleDestinations(w http.ResponseWriter, r *http.Request, sess *session) {
	rows, err := c.destinationRows(r.Context())
	if err != nil {
		c.fail(w, r, sess, err)
		return
	}
	c.render(w, r, sess, http.StatusOK, "destinations", "Destinations", map[string]any{"Destinations": rows, "Notice": doneNotices[r.URL.Query().Get("done")]})
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

func (c *Console) handleDestination(w http.ResponseWriter, r *http.Request, sess *session) {
	c.renderDestination(w, r, sess, http.StatusOK, "")
}

func (c *Console) renderDestination(w http.ResponseWriter, r *http.Request, sess *session, status int, formError string) {
	id := r.PathValue("id")
	d, err := c.cfg.Store.FindDestination(r.Context(), id)
	if err != nil {
		c.fail(w, r, sess, err)
		return
	}
	st, err := c.cfg.Store.DeliveryState(r.Context(), id, c.now())
	if err != nil {
		c.fail(w, r, sess, err)
		return
	}
	q := r.URL.Query()
	show := q.Get("status")
	if show == "" {
		show = inlet.DeliveryDead
	}
	if _, err := inlet.ParseDeliveryStatus(show); err != nil {
		c.fail(w, r, sess, err)
		return
	}
	page, err := c.cfg.Store.ListDeliveries(r.Context(), id, inlet.DeliveryFilter{Status: show, Limit: 50, Cursor: q.Get("cursor")})
	if err != nil {
		c.fail(w, r, sess, err)
		return
	}
	// The default JSON of a destination masks its secrets.
	var shown struct {
		Config json.RawMessage `json:"config"`
	}
	b, _ := json.Marshal(d)
	json.Unmarshal(b, &shown)
	data := map[string]any{
		"Destination": d, "State": st, "Config": prettyJSON(shown.Config), "Status": show, "Statuses": deliveryStatuses,
		"Deliveries": page.Items, "Notice": doneNotices[q.Get("done")], "Error": formError,
	}
	if page.Next != nil {
		data["More"] = "/console/destinations/" + url.PathEscape(id) + "?status=" + show + "&cursor=" + url.QueryEscape(*page.Next)
	}
	c.render(w, r, sess, status, "destination", "Destination "+d.Name, data)
}

// handleDestinationAction enables, disables, retries, discards or replays
// with the store methods the destinations API calls.
func (c *Console) handleDestinationAction(w http.ResponseWriter, r *http.Request, sess *session) {
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
		c.renderError(w, r, sess, http.StatusNotFound, "There is no console page at "+r.URL.Path+".")
		return
	}
	if err != nil {
		if inlet.ErrorCode(err) == inlet.EINVALID {
			c.renderDestination(w, r, sess, http.StatusBadRequest, inlet.ErrorMessage(err))
			return
		}
		c.fail(w, r, sess, err)
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
