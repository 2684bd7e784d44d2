package report

import (
	"fmt"
	"strconv"
	"strings"

	"zoosim/checker"
	"zoosim/model"
	"zoosim/node"
)

// OpText prints an op on one line: id, client, session, kind, path,
// arguments, result, zxid, call and return time in virtual milliseconds,
// and the server that answered.
//
//	#42 c103 s0x2a5 setData /g1/k2 data="x" v=3 -> ok v=4 zxid=0x100000007 call=1234.567ms ret=1240.001ms srv=2
func OpText(op *checker.Op) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d c%d s%#x %s", op.ID, op.Client, op.Session, op.Kind)
	if op.Kind == checker.OpMulti {
		parts := make([]string, len(op.Multi))
		for i, s := range op.Multi {
			parts[i] = s.Kind.String() + " " + s.Path
		}
		fmt.Fprintf(&b, " [%s]", strings.Join(parts, "; "))
	} else if op.Path != "" {
		b.WriteString(" " + op.Path)
	}
	switch op.Kind {
	case checker.OpCreate:
		fmt.Fprintf(&b, " %s data=%q", op.Mode, clip(op.Data))
	case checker.OpSetData:
		fmt.Fprintf(&b, " data=%q v=%d", clip(op.Data), op.Version)
	case checker.OpDelete, checker.OpCheck:
		fmt.Fprintf(&b, " v=%d", op.Version)
	}
	if op.Watch {
		b.WriteString(" watch")
	}
	if op.Unknown || op.Return >= checker.Infinity {
		fmt.Fprintf(&b, " -> unknown call=%s ret=?", Millis(op.Call))
		return b.String()
	}
	fmt.Fprintf(&b, " -> %s", ErrText(op.Err))
	if op.Err == model.ErrOK {
		switch op.Kind {
		case checker.OpCreate:
			b.WriteString(" " + op.CreatedPath)
		case checker.OpGetData:
			fmt.Fprintf(&b, " data=%q v=%d", clip(op.ResultData), op.Stat.Version)
		case checker.OpSetData, checker.OpExists:
			fmt.Fprintf(&b, " v=%d", op.Stat.Version)
		case checker.OpGetChildren:
			fmt.Fprintf(&b, " children=%d", len(op.Children))
		}
	}
	fmt.Fprintf(&b, " zxid=%s call=%s ret=%s", op.Zxid, Millis(op.Call), Millis(op.Return))
	if op.Server != 0 {
		fmt.Fprintf(&b, " srv=%d", op.Server)
	}
	return b.String()
}

// ErrText is a ZooKeeper error code without its prefix ("ok" for none).
func ErrText(e model.Err) string {
	if e == model.ErrOK {
		return "ok"
	}
	return strings.TrimPrefix(e.Error(), "KeeperErrorCode = ")
}

func clip(b []byte) string {
	if len(b) > 16 {
		return string(b[:16]) + "..."
	}
	return string(b)
}

// Millis prints virtual time in milliseconds with microsecond precision.
func Millis(t node.Time) string {
	return strconv.FormatFloat(float64(t)/float64(node.Millisecond), 'f', 3, 64) + "ms"
}
