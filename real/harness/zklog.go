package harness

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"zoosim/checker"
	"zoosim/model"
	"zoosim/node"
	"zoosim/wire/jute"
)

// Apache ZooKeeper does not report what it commits, but it leaves its txn
// logs behind: DATADIR/version-2/log.<first zxid in hex>, each a FileHeader
// (magic "ZKLG", version 2, dbid) and then records of
//
//	long   crc      Adler-32 of the entry
//	buffer entry    TxnHeader, the txn record, an optional TxnDigest
//	byte   'B'      end of record
//
// (FileTxnLog.append, Util.marshallTxnEntry), the file padded with zeros
// past its last record (preallocation). ReadZooKeeperLog reads them into
// the txn records the checkers take.

// zkLogMagic is FileTxnLog.TXNLOG_MAGIC ("ZKLG").
const zkLogMagic = 0x5a4b4c47

// ReadZooKeeperLog reads every txn log file of one ZooKeeper server's data
// directory (the dataDir, or dataLogDir when set), in the order of their
// first zxids, and returns the records in file order. A file ends at its
// padding or at a record cut short or failing its checksum (a write the
// kill interrupted: ZooKeeper itself stops reading there); a record that
// decodes but is not a txn ZooKeeper writes is an error. Time is 0: the
// log does not say when a server applied a txn.
func ReadZooKeeperLog(dataDir string) ([]checker.Txn, error) {
	dir := filepath.Join(dataDir, "version-2")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil // the server never logged anything
		}
		return nil, err
	}
	type logFile struct {
		name  string
		first uint64
	}
	var files []logFile
	for _, e := range entries {
		hex, ok := strings.CutPrefix(e.Name(), "log.")
		if !ok || e.IsDir() {
			continue
		}
		z, err := strconv.ParseUint(hex, 16, 64)
		if err != nil {
			continue // not one of ZooKeeper's names
		}
		files = append(files, logFile{e.Name(), z})
	}
	slices.SortFunc(files, func(a, b logFile) int {
		if a.first != b.first {
			if a.first < b.first {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	var out []checker.Txn
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return nil, err
		}
		txns, err := parseZooKeeperLog(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, f.name), err)
		}
		out = append(out, txns...)
	}
	return out, nil
}

// parseZooKeeperLog reads one txn log file.
func parseZooKeeperLog(b []byte) ([]checker.Txn, error) {
	if len(b) == 0 {
		return nil, nil // created, nothing written yet
	}
	r := jute.NewReader(b)
	magic, version := r.Int(), r.Int()
	r.Long() // dbid
	if r.Err() != nil {
		return nil, fmt.Errorf("a file header cut short")
	}
	if magic != zkLogMagic {
		return nil, fmt.Errorf("not a ZooKeeper txn log (magic %#x)", uint32(magic))
	}
	if version != 2 {
		return nil, fmt.Errorf("txn log version %d (this reader knows 2)", version)
	}
	var out []checker.Txn
	for off := 16; ; { // after the FileHeader
		if len(b)-off < 12 {
			return out, nil // the end, or a crc and length cut short
		}
		rec := jute.NewReader(b[off:])
		crc := rec.Long()
		n := rec.Int()
		if n == 0 {
			return out, nil // the zero padding after the last record
		}
		if n < 0 || int64(n) > int64(rec.Len()-1) {
			return out, nil // a record cut short
		}
		entry := b[off+12 : off+12+int(n)]
		if int64(adler32.Checksum(entry)) != crc || b[off+12+int(n)] != 'B' {
			return out, nil // torn: ZooKeeper stops reading here too
		}
		t, err := decodeZooKeeperEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("record at offset %d: %w", off, err)
		}
		out = append(out, t)
		off += 12 + int(n) + 1
	}
}

const (
	// zkHeaderSize is a TxnHeader's encoding: clientId, cxid, zxid, time,
	// type.
	zkHeaderSize = 8 + 4 + 8 + 8 + 4
	// zkDigestSize is a TxnDigest's encoding: int version, long treeDigest.
	zkDigestSize = 12
	// zkDigestVersion is DigestCalculator.DIGEST_VERSION.
	zkDigestVersion = 2
)

// decodeZooKeeperEntry decodes TxnHeader, txn and an optional digest.
func decodeZooKeeperEntry(b []byte) (checker.Txn, error) {
	r := jute.NewReader(b)
	var t checker.Txn
	t.Session = r.Long()
	t.Cxid = r.Int()
	t.Zxid = model.Zxid(r.Long())
	t.TimeMs = r.Long()
	op := model.OpCode(r.Int())
	if r.Err() != nil {
		return t, fmt.Errorf("a txn header cut short")
	}
	var txn model.Txn
	var err error
	if body := b[zkHeaderSize:]; op == model.OpCloseSession && (len(body) == 0 ||
		len(body) == zkDigestSize && binary.BigEndian.Uint32(body) == zkDigestVersion) {
		// A closeSession without paths2Delete (closeSessionTxnEnabled off),
		// perhaps followed by a digest.
		txn = model.CloseSessionTxn{}
	} else {
		txn, err = decodeZooKeeperTxn(r, op)
	}
	if err != nil {
		return t, fmt.Errorf("zxid %s: %w", t.Zxid, err)
	}
	if rest := r.Len(); rest != 0 && rest != zkDigestSize {
		return t, fmt.Errorf("zxid %s: %d bytes after the %v txn", t.Zxid, rest, op)
	}
	t.Txn = txn
	return t, nil
}

