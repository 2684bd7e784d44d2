// Package quorum decides who decides: the quorum verifiers of an ensemble
// (ZooKeeper's QuorumVerifier) and the Engine interface that a replication
// protocol (Zab, etcd raft) implements for the server.
//
// A verifier is pure data. It answers two questions about a set of servers:
// may they elect a leader (an election quorum), and may they commit a write
// (a commit quorum)? For ZooKeeper's majority and hierarchical verifiers the
// two are the same. Flexible quorums separate them, and a fixed-size quorum
// lets an experiment run an unsafe configuration (2 of 5) on purpose. Safe
// says whether every election quorum meets every commit quorum, so that an
// unsafe configuration can be labelled instead of refused.
//
// This package never runs anything; it must stay free of I/O and of any
// knowledge of a driver.
package quorum

import (
	"fmt"
	"math/bits"
	"strings"

	"zoosim/node"
)

// MaxServers is the largest server ID a Set can hold.
const MaxServers = 63

// Set is a set of server IDs (1..MaxServers) as a bit mask: cheap to copy,
// compare and count on the hot path of every ack.
type Set uint64

// SetOf returns the set of the given IDs. It panics on an ID outside
// 1..MaxServers, which is a configuration error caught at start-up.
func SetOf(ids ...node.ID) Set {
	var s Set
	for _, id := range ids {
		s = s.Add(id)
	}
	return s
}

// Range returns {1, ..., n}.
func Range(n int) Set {
	if n < 0 || n > MaxServers {
		panic(fmt.Sprintf("quorum: ensemble size %d outside 0..%d", n, MaxServers))
	}
	return Set((uint64(1)<<n - 1) << 1)
}

func bit(id node.ID) Set {
	if id < 1 || id > MaxServers {
		panic(fmt.Sprintf("quorum: server id %d outside 1..%d", id, MaxServers))
	}
	return Set(1) << uint(id)
}

// Add returns s with id in it.
func (s Set) Add(id node.ID) Set { return s | bit(id) }

// Remove returns s without id.
func (s Set) Remove(id node.ID) Set { return s &^ bit(id) }

// Has reports whether id is in s.
func (s Set) Has(id node.ID) bool { return id >= 1 && id <= MaxServers && s&bit(id) != 0 }

// Len is the number of IDs in s.
func (s Set) Len() int { return bits.OnesCount64(uint64(s)) }

// IDs returns the members of s in increasing order.
func (s Set) IDs() []node.ID {
	out := make([]node.ID, 0, s.Len())
	for v := uint64(s); v != 0; v &= v - 1 {
		out = append(out, node.ID(bits.TrailingZeros64(v)))
	}
	return out
}

// String renders s as {1,2,3}.
func (s Set) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, id := range s.IDs() {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d", id)
	}
	b.WriteByte('}')
	return b.String()
}

// Verifier is ZooKeeper's QuorumVerifier, split in two for flexible quorums.
// Implementations are monotone: a superset of a quorum is a quorum.
type Verifier interface {
	// Voters is the set of servers that take part in quorums.
	Voters() Set
	// IsElectionQuorum reports whether s may elect a leader (Zab's discovery
	// and the votes of leader election).
	IsElectionQuorum(s Set) bool
	// IsCommitQuorum reports whether acks from s commit a proposal (and
	// establish a new leader's epoch).
	IsCommitQuorum(s Set) bool
	// Safe reports whether every election quorum intersects every commit
	// quorum, worked out from the verifier's own parameters.
	Safe() bool
	// String names the verifier as the command line spells it.
	String() string
}

// Majority is ZooKeeper's QuorumMaj: more than half of the voters.
type Majority struct {
	voters Set
}

var _ Verifier = Majority{}

// NewMajority returns the majority verifier over servers 1..n.
func NewMajority(n int) Majority { return Majority{voters: Range(n)} }

// NewMajorityOf returns the majority verifier over the given voters.
func NewMajorityOf(voters Set) Majority { return Majority{voters: voters} }

func (m Majority) Voters() Set { return m.voters }

func (m Majority) IsElectionQuorum(s Set) bool { return m.IsCommitQuorum(s) }

func (m Majority) IsCommitQuorum(s Set) bool { return 2*(s&m.voters).Len() > m.voters.Len() }

func (m Majority) Safe() bool { return true }

func (m Majority) String() string { return "majority" }

// Fixed is a quorum of any K voters, whatever the ensemble size. K at or
// below half the ensemble is unsafe: two disjoint sets of K servers can both
// decide. Experiments run it on purpose to show what breaks.
type Fixed struct {
	voters Set
	k      int
}

