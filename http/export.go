package http

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"inlet"
)

// Limits of export and import.
const (
	// exportPage is how many events an export reads at a time: the most it
	// holds in memory.
	exportPage = inlet.MaxEventLimit
	// importBatch is how many records an import stores per transaction.
	importBatch = 1000
	// MaxImportLine is the longest line of an import.
	MaxImportLine = 16 << 20
	// streamDeadline is how long an export may take to write a page, or an
	// import to read a batch, before the connection is given up.
	streamDeadline = 2 * time.Minute
)

// exportRoutes are the routes of export and import: long transfers.
func (s *Server) exportRoutes() []route {
	return []route{
		{"GET /api/v1/events/export", ClassStream, inlet.ScopeRead, http.HandlerFunc(s.handleExport)},
		{"POST /api/v1/events/import", ClassStream, inlet.ScopeWrite, http.HandlerFunc(s.handleImport)},
	}
}

// handleExport streams the events of a filter as NDJSON, oldest first, one
// page at a time, each line as GET /api/v1/events/{id} shows the event.
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	f, err := ParseEventFilter(r.URL.Query())
	if err != nil {
		Error(w, r, err, nil)
		return
	}
	f.Oldest, f.Limit = true, exportPage
	page, err := s.cfg.Store.ListEvents(r.Context(), f)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	for {
		rc.SetWriteDeadline(time.Now().Add(streamDeadline))
		for _, e := range page.Items {
			line, err := inlet.EventJSON(e)
			if err != nil {
				s.abortExport(r, err)
			}
			if _, err := bw.Write(line); err != nil {
				return // the client went away
			}
		}
		if err := bw.Flush(); err != nil {
			return
		}
		rc.Flush()
		if page.Next == nil {
			return
		}
		f.Cursor = *page.Next
		if page, err = s.cfg.Store.ListEvents(r.Context(), f); err != nil {
			s.abortExport(r, err)
		}
	}
}

// abortExport cuts the connection of an export that failed half-way, so
// that the client sees an error rather than a file that looks whole.
func (s *Server) abortExport(r *http.Request, err error) {
	if r.Context().Err() == nil {
		s.cfg.Logger.Error("export failed; connection cut", "err", err)
	}
	panic(http.ErrAbortHandler)
}

// ImportResult is the answer of POST /api/v1/events/import.
type ImportResult struct {
	// Lines is how many records were read; Imported how many of them
	// were new; the others were stored already.
	Lines    int `json:"lines"`
	Imported int `json:"imported"`
	Skipped  int `json:"skipped"`
}

// handleImport stores NDJSON records (as exported) a batch at a time. A
// malformed record stops the import with a 400 naming its line; the
// records before it are stored.
func (s *Server) handleImport(w http.ResponseWriter, r *http.Request) {
	importer := s.cfg.Store
	rc := http.NewResponseController(w)
	br := bufio.NewReaderSize(r.Body, 64<<10)
	var res ImportResult
	batch := make([]*inlet.Event, 0, importBatch)
	flush := func() error {
		n, err := importer.ImportEvents(r.Context(), batch)
		if err != nil {
			return err
		}
		res.Imported += n
		res.Skipped += len(batch) - n
		batch = batch[:0]
		rc.SetReadDeadline(time.Now().Add(streamDeadline))
		return nil
	}
	rc.SetReadDeadline(time.Now().Add(streamDeadline))
	for line := 1; ; line++ {
		raw, err := readLine(br)
		if errors.Is(err, io.EOF) && len(raw) == 0 {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			if ferr := flush(); ferr != nil {
				Error(w, r, ferr, s.cfg.Logger)
				return
			}
			Error(w, r, s.importStopped(err, line, res), s.cfg.Logger)
			return
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		e, perr := ParseImportRecord(raw)
		if perr != nil {
			if ferr := flush(); ferr != nil {
				Error(w, r, ferr, s.cfg.Logger)
				return
			}
			Error(w, r, s.importStopped(perr, line, res), nil)
			return
		}
		res.Lines++
		batch = append(batch, e)
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				Error(w, r, err, s.cfg.Logger)
				return
			}
		}
	}
	if err := flush(); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, &res)
}

// importStopped says which line stopped an import and what was kept.
func (s *Server) importStopped(err error, line int, res ImportResult) error {
	code, what := inlet.EINVALID, inlet.ErrorMessageOrText(err)
	switch {
	case errors.Is(err, errLongLine):
		code = inlet.ETOOLARGE
	case inlet.ErrorCode(err) == inlet.EINTERNAL:
		what = "the body could not be read (" + err.Error() + ")"
	}
	return inlet.Reasonf(code, "bad_line", "line %d: %s; the %d records before it are stored (%d new): fix the line and import the file again, stored records are skipped",
		line, what, res.Lines, res.Imported)
}

var errLongLine = fmt.Errorf("the line is longer than %d bytes", MaxImportLine)

// readLine reads one line without its newline, up to MaxImportLine bytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxImportLine {
			return nil, errLongLine
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(line, []byte("\n")), err
	}
}

// ParseImportRecord reads one line of an export. Returns EINVALID naming
// the field that is wrong.
func ParseImportRecord(raw []byte) (*inlet.Event, error) {
	var e inlet.Event
	if err := json.Unmarshal(raw, &e); err != nil {
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntaxErr):
			return nil, inlet.Errorf(inlet.EINVALID, "invalid JSON at byte %d: %s", syntaxErr.Offset, syntaxErr)
		case errors.As(err, &typeErr):
			return nil, inlet.Errorf(inlet.EINVALID, "field %q must be %s, not JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
		}
		return nil, inlet.Errorf(inlet.EINVALID, "not an event as exported: %s", err)
	}
	switch {
	case !inlet.ValidID(e.ID):
		return nil, inlet.Errorf(inlet.EINVALID, "id must be 1 to %d characters from A-Z, a-z, 0-9, '-', '_', '.' and ':'", inlet.MaxIDLength)
	case !inlet.ValidID(e.SourceID):
		return nil, inlet.Errorf(inlet.EINVALID, "source_id must be a source id")
	case e.SessionID != "" && !inlet.ValidID(e.SessionID):
		return nil, inlet.Errorf(inlet.EINVALID, "session_id must be a session id or null")
	case e.ProfileID != "" && !inlet.ValidID(e.ProfileID):
		return nil, inlet.Errorf(inlet.EINVALID, "profile_id must be a profile id or null")
	case e.InsertedAt.IsZero():
		return nil, inlet.Errorf(inlet.EINVALID, "inserted_at is required: an RFC 3339 time")
	}
	if t, err := inlet.NormalizeEventType(e.Type); err != nil || t != e.Type {
		return nil, inlet.Errorf(inlet.EINVALID, "type must be an event type as stored (a-z, 0-9, '-', '_', '.', ':')")
	}
	if len(e.Properties) == 0 || string(e.Properties) == "null" {
		e.Properties = json.RawMessage("{}")
	}
	e.InsertedAt = e.InsertedAt.UTC()
	return &e, nil
}
