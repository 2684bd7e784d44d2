package checker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"zoosim/model"
	"zoosim/node"
)

// A saved history is one JSON object:
//
//	{"format": "zoosim-history", "version": 3, "history": {...}}
//
// The history's fields keep their Go names. Times are integers of virtual
// nanoseconds (Infinity is 9223372036854775807, which round-trips through
// Go's int64), byte slices are base64, and a committed txn's model.Txn is
// tagged with its type:
//
//	{"type": "setData", "body": {"Path": "/a", "Data": "eA==", "Version": 3}}
//	{"type": "multi", "txns": [{"type": "create", "body": {...}}, ...]}
//
// Types: create, delete, setData, check, setACL, createSession,
// closeSession, error, multi. A nil txn is null.
//
// Versions: 2 added Op.Xid (the request's xid). 3 added the addWatch and
// removeWatches op kinds with Op.WatcherType, the crashed session state,
// History.LastHeard, the arrival order of replies and notices (Arrival)
// and the apply time of a committed txn (Txn.Time). ReadJSON reads the
// older versions as they are: what they lack is zero (no xids, no apply
// times, no arrival orders: the checks that need them are skipped or
// lenient).

const (
	historyFormat  = "zoosim-history"
	historyVersion = 3
	// historyOldest is the oldest version this build still reads.
	historyOldest = 1
)

// Bounds on a saved history, so that a hostile or broken file cannot make
// ReadJSON exhaust memory: the whole file, every JSON string in it, and
// the paths and data it holds (1 MiB each, as ZooKeeper's jute.maxbuffer
// bounds a request), and the ensemble's size.
const (
	MaxHistoryBytes = 256 << 20
	MaxDataBytes    = 1 << 20
	MaxPathBytes    = 1 << 20
	MaxServers      = 255
	// maxJSONString bounds one encoded JSON string: the base64 of
	// MaxDataBytes, with room for escapes in a path.
	maxJSONString = 2 << 20
	maxJSONDepth  = 64
)

type historyFile struct {
	Format  string   `json:"format"`
	Version int      `json:"version"`
	History *History `json:"history"`
}