var _ Verifier = Fixed{}

// NewFixed returns a verifier that accepts any k of servers 1..n.
func NewFixed(n, k int) (Fixed, error) {
	if k < 1 || k > n {
		return Fixed{}, fmt.Errorf("quorum: fixed quorum size %d must be between 1 and the ensemble size %d", k, n)
	}
	return Fixed{voters: Range(n), k: k}, nil
}

func (f Fixed) Voters() Set { return f.voters }

// K is the quorum size.
func (f Fixed) K() int { return f.k }

func (f Fixed) IsElectionQuorum(s Set) bool { return f.IsCommitQuorum(s) }

func (f Fixed) IsCommitQuorum(s Set) bool { return (s & f.voters).Len() >= f.k }

func (f Fixed) Safe() bool { return 2*f.k > f.voters.Len() }

func (f Fixed) String() string { return fmt.Sprintf("%d", f.k) }

// Flexible separates the election quorum size from the commit quorum size
// (Flexible Paxos). It is safe when every election quorum meets every
// commit quorum, that is when the two sizes add up to more than the
// ensemble. Two election quorums need not meet, nor two commit quorums.
type Flexible struct {
	voters           Set
	election, commit int
}

var _ Verifier = Flexible{}

// NewFlexible returns a flexible verifier over servers 1..n.
func NewFlexible(n, election, commit int) (Flexible, error) {
	if election < 1 || election > n || commit < 1 || commit > n {
		return Flexible{}, fmt.Errorf("quorum: flexible quorum sizes election=%d commit=%d must be between 1 and the ensemble size %d", election, commit, n)
	}
	return Flexible{voters: Range(n), election: election, commit: commit}, nil
}

func (f Flexible) Voters() Set { return f.voters }

func (f Flexible) IsElectionQuorum(s Set) bool { return (s & f.voters).Len() >= f.election }

func (f Flexible) IsCommitQuorum(s Set) bool { return (s & f.voters).Len() >= f.commit }

func (f Flexible) Safe() bool { return f.election+f.commit > f.voters.Len() }

func (f Flexible) String() string { return fmt.Sprintf("flex:%d:%d", f.election, f.commit) }

// Group is one group of a hierarchical verifier.
type Group struct {
	Members []node.ID
	// Weights holds one weight per member; nil means weight 1 each.
	Weights []int
}

// Hierarchical is ZooKeeper's QuorumHierarchical: servers are split into
// disjoint groups and each has a weight; a set is a quorum when it holds
// more than half of the weight of more than half of the groups whose weight
// is not zero. A single group gives a plain weighted quorum.
type Hierarchical struct {
	voters   Set
	groups   []Set
	weight   [MaxServers + 1]int
	total    []int // per group
	nonZero  int   // groups with a positive total weight
	spelling string
}

var _ Verifier = (*Hierarchical)(nil)

// NewHierarchical validates the groups and returns the verifier.
func NewHierarchical(groups []Group) (*Hierarchical, error) {
	h := &Hierarchical{}
	if len(groups) == 0 {
		return nil, fmt.Errorf("quorum: a hierarchical quorum needs at least one group")
	}
	var parts []string
	for gi, g := range groups {
		if len(g.Members) == 0 {
			return nil, fmt.Errorf("quorum: group %d is empty", gi+1)
		}
		if g.Weights != nil && len(g.Weights) != len(g.Members) {
			return nil, fmt.Errorf("quorum: group %d has %d members but %d weights", gi+1, len(g.Members), len(g.Weights))
		}
		var set Set
		total := 0
		var sp []string
		for i, id := range g.Members {
			if id < 1 || id > MaxServers {
				return nil, fmt.Errorf("quorum: server id %d outside 1..%d", id, MaxServers)
			}
			if h.voters.Has(id) {
				return nil, fmt.Errorf("quorum: server %d is in more than one group", id)
			}
			w := 1
			if g.Weights != nil {
				w = g.Weights[i]
			}
			if w < 0 {
				return nil, fmt.Errorf("quorum: server %d has negative weight %d", id, w)
			}
			h.voters = h.voters.Add(id)
			set = set.Add(id)
			h.weight[id] = w
			total += w
			sp = append(sp, fmt.Sprintf("%d=%d", id, w))
		}
		h.groups = append(h.groups, set)
		h.total = append(h.total, total)
		if total > 0 {
			h.nonZero++
		}
		parts = append(parts, strings.Join(sp, ","))
	}
	if h.nonZero == 0 {
		return nil, fmt.Errorf("quorum: every group has zero weight: no set can be a quorum")
	}
	h.spelling = "hier:" + strings.Join(parts, "|")
	return h, nil
}

