package listen

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"inlet"
	inlethttp "inlet/http"
	"inlet/verify"
)

// Log is what a listener reads from the collector; *inlethttp.Client is one.
type Log interface {
	ReadLog(ctx context.Context, q inlethttp.LogQuery) (*inlethttp.LogPage, error)
	FindSource(ctx context.Context, id string) (*inlet.Source, error)
}

// State is a listener's state file: where it is in the log, and the
// development secret it signs with.
type State struct {
	Server string `json:"server"`
	Name   string `json:"name"`
	// Cursor is just past the last event the application accepted (or the
	// filter left out); "" before the first read.
	Cursor string `json:"cursor"`
	// Secret is the development secret, made on the first run.
	Secret    string `json:"secret"`
	UpdatedAt string `json:"updated_at,omitempty"`
}

// NewSecret returns a development secret that every scheme can sign with:
// whsec_ and base64, as Standard Webhooks wants, and a plain string for the
// HMAC schemes.
func NewSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// Listener forwards the events of a collector's log to local URLs.
type Listener struct {
	Log    Log
	Rules  []Rule
	Filter inlet.DestinationFilter
	// StatePath is the state file; its directory is made when missing.
	StatePath string
	State     State
	// Secret, when set, signs every source's requests instead of the
	// state's development secret: the application's own secret.
	Secret string
	HTTP   *http.Client
	// Out gets one line per event, Err the notices.
	Out, Err io.Writer
	// Backoff is the first wait before forwarding again to an endpoint
	// that failed, doubled up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// Wait is how long one read of the log waits for an event.
	Wait time.Duration
	Now  func() time.Time
	// Ready, when set, is called once the listener has its place in the
	// log: every event committed from then on will be forwarded.
	Ready func()

	sources map[string]sourceSigning
}

// sourceSigning is how a source's events are signed when forwarded.
type sourceSigning struct {
	verify      *inlet.VerifyConfig
	formPayload bool
	batch       bool // the sender sends events in arrays: each is forwarded as an array of one
}

// LoadState reads the state file at path; a missing file is a new state
// with a new development secret.
func LoadState(path, server, name string) (State, error) {
	st := State{Server: server, Name: name}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		st.Secret = NewSecret()
		return st, nil
	} else if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("the state file %s is not a listener's: %w", path, err)
	}
	if st.Secret == "" {
		st.Secret = NewSecret()
	}
	return st, nil
}

// Lock takes the lock of the state file at path, so that two listeners of
// one name never forward the same events; the kernel drops it when the
// process ends.
func Lock(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, inlet.Errorf(inlet.ECONFLICT, "another listener with this name runs already (state %s); stop it, or give this one another --name", path)
		}
		return nil, err
	}
	return f, nil
}

// save writes the state through a temporary file and a rename, so that a
// crash leaves the old state or the new one, never half of one.
func (l *Listener) save() error {
	l.State.UpdatedAt = inlet.FormatTime(l.now())
	b, err := json.MarshalIndent(l.State, "", "  ")
	if err != nil {
		return err
	}
	tmp := l.StatePath + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, l.StatePath)
}

func (l *Listener) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Run forwards events until ctx ends: first every event after the state's
// cursor (or, on a first run, those from now on), then new ones as they
// are committed. The cursor moves past an event only once the application
// answered it with a status that is not 5xx or 429; such answers, and
// connection errors, are retried with backoff, and the events behind wait,
// so that the order holds. It returns nil when ctx ends, and an error when
// the collector refuses for good (a wrong token) or the state cannot be
// written.
func (l *Listener) Run(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Dir(l.StatePath), 0o700); err != nil {
		return err
	}
	if l.sources == nil {
		l.sources = map[string]sourceSigning{}
	}
	// Saved at once: the development secret printed holds from now on,
	// and a state file that cannot be written fails before any event.
	if err := l.save(); err != nil {
		return fmt.Errorf("saving the listener's state: %w", err)
	}
	after := l.State.Cursor
	if after == "" {
		after = inlethttp.LogCursorNow
	}
	delay := l.Backoff
	said := false
	for ctx.Err() == nil {
		wait := l.Wait
		if l.State.Cursor == "" {
			wait = 0 // the head is saved at once, so that no later event is missed
		}
		page, err := l.Log.ReadLog(ctx, inlethttp.LogQuery{After: after, Filter: l.Filter, Limit: 100, Wait: wait})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			switch inlet.ErrorCode(err) {
			case inlet.EUNAUTHORIZED, inlet.EINVALID:
				return err
			}
			if !said {
				fmt.Fprintf(l.Err, "inlet: %s; retrying until the server answers\n", inlet.ErrorMessageOrText(err))
				said = true
			}
			if !sleep(ctx, delay) {
				return nil
			}
			delay = min(2*delay, l.MaxBackoff)
			continue
		}
		if said {
			fmt.Fprintln(l.Err, "inlet: the server answers again")
			said = false
		}
		delay = l.Backoff
		if l.Ready != nil {
			l.Ready()
			l.Ready = nil
		}
		for _, item := range page.Items {
			if !l.forward(ctx, item.Event) {
				return nil
			}
			l.State.Cursor = item.Cursor
			if err := l.save(); err != nil {
				return fmt.Errorf("saving the listener's place: %w", err)
			}
		}
		if page.Next != "" && page.Next != l.State.Cursor {
			l.State.Cursor = page.Next
			if err := l.save(); err != nil {
				return fmt.Errorf("saving the listener's place: %w", err)
			}
		}
		if l.State.Cursor != "" {
			after = l.State.Cursor
		}
	}
	return nil
}

