package checker

import (
	"bytes"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/model"
)

func TestJSON_RoundTripsAHistory(t *testing.T) {
	cfg := defaultGenConfig()
	cfg.ops, cfg.unknownPermille = 600, 50
	h := generate(rand.New(rand.NewPCG(5, 6)), cfg)
	// Every kind of txn, a nil one among them.
	h.Applied[1] = append(h.Applied[1],
		Txn{Zxid: model.MakeZxid(2, 1), Session: 9, Txn: model.SetACLTxn{Path: "/a", ACL: model.OpenACLUnsafe, Version: 1}},
		Txn{Zxid: model.MakeZxid(2, 2), Session: 9, Txn: model.DeleteTxn{Path: "/a"}},
		Txn{Zxid: model.MakeZxid(2, 3), Session: 9, Txn: model.CheckVersionTxn{Path: "/a", Version: 2}},
		Txn{Zxid: model.MakeZxid(2, 4), Session: 9, Txn: model.MultiTxn{Txns: []model.Txn{
			model.CreateTxn{Path: "/m", Data: []byte{}, ACL: model.OpenACLUnsafe, Mode: model.ModeEphemeralSequential, ParentCVersion: 3},
			model.ErrorTxn{Err: model.ErrRuntimeInconsistency}}}},
		Txn{Zxid: model.MakeZxid(2, 5), Session: 9, Txn: model.CloseSessionTxn{Paths: []string{"/e"}}},
		Txn{Zxid: model.MakeZxid(2, 6), Session: 9, Txn: nil},
	)
	h.Faults = []Fault{{Start: ms(1), End: Infinity, Kind: "partition", Description: "{1} | {2,3}"}}
	// What version 3 added.
	h.Applied[1][0].Time = ms(3)
	h.Ops = append(h.Ops, Op{ID: len(h.Ops), Client: 4, Session: 4, Kind: OpAddWatch, Path: "/a",
		WatcherType: model.WatcherPersistentRecursive, Call: ms(1), Return: ms(2), Zxid: 1})
	h.Ops = append(h.Ops, Op{ID: len(h.Ops), Client: 4, Session: 4, Kind: OpRemoveWatches, Path: "/a",
		WatcherType: model.WatcherAny, Call: ms(3), Return: ms(4), Zxid: 1})
	h.Sessions = append(h.Sessions, SessionEvent{Client: 4, Session: 4, State: SessionCrashed, Time: ms(5)})
	h.LastHeard = []LastHeard{{Client: 3, Session: 3, Server: 1, Time: ms(6)}}
	h.Claims = []RecipeClaim{{Recipe: "master", Client: 3, Session: 4, FromZxid: 5}}
	unknown := 0
	for _, op := range h.Ops {
		if op.Return == Infinity {
			unknown++
		}
	}
	require.NotZero(t, unknown, "the history should have ops returning at Infinity")

	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, h))
	back, err := ReadJSON(&buf)
	require.NoError(t, err)
	require.Equal(t, h, back)
	assert.Equal(t, Check(h, Options{}).String(), Check(back, Options{}).String())
}

// TestJSON_ReadsVersion1Histories: a history saved before version 2 (by
// the zoosim of commit 258f497: no apply times, no addWatch) still loads and
// passes every checker; a version 1 or 2 file cannot hold what version 3
// added.
func TestJSON_ReadsVersion1Histories(t *testing.T) {
	raw, err := os.ReadFile("testdata/history-v1.json")
	require.NoError(t, err)
	require.Contains(t, string(raw), `"version":1,`)
	h, err := ReadJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	require.NotEmpty(t, h.Ops)
	for _, txns := range h.Applied {
		for _, txn := range txns {
			require.Zero(t, txn.Time, "a version 1 file has no apply times")
		}
	}
	rep := Check(h, Options{})
	require.Equal(t, VerdictOK, rep.Verdict, rep.String())

	// Written again, it is a version 3 file with the same history.
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, h))
	require.Contains(t, buf.String(), `"version":3,`)
	back, err := ReadJSON(&buf)
	require.NoError(t, err)
	require.Equal(t, h, back)

	withAddWatch := strings.Replace(string(raw), `"Kind":3,`, `"Kind":10,"WatcherType":4,`, 1)
	require.NotEqual(t, string(raw), withAddWatch)
	_, err = ReadJSON(strings.NewReader(withAddWatch))
	require.ErrorContains(t, err, "kind addWatch, which versions before 3 do not have")
	_, err = ReadJSON(strings.NewReader(strings.Replace(withAddWatch, `"version":1,`, `"version":2,`, 1)))
	require.ErrorContains(t, err, "kind addWatch, which versions before 3 do not have")
	_, err = ReadJSON(strings.NewReader(strings.Replace(withAddWatch, `"version":1,`, `"version":3,`, 1)))
	require.NoError(t, err)
}

