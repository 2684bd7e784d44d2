package nemesis

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"zoosim/node"
)

// The network side of the Runner: partition shapes resolved to directed
// links, and the Target's links kept in step with the faults in effect.

// shape resolves a partition shape to the directed links it blocks.
func (r *Runner) shape(f Fault, rnd *rand.Rand) (links []link, nodes []node.ID, desc, why string) {
	n := len(r.servers)
	leader := r.leader()
	others := func(except ...node.ID) []node.ID {
		return filterIDs(r.servers, func(id node.ID) bool { return !slices.Contains(except, id) })
	}
	// center picks the one server a shape is about: isolated, bridge, cut
	// one way.
	center := func() (node.ID, string) {
		if len(f.Nodes) > 0 {
			return f.Nodes[0], ""
		}
		ids, why := r.targets(Fault{Kind: PartitionBridge, Pick: f.pick()}, rnd, always)
		if why != "" {
			return 0, why
		}
		return ids[0], ""
	}
	switch f.Kind {
	case PartitionLeader, PartitionOne:
		x := leader
		if f.Kind == PartitionOne {
			var why string
			if x, why = center(); why != "" {
				return nil, nil, "", why
			}
		} else if x == 0 {
			return nil, nil, "", "no leader"
		}
		rest := others(x)
		what := "isolate"
		if x == leader {
			what = "isolate leader"
		}
		return splitLinks([]node.ID{x}, rest), r.servers, fmt.Sprintf("%s %d from %s", what, x, fmtIDs(rest)), ""

	case PartitionMajority, PartitionHalves:
		var side []node.ID
		switch {
		case len(f.Nodes) > 0:
			side = sortedIDs(f.Nodes)
		case f.Kind == PartitionHalves:
			side = sortedIDs(shuffled(rnd, r.servers)[:n/2])
		default:
			m := (n - 1) / 2
			switch f.pick() {
			case PickRandom:
				side = sortedIDs(shuffled(rnd, r.servers)[:m])
			case PickLeader:
				if leader == 0 {
					return nil, nil, "", "no leader"
				}
				side = sortedIDs(append([]node.ID{leader}, shuffled(rnd, others(leader))[:m-1]...))
			case PickFollower:
				side = sortedIDs(shuffled(rnd, others(leader))[:m])
			}
		}
		rest := others(side...)
		desc := fmt.Sprintf("split %s | %s", fmtIDs(side), fmtIDs(rest))
		if f.Kind == PartitionMajority {
			desc = fmt.Sprintf("split minority %s | majority %s", fmtIDs(side), fmtIDs(rest))
		}
		return splitLinks(side, rest), r.servers, desc, ""

	case PartitionBridge:
		bridge, why := center()
		if why != "" {
			return nil, nil, "", why
		}
		var a []node.ID
		if len(f.Nodes) > 0 {
			a = sortedIDs(f.Nodes[1:])
		} else {
			rest := others(bridge)
			a = sortedIDs(shuffled(rnd, rest)[:len(rest)/2])
		}
		b := others(append([]node.ID{bridge}, a...)...)
		if b[0] < a[0] { // print the sides in a canonical order
			a, b = b, a
		}
		return splitLinks(a, b), r.servers, fmt.Sprintf("bridge %d between %s and %s", bridge, fmtIDs(a), fmtIDs(b)), ""

	case PartitionRing:
		order := slices.Clone(f.Nodes)
		if len(order) == 0 {
			order = shuffled(rnd, r.servers)
		}
		for i := range order {
			for j := range order {
				d := i - j
				if d < 0 {
					d = -d
				}
				if d > 1 && d < n-1 { // not neighbours on the ring
					links = append(links, link{order[i], order[j]})
				}
			}
		}
		parts := make([]string, n)
		for i, id := range order {
			parts[i] = fmt.Sprint(id)
		}
		return links, r.servers, "ring " + strings.Join(parts, "-") + "-" + parts[0] + ", each server talking only to its two neighbours", ""

	case PartitionOneWay:
		x, why := center()
		if why != "" {
			return nil, nil, "", why
		}
		rest := others(x)
		if f.Direction == DirIn {
			for _, y := range rest {
				links = append(links, link{y, x})
			}
			return links, r.servers, fmt.Sprintf("one-way: %d hears none of %s, which hear it", x, fmtIDs(rest)), ""
		}
		for _, y := range rest {
			links = append(links, link{x, y})
		}
		return links, r.servers, fmt.Sprintf("one-way: none of %s hears %d, which hears them", fmtIDs(rest), x), ""
	}
	panic(fmt.Sprintf("nemesis: invariant violated: %s is not a partition shape", f.Kind))
}

// splitLinks returns every link between a and b, both directions.
func splitLinks(a, b []node.ID) []link {
	var links []link
	for _, x := range a {
		for _, y := range b {
			links = append(links, link{x, y}, link{y, x})
		}
	}
	return links
}

// syncBlocks makes the Target's blocked links match the network faults in
// effect, changing only what differs, in link order.
func (r *Runner) syncBlocks() {
	want := map[link]bool{}
	var faults []netFault
	if r.partition != nil {
		faults = append(faults, *r.partition)
	}
	faults = append(faults, r.cuts...)
	for _, f := range faults {
		for _, l := range f.links {
			want[l] = true
		}
	}
	var changed []link
	for l := range want {
		if !r.blocked[l] {
			changed = append(changed, l)
		}
	}
	for l := range r.blocked {
		if !want[l] {
			changed = append(changed, l)
		}
	}
	slices.SortFunc(changed, cmpLink) // map order must not reach the Target
	for _, l := range changed {
		if want[l] {
			r.t.Block(l.from, l.to)
		} else {
			r.t.Unblock(l.from, l.to)
		}
	}
	r.blocked = want
}

// syncQuality makes the Target's link qualities match the link faults in
// effect, changing only what differs, in link order.
func (r *Runner) syncQuality() {
	want := map[link]LinkQuality{}
	for _, f := range r.links {
		for _, l := range f.links {
			want[l] = worst(want[l], f.q)
		}
	}
	var changed []link
	for l, q := range want {
		if r.quality[l] != q {
			changed = append(changed, l)
		}
	}
	for l := range r.quality {
		if _, ok := want[l]; !ok {
			changed = append(changed, l)
		}
	}
	slices.SortFunc(changed, cmpLink)
	for _, l := range changed {
		r.t.SetLinkQuality(l.from, l.to, want[l])
	}
	r.quality = want
}
