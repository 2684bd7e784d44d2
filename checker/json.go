package checker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"zoosim/model"
)

// A saved history is one JSON object:
//
//	{"format": "zoosim-history", "version": 1, "history": {...}}
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

const (
	historyFormat  = "zoosim-history"
	historyVersion = 1
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
// format or version, trailing data and a history that breaks the format's
// rules (op IDs equal to their index, known op kinds, calls before
// returns, notices naming ops that exist) are errors.
func ReadJSON(r io.Reader) (*History, error) {
	dec := json.NewDecoder(r)
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
	if f.Version != historyVersion {
		return nil, fmt.Errorf("checker: reading history: version %d, this build reads version %d", f.Version, historyVersion)
	}
	if f.History == nil {
		return nil, errors.New("checker: reading history: no \"history\" object")
	}
	if err := Validate(f.History); err != nil {
		return nil, fmt.Errorf("checker: reading history: %w", err)
	}
	return f.History, nil
}

// Validate checks the rules of the History format that the checkers rely
// on.
func Validate(h *History) error {
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.ID != i {
			return fmt.Errorf("op at index %d has ID %d (IDs are positions)", i, op.ID)
		}
		if op.Kind < OpCreate || op.Kind > OpSync {
			return fmt.Errorf("op %d has unknown kind %d", i, op.Kind)
		}
		if op.Return < op.Call {
			return fmt.Errorf("op %d returns at %d, before its call at %d", i, op.Return, op.Call)
		}
		for j, s := range op.Multi {
			switch s.Kind {
			case OpCreate, OpDelete, OpSetData, OpCheck:
			default:
				return fmt.Errorf("op %d: op %d of the multi has kind %s", i, j, s.Kind)
			}
		}
	}
	for i, w := range h.Watches {
		if w.Registered < -1 || w.Registered >= len(h.Ops) {
			return fmt.Errorf("watch notice %d names op %d, which is not in the history", i, w.Registered)
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

func validTxn(t model.Txn, inMulti bool) error {
	if m, ok := t.(model.MultiTxn); ok {
		if inMulti {
			return errors.New("a multi inside a multi")
		}
		for _, s := range m.Txns {
			if err := validTxn(s, true); err != nil {
				return err
			}
		}
	}
	return nil
}

type txnRecord struct {
	Zxid    model.Zxid
	Session int64
	Cxid    int32
	TimeMs  int64
	Txn     *taggedTxn
	Digest  uint64
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
	return json.Marshal(txnRecord{Zxid: t.Zxid, Session: t.Session, Cxid: t.Cxid, TimeMs: t.TimeMs, Txn: tt, Digest: t.Digest})
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
	*t = Txn{Zxid: rec.Zxid, Session: rec.Session, Cxid: rec.Cxid, TimeMs: rec.TimeMs, Txn: txn, Digest: rec.Digest}
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