func (h *Hierarchical) Voters() Set { return h.voters }

func (h *Hierarchical) IsElectionQuorum(s Set) bool { return h.IsCommitQuorum(s) }

func (h *Hierarchical) IsCommitQuorum(s Set) bool {
	won := 0
	for gi, g := range h.groups {
		if h.total[gi] == 0 {
			continue
		}
		w := 0
		for v := uint64(s & g); v != 0; v &= v - 1 {
			w += h.weight[bits.TrailingZeros64(v)]
		}
		if 2*w > h.total[gi] {
			won++
		}
	}
	return 2*won > h.nonZero
}

// Safe is always true: two majorities of the weighted groups share a group,
// and two weight majorities of one group share a server of positive weight.
func (h *Hierarchical) Safe() bool { return true }

func (h *Hierarchical) String() string { return h.spelling }

// Weight returns a server's weight (0 for a server outside every group).
func (h *Hierarchical) Weight(id node.ID) int {
	if !h.voters.Has(id) {
		return 0
	}
	return h.weight[id]
}

// SafeByEnumeration decides safety by brute force: it looks for an election
// quorum whose complement holds a commit quorum. It costs 2^len(voters)
// checks, so it refuses ensembles above 20 servers. Tests compare it with
// each verifier's Safe; experiments may call it for an exotic verifier.
func SafeByEnumeration(v Verifier) (safe bool, electionWitness, commitWitness Set, err error) {
	ids := v.Voters().IDs()
	if len(ids) > 20 {
		return false, 0, 0, fmt.Errorf("quorum: %d voters are too many to enumerate (at most 20)", len(ids))
	}
	n := len(ids)
	for mask := 0; mask < 1<<n; mask++ {
		var s Set
		for i := 0; i < n; i++ {
			if mask&(1<<i) != 0 {
				s = s.Add(ids[i])
			}
		}
		rest := v.Voters() &^ s
		if v.IsElectionQuorum(s) && v.IsCommitQuorum(rest) {
			return false, s, rest, nil
		}
	}
	return true, 0, 0, nil
}

// Parse reads a quorum as the command line spells it, for an ensemble of n
// servers: "majority", a size "2", "flex:E:C", or "hier:1=1,2=1,3=1|4=1,5=1"
// (groups separated by '|', members id=weight).
func Parse(spec string, n int) (Verifier, error) {
	switch {
	case spec == "majority" || spec == "":
		if n < 1 || n > MaxServers {
			return nil, fmt.Errorf("quorum: ensemble size %d outside 1..%d", n, MaxServers)
		}
		return NewMajority(n), nil
	case strings.HasPrefix(spec, "flex:"):
		var e, c int
		if _, err := fmt.Sscanf(spec, "flex:%d:%d", &e, &c); err != nil || fmt.Sprintf("flex:%d:%d", e, c) != spec {
			return nil, fmt.Errorf("quorum: %q is not flex:ELECTION:COMMIT", spec)
		}
		return NewFlexible(n, e, c)
	case strings.HasPrefix(spec, "hier:"):
		var groups []Group
		for _, gs := range strings.Split(strings.TrimPrefix(spec, "hier:"), "|") {
			var g Group
			for _, m := range strings.Split(gs, ",") {
				var id, w int
				if _, err := fmt.Sscanf(m, "%d=%d", &id, &w); err != nil || fmt.Sprintf("%d=%d", id, w) != m {
					return nil, fmt.Errorf("quorum: %q in %q is not ID=WEIGHT", m, spec)
				}
				g.Members = append(g.Members, node.ID(id))
				g.Weights = append(g.Weights, w)
			}
			groups = append(groups, g)
		}
		h, err := NewHierarchical(groups)
		if err != nil {
			return nil, err
		}
		if want := Range(n); h.Voters() != want {
			return nil, fmt.Errorf("quorum: %q covers servers %v, the ensemble is %v", spec, h.Voters(), want)
		}
		return h, nil
	default:
		var k int
		if _, err := fmt.Sscanf(spec, "%d", &k); err != nil || fmt.Sprintf("%d", k) != spec {
			return nil, fmt.Errorf("quorum: %q is not majority, a size, flex:E:C or hier:...", spec)
		}
		return NewFixed(n, k)
	}
}