func TestJSON_BadInputGivesAClearError(t *testing.T) {
	good := func() string {
		b := newBuilder(t, 1)
		b.write(1, 1, create("/a", "x"), ms(1), ms(2))
		var buf bytes.Buffer
		require.NoError(t, WriteJSON(&buf, b.h))
		return buf.String()
	}()
	_, err := ReadJSON(strings.NewReader(good))
	require.NoError(t, err)

	cases := []struct{ name, input, want string }{
		{"not JSON", "hello", "invalid character"},
		{"empty", "", "EOF"},
		{"other format", `{"format":"x","version":1,"history":{}}`, `format is "x"`},
		{"newer version", `{"format":"zoosim-history","version":4,"history":{}}`, "version 4, this build reads versions 1 to 3"},
		{"older version", `{"format":"zoosim-history","version":0,"history":{}}`, "version 0"},
		{"unknown session state", strings.Replace(good, `"Sessions":null`, `"Sessions":[{"Client":1,"Session":1,"Server":1,"State":9,"Time":1,"LastZxid":0}]`, 1), "unknown state 9"},
		{"addWatch of no watch type", strings.Replace(good, `"Kind":1,`, `"Kind":10,`, 1), "addWatch with watcher type 0"},
		{"removeWatches of no watch type", strings.Replace(good, `"Kind":1,`, `"Kind":11,`, 1), "removeWatches with unknown watcher type 0"},
		{"no history", `{"format":"zoosim-history","version":1}`, `no "history"`},
		{"unknown field", strings.Replace(good, `"Servers"`, `"Servrs"`, 1), "unknown field"},
		{"unknown txn type", strings.Replace(good, `"type":"create"`, `"type":"rename"`, 1), `unknown txn type "rename"`},
		{"txn body of the wrong shape", strings.Replace(good, `"type":"createSession","body":{"TimeoutMs":10000}`, `"type":"createSession","body":{"Path":"/x"}`, 1), "createSession txn"},
		{"trailing data", good + "{}", "trailing data"},
		{"op ID is not its index", strings.Replace(good, `"ID":0`, `"ID":7`, 1), "op at index 0 has ID 7"},
		{"return before call", strings.Replace(good, `"Return":2000000`, `"Return":5`, 1), "before its call"},
	}
	withMulti := func() string {
		b := newBuilder(t, 1)
		b.write(1, 1, Op{Kind: OpMulti, Multi: []SubOp{{Kind: OpCreate, Path: "/m"}}}, ms(1), ms(2))
		var buf bytes.Buffer
		require.NoError(t, WriteJSON(&buf, b.h))
		return buf.String()
	}()
	cases = append(cases, struct{ name, input, want string }{"a multi inside a multi",
		strings.Replace(withMulti, `"txns":[{"type":"create"`, `"txns":[{"type":"multi","txns":[]},{"type":"create"`, 1),
		"a multi inside a multi"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.NotEqual(t, good, c.input, "the case must change the input")
			_, err := ReadJSON(strings.NewReader(c.input))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "checker: reading history")
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// A history saved before ops recorded their request xid (format version
// 1 as zoosim wrote it then: zoosim run --scenario session-expiry --seed 3
// --duration 2s --clients 4) still loads, and every checker still judges
// it: writes of unknown outcome are tied to their txns by what they asked
// for instead.
func TestJSON_AHistorySavedBeforeXidsStillLoadsAndChecks(t *testing.T) {
	f, err := os.Open("testdata/history-v1-session-expiry.json")
	require.NoError(t, err)
	defer f.Close()
	h, err := ReadJSON(f)
	require.NoError(t, err)
	require.NotEmpty(t, h.Ops)
	for _, op := range h.Ops {
		require.Zero(t, op.Xid, "the file predates xids")
	}
	rep := Check(h, Options{})
	require.Equal(t, VerdictOK, rep.Verdict, rep.String())
	for _, r := range rep.Results {
		assert.Zero(t, r.Unchecked, "%s: %s", r.Checker, r.UncheckedNote())
	}
	black := CheckLinearizable(blackBox(h), Options{})
	requireVerdict(t, VerdictOK, black)
}
