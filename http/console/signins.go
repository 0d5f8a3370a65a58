package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"inlet"
)

// signIn is a signed-in browser. The cookie holds a random id; the server
// keeps only its SHA-256, so that the sign-ins file gives no one a way in.
type signIn struct {
	CSRF    string    `json:"csrf"`
	Expires time.Time `json:"expires"`
	// TokenID is the API token the browser signed in with; empty for the
	// admin token.
	TokenID string `json:"token_id,omitempty"`
}

// signIns is the bounded set of signed-in browsers. With a file, it is
// written on every change so that a restart signs nobody out.
type signIns struct {
	max    int
	ttl    time.Duration
	file   string
	logger *slog.Logger
	now    func() time.Time

	mu   sync.Mutex
	byID map[string]*signIn // by hex SHA-256 of the cookie value
}

func newSignIns(max int, ttl time.Duration, file string, logger *slog.Logger, now func() time.Time) *signIns {
	s := &signIns{max: max, ttl: ttl, file: file, logger: logger, now: now, byID: make(map[string]*signIn)}
	if file != "" {
		if b, err := os.ReadFile(file); err == nil {
			if err := json.Unmarshal(b, &s.byID); err != nil {
				logger.Warn("console sign-ins file unreadable; everyone signs in again", "path", file, "err", err)
				s.byID = make(map[string]*signIn)
			}
		}
		s.expire()
	}
	return s
}

func hashID(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// create signs a browser in and returns its cookie value and its sign-in.
// Beyond max sign-ins, the one closest to expiry is ended.
func (s *signIns) create(tokenID string) (string, *signIn) {
	id := randomHex(32)
	in := &signIn{CSRF: randomHex(32), Expires: s.now().Add(s.ttl), TokenID: tokenID}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	for len(s.byID) >= s.max {
		var oldest string
		for k, v := range s.byID {
			if oldest == "" || v.Expires.Before(s.byID[oldest].Expires) {
				oldest = k
			}
		}
		delete(s.byID, oldest)
	}
	s.byID[hashID(id)] = in
	s.save()
	return id, in
}

// find returns the live sign-in of a cookie value, or nil.
func (s *signIns) find(id string) *signIn {
	if id == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.byID[hashID(id)]
	if in == nil || !s.now().Before(in.Expires) {
		return nil
	}
	return in
}

// end signs a browser out.
func (s *signIns) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[hashID(id)]; ok {
		delete(s.byID, hashID(id))
		s.save()
	}
}

// expire drops expired sign-ins; s.mu is held.
func (s *signIns) expire() {
	now := s.now()
	for k, v := range s.byID {
		if !now.Before(v.Expires) {
			delete(s.byID, k)
		}
	}
}

// save writes the sign-ins file atomically; s.mu is held.
func (s *signIns) save() {
	if s.file == "" {
		return
	}
	b, _ := json.Marshal(s.byID)
	tmp := s.file + ".tmp"
	err := os.WriteFile(tmp, b, 0o600)
	if err == nil {
		err = os.Rename(tmp, s.file)
	}
	if err != nil {
		s.logger.Warn("cannot save console sign-ins; a restart will sign everyone out", "path", filepath.Dir(s.file), "err", err)
	}
}

// validCSRF reports whether token is the sign-in's CSRF token.
func (in *signIn) validCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(in.CSRF)) == 1
}

func (c *Console) handleSignInPage(w http.ResponseWriter, r *http.Request) {
	if c.signIn(r) != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.render(w, r, nil, http.StatusOK, "signin", "Sign in", map[string]any{"Next": safeNext(r.URL.Query().Get("next"))})
}

func (c *Console) handleSignIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	next := safeNext(r.PostFormValue("next"))
	addr := c.clientIP(r)
	if wait := c.attempts.locked(addr); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		c.cfg.Logger.Warn("console sign-in refused: too many tries from one address", "client", addr, "retry_after_s", secs)
		if c.cfg.SignInLimited != nil {
			c.cfg.SignInLimited()
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		c.render(w, r, nil, http.StatusTooManyRequests, "signin", "Sign in", map[string]any{"Next": next,
			"Error": fmt.Sprintf("Too many sign-in attempts from this address. Try again in %d seconds.", secs)})
		return
	}
	got := sha256.Sum256([]byte(r.PostFormValue("token")))
	tokenID, refusal := c.signInToken(r, got)
	if refusal == "" && !sameOrigin(r) {
		refusal = "This sign-in came from another site. Open the console's sign-in page and sign in there."
	}
	if refusal != "" {
		c.cfg.Logger.Info("console sign-in refused", "client", addr, "why", refusal)
		c.attempts.failed(addr)
		c.render(w, r, nil, http.StatusUnauthorized, "signin", "Sign in", map[string]any{"Next": next, "Error": refusal})
		return
	}
	c.attempts.succeeded(addr)
	id, _ := c.signIns.create(tokenID)
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: c.secureCookie(r), MaxAge: int(c.cfg.SignInTTL / time.Second),
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signInToken returns the id of the token whose SHA-256 is hash (empty
// for the admin token), or why it cannot sign in: unknown, revoked or
// expired.
func (c *Console) signInToken(r *http.Request, hash [32]byte) (id, refusal string) {
	if subtle.ConstantTimeCompare(hash[:], c.tokenHash[:]) == 1 {
		return "", ""
	}
	var tok *inlet.Token
	var err error = inlet.ErrUnknownToken
	if c.cfg.Tokens != nil {
		var found error
		if tok, found = c.cfg.Tokens.FindTokenByHash(r.Context(), hash); found == nil {
			err = tok.Refusal(c.now())
		} else if inlet.ErrorCode(found) != inlet.ENOTFOUND {
			c.cfg.Logger.Error("console sign-in: finding the token", "err", found)
			return "", "The token could not be checked; the server log has the details. Try again in a moment."
		}
	}
	switch {
	case err == inlet.ErrUnknownToken:
		return "", "That token is unknown: it is neither the admin token (the data directory's admin-token file, or --admin-token / INLET_ADMIN_TOKEN) nor an API token of this server (inlet tokens list)."
	case err != nil:
		msg := inlet.ErrorMessage(err)
		return "", strings.ToUpper(msg[:1]) + msg[1:] + "."
	}
	return tok.ID, ""
}

func (c *Console) handleSignOut(w http.ResponseWriter, r *http.Request, _ *viewer) {
	if ck, err := r.Cookie(CookieName); err == nil {
		c.signIns.end(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secureCookie(r), MaxAge: -1})
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}
