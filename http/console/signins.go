package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
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