// WriteJSON saves a history.
func WriteJSON(w io.Writer, h *History) error {
	if h == nil {
		return errors.New("checker: WriteJSON of a nil history")
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(historyFile{Format: historyFormat, Version: historyVersion, History: h}); err != nil {
		return fmt.Errorf("checker: writing history: %w", err)
	}
	return nil
}

// ReadJSON loads a history saved by WriteJSON. Unknown fields, a wrong
// format or version, trailing data, a file or a string beyond its bound
// and a history that breaks the format's rules (see Validate) are errors.
// It reads at most MaxHistoryBytes and never holds a JSON string longer
// than maxJSONString.
func ReadJSON(r io.Reader) (*History, error) {
	b, err := io.ReadAll(&boundedJSON{r: io.LimitReader(r, MaxHistoryBytes+1), str: -1})
	if err != nil {
		return nil, fmt.Errorf("checker: reading history: %w", err)
	}
	if len(b) > MaxHistoryBytes {
		return nil, fmt.Errorf("checker: reading history: larger than %d bytes", MaxHistoryBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f historyFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("checker: reading history: %w", err)
	}
	if dec.More() {
		return nil, errors.New("checker: reading history: trailing data after the history object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("checker: reading history: trailing data after the history object")
	}
	if f.Format != historyFormat {
		return nil, fmt.Errorf("checker: reading history: format is %q, want %q", f.Format, historyFormat)
	}
	if f.Version < historyOldest || f.Version > historyVersion {
		return nil, fmt.Errorf("checker: reading history: version %d, this build reads versions %d to %d", f.Version, historyOldest, historyVersion)
	}
	if f.History == nil {
		return nil, errors.New("checker: reading history: no \"history\" object")
	}
	if err := Validate(f.History); err != nil {
		return nil, fmt.Errorf("checker: reading history: %w", err)
	}
	if f.Version < 3 {
		if err := validBefore3(f.History); err != nil {
			return nil, fmt.Errorf("checker: reading history: %w", err)
		}
	}
	return f.History, nil
}

// validBefore3 refuses what a file of a version before 3 cannot hold.
func validBefore3(h *History) error {
	for i := range h.Ops {
		if k := h.Ops[i].Kind; k > OpSync {
			return fmt.Errorf("op %d has kind %s, which versions before 3 do not have", i, k)
		}
	}
	for i := range h.Sessions {
		if h.Sessions[i].State == SessionCrashed {
			return fmt.Errorf("session event %d has state %s, which versions before 3 do not have", i, SessionCrashed)
		}
	}
	return nil
}

// Validate checks the rules of the History format that the checkers rely
// on: an ensemble of 1..MaxServers servers (numbered 1..Servers: Applied
// has at most one entry per server, and an op names no other), op IDs
// equal to their index, known op kinds, calls at or after time 0 and
// before returns, notices naming ops that exist, paths that follow
// ZooKeeper's rules and data of at most MaxDataBytes.
func Validate(h *History) error {
	if h.Servers < 1 || h.Servers > MaxServers {
		return fmt.Errorf("servers %d outside 1..%d", h.Servers, MaxServers)
	}
	if len(h.Applied) > h.Servers+1 {
		return fmt.Errorf("applied txns of %d servers in an ensemble of %d", len(h.Applied)-1, h.Servers)
	}
	if len(h.Applied) > 0 && len(h.Applied[0]) > 0 {
		return errors.New("applied txns of server 0 (servers are numbered from 1)")
	}
	for i := range h.Ops {
		if h.Ops[i].ID != i {
			return fmt.Errorf("op at index %d has ID %d (IDs are positions)", i, h.Ops[i].ID)
		}
		if err := validOp(&h.Ops[i], h.Servers); err != nil {
			return fmt.Errorf("op %d: %w", i, err)
		}
	}
	for i, w := range h.Watches {
		if w.Registered < -1 || w.Registered >= len(h.Ops) {
			return fmt.Errorf("watch notice %d names op %d, which is not in the history", i, w.Registered)
		}
		if err := validPath(w.Path, w.Type == model.EventNone); err != nil {
			return fmt.Errorf("watch notice %d: %w", i, err)
		}
	}
	for i, e := range h.Sessions {
		if e.State < SessionConnected || e.State > SessionCrashed {
			return fmt.Errorf("session event %d has unknown state %d", i, e.State)
		}
	}
	for s, txns := range h.Applied {
		for i := range txns {
			if err := validTxn(txns[i].Txn, false); err != nil {
				return fmt.Errorf("server %d, applied txn %d (zxid %s): %w", s, i, txns[i].Zxid, err)
			}
		}
	}
	return nil
}

func validOp(op *Op, servers int) error {
	switch {
	case op.Kind < OpCreate || op.Kind > OpRemoveWatches:
		return fmt.Errorf("unknown kind %d", op.Kind)
	case op.Kind == OpAddWatch && op.WatcherType != model.WatcherPersistent && op.WatcherType != model.WatcherPersistentRecursive:
		return fmt.Errorf("addWatch with watcher type %d (persistent %d or persistent-recursive %d)",
			op.WatcherType, model.WatcherPersistent, model.WatcherPersistentRecursive)
	case op.Kind == OpRemoveWatches && (op.WatcherType < model.WatcherChildren || op.WatcherType > model.WatcherPersistentRecursive):
		return fmt.Errorf("removeWatches with unknown watcher type %d", op.WatcherType)
	case op.Call < 0:
		return fmt.Errorf("called at %d, before the run started", op.Call)
	case op.Return < op.Call:
		return fmt.Errorf("returns at %d, before its call at %d", op.Return, op.Call)
	case op.Client <= 0:
		return fmt.Errorf("client %d is not a node ID", op.Client)
	case op.Server < 0 || int(op.Server) > servers:
		return fmt.Errorf("answered by server %d of an ensemble of %d", op.Server, servers)
	}
	// A multi's paths are its ops'; a sync's path does not matter.
	if err := validPath(op.Path, op.Kind == OpMulti || op.Kind == OpSync); err != nil {
		return err
	}
	if err := validPath(op.CreatedPath, true); err != nil {
		return fmt.Errorf("created path: %w", err)
	}
	if err := validData(op.Data, op.ResultData); err != nil {
		return err
	}
	for _, c := range op.Children {
		if c == "" || strings.Contains(c, "/") || validPath("/"+c, false) != nil {
			return fmt.Errorf("child %q is not a node name", c)
		}
	}
	for j, s := range op.Multi {
		switch s.Kind {
		case OpCreate, OpDelete, OpSetData, OpCheck:
		default:
			return fmt.Errorf("op %d of the multi has kind %s", j, s.Kind)
		}
		if err := validPath(s.Path, false); err != nil {
			return fmt.Errorf("op %d of the multi: %w", j, err)
		}
		if err := validPath(s.CreatedPath, true); err != nil {
			return fmt.Errorf("op %d of the multi: created path: %w", j, err)
		}
		if err := validData(s.Data); err != nil {
			return fmt.Errorf("op %d of the multi: %w", j, err)
		}
	}
	return nil
}

func validTxn(t model.Txn, inMulti bool) error {
	switch t := t.(type) {
	case model.MultiTxn:
		if inMulti {
			return errors.New("a multi inside a multi")
		}
		for _, s := range t.Txns {
			if err := validTxn(s, true); err != nil {
				return err
			}
		}
	case model.CreateTxn:
		return errors.Join(validPath(t.Path, false), validData(t.Data))
	case model.DeleteTxn:
		return validPath(t.Path, false)
	case model.SetDataTxn:
		return errors.Join(validPath(t.Path, false), validData(t.Data))
	case model.CheckVersionTxn:
		return validPath(t.Path, false)
	case model.SetACLTxn:
		return validPath(t.Path, false)
	case model.CloseSessionTxn:
		for _, p := range t.Paths {
			if err := validPath(p, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// validPath holds a path to ZooKeeper's rules (PathUtils.validatePath): at
// most MaxPathBytes of UTF-8, absolute, no trailing '/' but the root's, no
// empty, "." or ".." component, no NUL or control character. The checker
// keeps its own copy of the rules: it shares no code with the service it
// judges. An empty path passes only where the record has none.
func validPath(p string, emptyOK bool) error {
	switch {
	case p == "" && emptyOK:
		return nil
	case len(p) > MaxPathBytes:
		return fmt.Errorf("a path of %d bytes, more than %d", len(p), MaxPathBytes)
	case p == "/":
		return nil
	case !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || !utf8.ValidString(p):
		return fmt.Errorf("path %.64q is not an absolute path without a trailing '/'", p)
	}
	for c := range strings.SplitSeq(p[1:], "/") {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("path %.64q has an empty, \".\" or \"..\" component", p)
		}
	}
	for _, r := range p {
		if r == 0 || r <= 0x1f || r >= 0x7f && r <= 0x9f || r >= 0xd800 && r <= 0xf8ff || r >= 0xfff0 {
			return fmt.Errorf("path %.64q has the character %U, which ZooKeeper refuses", p, r)
		}
	}
	return nil
}

func validData(data ...[]byte) error {
	for _, d := range data {
		if len(d) > MaxDataBytes {
			return fmt.Errorf("data of %d bytes, more than %d", len(d), MaxDataBytes)
		}
	}
	return nil
}

// boundedJSON passes JSON through and fails as soon as a string grows
// longer than maxJSONString bytes or values nest deeper than maxJSONDepth,
// before anything is decoded and before a huge string is even read whole:
// decoding then allocates in proportion to what it keeps.
type boundedJSON struct {
	r      io.Reader
	offset int  // bytes passed so far
	str    int  // length of the string being read so far; -1 outside strings
	escape bool // the previous byte was a backslash inside a string
	depth  int
}

func (b *boundedJSON) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	for i, c := range p[:n] {
		if b.str >= 0 {
			switch {
			case b.escape:
				b.escape = false
			case c == '\\':
				b.escape = true
			case c == '"':
				b.str = -1
				continue
			}
			if b.str++; b.str > maxJSONString {
				return i, fmt.Errorf("a string before byte %d is longer than %d bytes", b.offset+i, maxJSONString)
			}
			continue
		}
		switch c {
		case '"':
			b.str = 0
		case '{', '[':
			if b.depth++; b.depth > maxJSONDepth {
				return i, fmt.Errorf("values nested deeper than %d at byte %d", maxJSONDepth, b.offset+i)
			}
		case '}', ']':
			b.depth--
		}
	}
	b.offset += n
	return n, err
}

type txnRecord struct {
	Zxid    model.Zxid
	Session int64
	Cxid    int32
	TimeMs  int64
	Txn     *taggedTxn
	Digest  uint64
	Time    node.Time
}

type taggedTxn struct {
	Type string          `json:"type"`
	Body json.RawMessage `json:"body,omitempty"`
	Txns []*taggedTxn    `json:"txns,omitempty"`
}

// MarshalJSON encodes the txn with its type tag.
func (t Txn) MarshalJSON() ([]byte, error) {
	tt, err := tagTxn(t.Txn)
	if err != nil {
		return nil, err
	}
	return json.Marshal(txnRecord{Zxid: t.Zxid, Session: t.Session, Cxid: t.Cxid, TimeMs: t.TimeMs, Txn: tt, Digest: t.Digest, Time: t.Time})
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (t *Txn) UnmarshalJSON(b []byte) error {
	var rec txnRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return err
	}
	txn, err := untagTxn(rec.Txn)
	if err != nil {
		return fmt.Errorf("txn at zxid %s: %w", rec.Zxid, err)
	}
	*t = Txn{Zxid: rec.Zxid, Session: rec.Session, Cxid: rec.Cxid, TimeMs: rec.TimeMs, Txn: txn, Digest: rec.Digest, Time: rec.Time}
	return nil
}

func tagTxn(txn model.Txn) (*taggedTxn, error) {
	if txn == nil {
		return nil, nil
	}
	if m, ok := txn.(model.MultiTxn); ok {
		tt := &taggedTxn{Type: "multi", Txns: make([]*taggedTxn, len(m.Txns))}
		for i, s := range m.Txns {
			st, err := tagTxn(s)
			if err != nil {
				return nil, err
			}
			tt.Txns[i] = st
		}
		return tt, nil
	}
	name := txnTypeName(txn)
	if name == "" {
		return nil, fmt.Errorf("checker: cannot encode txn of type %T", txn)
	}
	body, err := json.Marshal(txn)
	if err != nil {
		return nil, err
	}
	return &taggedTxn{Type: name, Body: body}, nil
}

func txnTypeName(txn model.Txn) string {
	switch txn.(type) {
	case model.CreateTxn:
		return "create"
	case model.DeleteTxn:
		return "delete"
	case model.SetDataTxn:
		return "setData"
	case model.CheckVersionTxn:
		return "check"
	case model.SetACLTxn:
		return "setACL"
	case model.CreateSessionTxn:
		return "createSession"
	case model.CloseSessionTxn:
		return "closeSession"
	case model.ErrorTxn:
		return "error"
	}
	return ""
}

func untagTxn(tt *taggedTxn) (model.Txn, error) {
	if tt == nil {
		return nil, nil
	}
	if tt.Type == "multi" {
		if len(tt.Body) > 0 {
			return nil, errors.New(`a "multi" txn has "txns", not a "body"`)
		}
		m := model.MultiTxn{Txns: make([]model.Txn, len(tt.Txns))}
		for i, s := range tt.Txns {
			if s != nil && s.Type == "multi" {
				return nil, errors.New("a multi inside a multi")
			}
			sub, err := untagTxn(s)
			if err != nil {
				return nil, fmt.Errorf("op %d of the multi: %w", i, err)
			}
			m.Txns[i] = sub
		}
		return m, nil
	}
	if len(tt.Txns) > 0 {
		return nil, fmt.Errorf("a %q txn has \"txns\"", tt.Type)
	}
	switch tt.Type {
	case "create":
		return decodeBody[model.CreateTxn](tt)
	case "delete":
		return decodeBody[model.DeleteTxn](tt)
	case "setData":
		return decodeBody[model.SetDataTxn](tt)
	case "check":
		return decodeBody[model.CheckVersionTxn](tt)
	case "setACL":
		return decodeBody[model.SetACLTxn](tt)
	case "createSession":
		return decodeBody[model.CreateSessionTxn](tt)
	case "closeSession":
		return decodeBody[model.CloseSessionTxn](tt)
	case "error":
		return decodeBody[model.ErrorTxn](tt)
	}
	return nil, fmt.Errorf("unknown txn type %q", tt.Type)
}

func decodeBody[T model.Txn](tt *taggedTxn) (model.Txn, error) {
	var v T
	body := tt.Body
	if len(body) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s txn: %w", tt.Type, err)
	}
	return v, nil
}