// forward sends e to its rule's URL until the application accepts it. It
// returns false when ctx ended first.
func (l *Listener) forward(ctx context.Context, e *inlet.Event) bool {
	target := Target(l.Rules, e.Type)
	if target == "" {
		return true
	}
	signing := l.signing(ctx, e.SourceID)
	delay := l.Backoff
	for {
		start := l.now()
		fe := e
		if signing.batch {
			batched := *e
			batched.Properties = append(append([]byte("["), e.Properties...), ']')
			fe = &batched
		}
		req, err := NewRequest(fe, signing.verify, signing.formPayload, target, start)
		if err != nil {
			fmt.Fprintf(l.Out, "%s  %s  %s  not forwarded: %s\n", stamp(start), e.SourceID, e.Type, err)
			return true
		}
		status, err := l.send(ctx, req)
		took := l.now().Sub(start).Round(time.Millisecond)
		if ctx.Err() != nil {
			return false
		}
		switch {
		case err != nil:
			fmt.Fprintf(l.Out, "%s  %s  %s  -> %s  %s  retrying in %s\n", stamp(start), e.SourceID, e.Type, oneLine(err), took, delay)
		case status >= 500 || status == http.StatusTooManyRequests:
			fmt.Fprintf(l.Out, "%s  %s  %s  -> %d  %s  retrying in %s\n", stamp(start), e.SourceID, e.Type, status, took, delay)
		default:
			fmt.Fprintf(l.Out, "%s  %s  %s  -> %d  %s  %s\n", stamp(start), e.SourceID, e.Type, status, took, e.ID)
			return true
		}
		if !sleep(ctx, delay) {
			return false
		}
		delay = min(2*delay, l.MaxBackoff)
	}
}

func (l *Listener) send(ctx context.Context, req *http.Request) (int, error) {
	resp, err := l.HTTP.Do(req.WithContext(ctx))
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// signing returns how a source's events are signed: with its verifier's
// scheme and the listener's secret. A source that cannot be read is not
// signed.
func (l *Listener) signing(ctx context.Context, id string) sourceSigning {
	if s, ok := l.sources[id]; ok {
		return s
	}
	var s sourceSigning
	src, err := l.Log.FindSource(ctx, id)
	if err != nil {
		fmt.Fprintf(l.Err, "inlet: source %s: %s; its events are forwarded unsigned\n", id, inlet.ErrorMessageOrText(err))
	} else if e := src.Config.Effective(); e.Verify != nil {
		v := *e.Verify
		secret := l.Secret
		if secret == "" {
			secret = l.State.Secret
		}
		v.Secret = secret
		if v.Type == inlet.VerifyBasic {
			v.Password = secret
		}
		s.verify = &v
		switch v.Type {
		case inlet.VerifyDiscord:
			fmt.Fprintf(l.Err, "inlet: source %s: Discord requests are signed with the Ed25519 key whose public key is %s\n", id, verify.DiscordPublicKey(secret))
		case inlet.VerifySendGrid:
			fmt.Fprintf(l.Err, "inlet: source %s: SendGrid requests are signed with the ECDSA key whose verification key is %s\n", id, verify.SendGridPublicKey(secret))
		}
		p, _ := inlet.LookupPreset(src.Config.Preset)
		s.formPayload, s.batch = p.FormPayload, p.SplitArray
	}
	l.sources[id] = s
	return s
}

func stamp(t time.Time) string { return t.UTC().Format("15:04:05.000") }

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
