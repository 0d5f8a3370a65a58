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

// session is a signed-in browser. The cookie holds a random id; the server
// keeps only its SHA-256, so that the sessions file gives no one a way in.
type session struct {
	CSRF    string    `json:"csrf"`
	Expires time.Time `json:"expires"`
	// TokenID is the API token the session signed in with; empty for the
	// admin token.
	TokenID string `json:"token_id,omitempty"`
}

// sessions is the bounded set of signed-in browsers. With a file, it is
// written on every change so that a restart signs nobody out.
type sessions struct {
	max    int
	ttl    time.Duration
	file   string
	logger *slog.Logger
	now    func() time.Time

	mu   sync.Mutex
	byID map[string]*session // by hex SHA-256 of the cookie value
}

func newSessions(max int, ttl time.Duration, file string, logger *slog.Logger, now func() time.Time) *sessions {
	s := &sessions{max: max, ttl: ttl, file: file, logger: logger, now: now, byID: make(map[string]*session)}
	if file != "" {
		if b, err := os.ReadFile(file); err == nil {
			if err := json.Unmarshal(b, &s.byID); err != nil {
				logger.Warn("console sessions file unreadable; everyone signs in again", "path", file, "err", err)
				s.byID = make(map[string]*session)
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

// create starts a session and returns its cookie value and the session.
// Beyond max sessions, the one closest to expiry is ended.
func (s *sessions) create(tokenID string) (string, *session) {
	id := randomHex(32)
	sess := &session{CSRF: randomHex(32), Expires: s.now().Add(s.ttl), TokenID: tokenID}
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
	s.byID[hashID(id)] = sess
	s.save()
	return id, sess
}

// find returns the live session of a cookie value, or nil.
func (s *sessions) find(id string) *session {
	if id == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.byID[hashID(id)]
	if sess == nil || !s.now().Before(sess.Expires) {
		return nil
	}
	return sess
}

// end signs a session out.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[hashID(id)]; ok {
		delete(s.byID, hashID(id))
		s.save()
	}
}

// expire drops expired sessions; s.mu is held.
func (s *sessions) expire() {
	now := s.now()
	for k, v := range s.byID {
		if !now.Before(v.Expires) {
			delete(s.byID, k)
		}
	}
}

// save writes the sessions file atomically; s.mu is held.
func (s *sessions) save() {
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
		s.logger.Warn("cannot save console sessions; a restart will sign everyone out", "path", filepath.Dir(s.file), "err", err)
	}
}

// validCSRF reports whether token is the session's CSRF token.
func (sess *session) validCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRF)) == 1
}