// decodeZooKeeperTxn decodes the txn record of op (zookeeper.jute's
// org.apache.zookeeper.txn).
func decodeZooKeeperTxn(r *jute.Reader, op model.OpCode) (model.Txn, error) {
	var txn model.Txn
	switch op {
	case model.OpCreate, model.OpCreate2:
		// CreateTxn: path, data, acl, ephemeral, parentCVersion.
		x := model.CreateTxn{Path: r.UString(), Data: r.Buffer(), ACL: zkACLs(r)}
		if r.Bool() {
			x.Mode = model.ModeEphemeral
		}
		x.ParentCVersion = r.Int()
		txn = x
	case model.OpCreateContainer:
		x := model.CreateTxn{Path: r.UString(), Data: r.Buffer(), ACL: zkACLs(r), Mode: model.ModeContainer}
		x.ParentCVersion = r.Int()
		txn = x
	case model.OpCreateTTL:
		x := model.CreateTxn{Path: r.UString(), Data: r.Buffer(), ACL: zkACLs(r), Mode: model.ModePersistentWithTTL}
		x.ParentCVersion = r.Int()
		x.TTL = r.Long()
		txn = x
	case model.OpDelete, model.OpDeleteContainer:
		txn = model.DeleteTxn{Path: r.UString()}
	case model.OpSetData, model.OpReconfig:
		txn = model.SetDataTxn{Path: r.UString(), Data: r.Buffer(), Version: r.Int()}
	case model.OpCheck:
		txn = model.CheckVersionTxn{Path: r.UString(), Version: r.Int()}
	case model.OpSetACL:
		txn = model.SetACLTxn{Path: r.UString(), ACL: zkACLs(r), Version: r.Int()}
	case model.OpCreateSession:
		txn = model.CreateSessionTxn{TimeoutMs: r.Int()}
	case model.OpCloseSession:
		// CloseSessionTxn (paths2Delete), written when
		// closeSessionTxnEnabled (the default since 3.6).
		txn = model.CloseSessionTxn{Paths: r.Strings()}
	case model.OpError:
		txn = model.ErrorTxn{Err: model.Err(r.Int())}
	case model.OpMulti:
		n := r.VectorLen(8)
		m := model.MultiTxn{Txns: make([]model.Txn, 0, n)}
		for range n {
			sub := model.OpCode(r.Int())
			data := r.Buffer()
			if r.Err() != nil {
				break
			}
			if sub == model.OpError && len(data) != 4 {
				// An op before the failing one of a failed multi: the
				// leader's apply rewrites its type to error in memory
				// and, racing it, the log may keep either type with the
				// op's own record. Either way it changed nothing.
				m.Txns = append(m.Txns, model.ErrorTxn{Err: model.ErrOK})
				continue
			}
			sr := jute.NewReader(data)
			st, err := decodeZooKeeperTxn(sr, sub)
			if err != nil {
				return nil, fmt.Errorf("op %d of a multi: %w", len(m.Txns), err)
			}
			if sr.Len() != 0 {
				return nil, fmt.Errorf("op %d of a multi: %d bytes after its %v txn", len(m.Txns), sr.Len(), sub)
			}
			m.Txns = append(m.Txns, st)
		}
		failedMulti(&m)
		txn = m
	default:
		return nil, fmt.Errorf("a txn of type %d, which ZooKeeper does not log", op)
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("a %v txn: %w", op, err)
	}
	return txn, nil
}

// failedMulti writes the ops of a failed multi that a log may keep with
// their own types (see above) as the error txns with which ZooKeeper
// applies them (DataTree.processTxn: OK before the failing op,
// RUNTIMEINCONSISTENCY after it), so that every rendering of one multi
// reads the same.
func failedMulti(m *model.MultiTxn) {
	failed := slices.ContainsFunc(m.Txns, func(t model.Txn) bool {
		e, ok := t.(model.ErrorTxn)
		return ok && e.Err != model.ErrOK
	})
	if !failed {
		return
	}
	after := false
	for i, t := range m.Txns {
		if e, ok := t.(model.ErrorTxn); ok {
			after = after || e.Err != model.ErrOK
			continue
		}
		if after {
			m.Txns[i] = model.ErrorTxn{Err: model.ErrRuntimeInconsistency}
		} else {
			m.Txns[i] = model.ErrorTxn{Err: model.ErrOK}
		}
	}
}

func zkACLs(r *jute.Reader) []model.ACL {
	n := r.VectorLen(12)
	if n == 0 {
		return nil
	}
	out := make([]model.ACL, n)
	for i := range out {
		out[i] = model.ACL{Perms: r.Int(), Scheme: r.UString(), ID: r.UString()}
	}
	return out
}

// TxnLogs returns, for target zookeeper, every server's txn records as its
// logs hold them after the run (ReadZooKeeperLog), for checker.CheckTxnLogs;
// ErrNotAvailable for target zoosim, whose servers report what they apply
// (Committed). Call it after the run, before Close.
func (c *Cluster) TxnLogs() (map[node.ID][]checker.Txn, error) {
	if c.opt.Target != TargetZooKeeper {
		return nil, fmt.Errorf("%w: target %s reports its commits instead (Committed)", ErrNotAvailable, c.opt.Target)
	}
	out := map[node.ID][]checker.Txn{}
	for _, id := range c.servers {
		txns, err := ReadZooKeeperLog(c.dataDir(id))
		if err != nil {
			return nil, fmt.Errorf("harness: server %d's txn log: %w", id, err)
		}
		out[id] = txns
	}
	return out, nil
}
