package http

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"inlet"
)

// CreateDestination registers a destination.
func (c *Client) CreateDestination(ctx context.Context, req CreateDestinationRequest) (*inlet.Destination, error) {
	var d inlet.Destination
	return &d, c.do(ctx, http.MethodPost, "/api/v1/destinations", req, &d)
}

// ListDestinations returns a page of destinations.
func (c *Client) ListDestinations(ctx context.Context, f inlet.ListFilter) (*inlet.DestinationPage, error) {
	q := url.Values{}
	if f.Cursor != "" {
		q.Set("cursor", f.Cursor)
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var page inlet.DestinationPage
	return &page, c.do(ctx, http.MethodGet, "/api/v1/destinations?"+q.Encode(), nil, &page)
}

// FindDestination returns one destination with its delivery state.
func (c *Client) FindDestination(ctx context.Context, id string) (*inlet.Destination, error) {
	var d inlet.Destination
	return &d, c.do(ctx, http.MethodGet, "/api/v1/destinations/"+url.PathEscape(id), nil, &d)
}

// UpdateDestination changes a destination.
func (c *Client) UpdateDestination(ctx context.Context, id string, u inlet.DestinationUpdate) (*inlet.Destination, error) {
	var d inlet.Destination
	return &d, c.do(ctx, http.MethodPatch, "/api/v1/destinations/"+url.PathEscape(id), u, &d)
}

// DeleteDestination removes a destination and its deliveries.
func (c *Client) DeleteDestination(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/destinations/"+url.PathEscape(id), nil, nil)
}

// ListDeliveries returns a page of a destination's deliveries.
func (c *Client) ListDeliveries(ctx context.Context, id string, f inlet.DeliveryFilter) (*inlet.DeliveryPage, error) {
	q := url.Values{}
	for k, v := range map[string]string{"status": f.Status, "cursor": f.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var page inlet.DeliveryPage
	return &page, c.do(ctx, http.MethodGet, "/api/v1/destinations/"+url.PathEscape(id)+"/deliveries?"+q.Encode(), nil, &page)
}

// RetryDeliveries makes deliveries due again and returns how many.
func (c *Client) RetryDeliveries(ctx context.Context, id string, req RetryRequest) (int, error) {
	var out struct {
		Retried int `json:"retried"`
	}
	return out.Retried, c.do(ctx, http.MethodPost, "/api/v1/destinations/"+url.PathEscape(id)+"/retry", req, &out)
}

// Replay delivers stored events again and returns how many.
func (c *Client) Replay(ctx context.Context, id string, req ReplayRequest) (int, error) {
	var out struct {
		Replayed int `json:"replayed"`
	}
	return out.Replayed, c.do(ctx, http.MethodPost, "/api/v1/destinations/"+url.PathEscape(id)+"/replay", req, &out)
}

// TryDestination returns what a destination would make of a stored
// event; nothing is sent.
func (c *Client) TryDestination(ctx context.Context, id, eventID string) (*inlet.DestinationTry, error) {
	var out inlet.DestinationTry
	if err := c.do(ctx, http.MethodPost, "/api/v1/destinations/"+url.PathEscape(id)+"/try", TryDestinationRequest{EventID: eventID}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DiscardDeliveries gives deliveries up and returns how many.
func (c *Client) DiscardDeliveries(ctx context.Context, id string, req RetryRequest) (int, error) {
	var out struct {
		Discarded int `json:"discarded"`
	}
	return out.Discarded, c.do(ctx, http.MethodPost, "/api/v1/destinations/"+url.PathEscape(id)+"/discard", req, &out)
}

// EventDeliveries returns the deliveries of one event to every destination
// it was for.
func (c *Client) EventDeliveries(ctx context.Context, eventID string) ([]*inlet.EventDelivery, error) {
	var page EventDeliveriesPage
	return page.Items, c.do(ctx, http.MethodGet, "/api/v1/events/"+url.PathEscape(eventID)+"/deliveries", nil, &page)
}
